"""S3 (and every service's answer): request headers read once, and a cheaper request id. A speed-up of the
local cloud (localcloud/speedups.py, docs/notes/s3-put-path.md); with the switch off, moto's own code runs.

- `metadata_from_headers` (twice per PutObject: the headers, then the querystring, which for a PUT is the
  headers again): moto walks every header, rebuilding each name (werkzeug's title-casing, moto's preserved
  spelling of underscored x-amz-meta-* names) and matching a regex it compiles per call. Here the WSGI environ
  is walked once and only the headers that can be metadata (x-amz-meta-*, moto's user-settable fields) get
  their name built, by the same expressions, and then the same rules: same keys (same case), same values,
  same order (measured in-process on a PutObject's 15 headers: 53 -> 31 us). The querystring (a dict)
  keeps moto's walk, which is as fast there.
- `S3Response._acl_from_headers`: with no x-amz-grant-* header (the usual case) the answer is the canned ACL
  of x-amz-acl, or None, without building every header's name (36 -> 11 us); with grants, moto's own
  function runs (its errors included).
- `gen_amzn_requestid_long` (every answer of every service): the same 52 characters from the same alphabet
  (ASCII letters and digits), drawn with one `choices` call of moto's seeded random instead of 52 `choice`
  (27 -> 13 us).
"""

from __future__ import annotations

import re
import string
from typing import Any

import moto.core.responses as core_responses
import moto.s3.responses as s3_responses
import moto.s3.utils as s3_utils
import moto.utilities.aws_headers as aws_headers
from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY, environ_key_for_header
from moto.core.request import EnvironHeaders as MotoEnvironHeaders
from moto.moto_api._internal import mock_random

from localcloud import speedups

original_metadata_from_headers = s3_utils.metadata_from_headers
original_acl_from_headers = s3_responses.S3Response._acl_from_headers
original_gen_amzn_requestid_long = aws_headers.gen_amzn_requestid_long

_META = re.compile(r"^x-amz-meta-([a-zA-Z0-9\-_.]+)$", flags=re.IGNORECASE)  # moto's, compiled once
_NOT_HEADERS = {"HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"}  # werkzeug's EnvironHeaders skips these
_CONTENT = {"CONTENT_TYPE", "CONTENT_LENGTH"}
_REQUEST_ID_ALPHABET = string.ascii_letters + string.digits  # moto's get_random_string pool
_REQUEST_ID_LENGTH = 52


def _metadata_names(headers: MotoEnvironHeaders) -> list[str]:
    """The names moto's EnvironHeaders would report, in its order, of the headers that can be metadata."""
    environ = headers.environ
    preserved: dict[str, str] = environ.get(PRESERVED_HEADER_NAMES_ENVIRON_KEY) or {}
    names = []
    for key, value in environ.items():
        if key.startswith("HTTP_") and key not in _NOT_HEADERS:
            plain = key[5:].replace("_", "-")
        elif key in _CONTENT and value:
            plain = key.replace("_", "-")
        else:
            continue
        lowered = plain.lower()
        if lowered.startswith("x-amz-meta-") or lowered in s3_utils.user_settable_fields:
            name = plain.title()  # werkzeug's EnvironHeaders.__iter__, then moto's preserved spelling
            names.append(preserved.get(environ_key_for_header(name), name))
    return names


def _metadata(pairs: Any) -> Any:
    metadata = s3_utils.CaseInsensitiveDict()
    for header, value in pairs:
        if not isinstance(header, str):
            continue
        result = _META.match(header)
        if result:
            meta_key = result.group(0).lower()
        elif header.lower() in s3_utils.user_settable_fields:
            meta_key = header
        else:
            continue
        metadata[meta_key] = value[0] if isinstance(value, list) else value
    return metadata


def metadata_from_headers(headers: Any) -> Any:
    if not speedups.enabled():  # read per call: the switch flips at run time
        return original_metadata_from_headers(headers)
    if type(headers) is MotoEnvironHeaders:
        return _metadata((name, headers[name]) for name in _metadata_names(headers))
    # The querystring (a dict of lists), MultiDicts, Headers: moto's own walk, which is no slower there.
    return original_metadata_from_headers(headers)


def _has_grants(headers: MotoEnvironHeaders) -> bool:
    return any(key[:17].upper() == "HTTP_X_AMZ_GRANT_" for key in headers.environ)


def acl_from_headers(self: Any, headers: Any) -> Any:
    if not speedups.enabled() or type(headers) is not MotoEnvironHeaders or _has_grants(headers):
        return original_acl_from_headers(self, headers)
    canned_acl = headers.get("x-amz-acl", "")
    return s3_responses.get_canned_acl(canned_acl) if canned_acl else None


def gen_amzn_requestid_long(headerdict: dict[str, Any] | None = None) -> str:
    if not speedups.enabled():
        return original_gen_amzn_requestid_long(headerdict)
    req_id = "".join(mock_random.choices(_REQUEST_ID_ALPHABET, k=_REQUEST_ID_LENGTH))
    if headerdict is not None and isinstance(headerdict, dict):
        headerdict.update({"x-amzn-requestid": req_id})
    return req_id


def apply() -> None:
    s3_utils.metadata_from_headers = metadata_from_headers
    s3_responses.metadata_from_headers = metadata_from_headers
    s3_responses.S3Response._acl_from_headers = acl_from_headers
    aws_headers.gen_amzn_requestid_long = gen_amzn_requestid_long
    core_responses.gen_amzn_requestid_long = gen_amzn_requestid_long
