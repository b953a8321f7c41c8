"""AWS Signature Version 4, checked as AWS checks it: a request is its access key's only if it was signed
with that key's secret, so an access key id alone (it travels in clear in every request and log) gets in
nowhere.

verify(environ, body_or_none, secret_for) -> Refusal | None     None = valid; else why not (a str)

Both forms SDKs send: the Authorization header (`AWS4-HMAC-SHA256 Credential=<key>/<date>/<region>/
<service>/aws4_request, SignedHeaders=..., Signature=...`) and the presigned query (X-Amz-Algorithm,
X-Amz-Credential, X-Amz-Date, X-Amz-Expires, X-Amz-SignedHeaders, X-Amz-Signature). The canonical request is
rebuilt from the WSGI environ exactly as the clients build it (botocore's SigV4Auth / S3SigV4Auth /
S3SigV4QueryAuth and the Go SDK v2 that Terraform's provider uses):

- the path as sent (werkzeug's RAW_URI), as is for S3, normalised (dot segments, empty segments) and
  URI-encoded once more for every other service (both SDKs double-encode those paths);
- the query's names and values decoded (a `+` is a space: Go's url.Values encodes one so) and re-encoded
  (RFC 3986 unreserved characters only), sorted, without X-Amz-Signature;
- exactly the SignedHeaders, values trimmed with inner whitespace collapsed (`host` is the Host as sent);
- the payload hash: the x-amz-content-sha256 header when present (S3 always sends it), UNSIGNED-PAYLOAD for
  a presigned S3 URL, else the SHA-256 of the body. A declared hash must be the body's (S3's
  XAmzContentSHA256Mismatch); STREAMING-* payloads (aws-chunked uploads) are checked by their seed signature
  only, not chunk by chunk.

The date must be within 15 minutes of this machine's clock (a presigned URL: before its expiry); the
credential scope's date must be the request's.
"""

from __future__ import annotations

import calendar
import email.utils
import hashlib
import hmac
import re
import time
import urllib.parse
from collections.abc import Callable, Mapping
from typing import Any

from localcloud.server import read_body  # the app gets a fresh wsgi.input with the same bytes

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_PREFIX = "STREAMING-"  # STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER), STREAMING-UNSIGNED-...
MAX_SKEW_SECONDS = 15 * 60  # what AWS tolerates between the request's date and its own clock
MAX_EXPIRES_SECONDS = 7 * 24 * 3600  # the longest a presigned URL may live
TIMESTAMP = "%Y%m%dT%H%M%SZ"

# Kinds of refusal: each is answered with its own AWS error (localcloud/iam/errors.py).
MISMATCH = "mismatch"  # the signature (or the Authorization itself) is wrong
PAYLOAD = "payload"  # the body is not what x-amz-content-sha256 declares
SKEWED = "skewed"  # the request's date is too far from now
EXPIRED = "expired"  # a presigned URL past its expiry

_PRESIGNED_FIELDS = (
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
)
_HEX_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_AUTH_FIELD = re.compile(r"(Credential|SignedHeaders|Signature)=([^,\s]*)")


class Refusal(str):
    """Why a request's signature is refused (the text, for the log: never a secret), with its kind, and
    what AWS tells the caller: `message` (skew), `canonical_request` / `string_to_sign` (S3 sends them back
    so a client can see what differs), `access_key_id`."""

    kind: str
    message: str | None
    access_key_id: str | None
    canonical_request: str | None
    string_to_sign: str | None

    def __new__(
        cls,
        text: str,
        kind: str = MISMATCH,
        *,
        message: str | None = None,
        access_key_id: str | None = None,
        canonical_request: str | None = None,
        string_to_sign: str | None = None,
    ) -> Refusal:
        refusal = super().__new__(cls, text)
        refusal.kind = kind
        refusal.message = message
        refusal.access_key_id = access_key_id
        refusal.canonical_request = canonical_request
        refusal.string_to_sign = string_to_sign
        return refusal


class _Claim:
    """What a request says about its signature (header or presigned query)."""

    def __init__(self, key, date, region, service, signed_headers, signature, timestamp, expires, presigned):
        self.key: str = key
        self.date: str = date
        self.region: str = region
        self.service: str = service
        self.signed_headers: list[str] = signed_headers
        self.signature: str = signature
        self.timestamp: str = timestamp
        self.expires: str | None = expires
        self.presigned: bool = presigned

    @property
    def scope(self) -> str:
        return f"{self.date}/{self.region}/{self.service}/aws4_request"


# ---- what the request claims -----------------------------------------------------------------------------


def _query_params(environ: Mapping[str, Any]) -> dict[str, str]:
    return dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING") or "", keep_blank_values=True))


def _credential(value: str) -> tuple[str, str, str, str] | Refusal:
    parts = value.split("/")
    if len(parts) != 5 or parts[4] != "aws4_request" or not all(parts):
        return Refusal(f"malformed credential {value!r} (<key>/<date>/<region>/<service>/aws4_request)")
    return parts[0], parts[1], parts[2], parts[3]


def _header_timestamp(environ: Mapping[str, Any]) -> str | None:
    """X-Amz-Date, else the Date header in SigV4's form (botocore signs with Date when a request has one)."""
    amz_date = (environ.get("HTTP_X_AMZ_DATE") or "").strip()
    if amz_date:
        return amz_date
    date = environ.get("HTTP_DATE")
    if not date:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError):
        return None
    return time.strftime(TIMESTAMP, time.gmtime(parsed.timestamp()))


def claim(environ: Mapping[str, Any]) -> _Claim | Refusal:
    """The signature a request claims, from its Authorization header or else its presigned query."""
    header = (environ.get("HTTP_AUTHORIZATION") or "").strip()
    if header:
        algorithm = header.split(" ", 1)[0]
        if algorithm != ALGORITHM:
            return Refusal(f"unsupported signature {algorithm!r}: only {ALGORITHM} is accepted")
        fields = dict(_AUTH_FIELD.findall(header))
        missing = [name for name in ("Credential", "SignedHeaders", "Signature") if not fields.get(name)]
        if missing:
            return Refusal(f"the Authorization header lacks {', '.join(missing)}")
        credential = _credential(fields["Credential"])
        if isinstance(credential, Refusal):
            return credential
        timestamp = _header_timestamp(environ)
        if timestamp is None:
            return Refusal("the request has neither X-Amz-Date nor Date")
        return _Claim(
            *credential,
            fields["SignedHeaders"].split(";"),
            fields["Signature"],
            timestamp,
            expires=None,
            presigned=False,
        )
    params = _query_params(environ)
    if "AWSAccessKeyId" in params and "X-Amz-Credential" not in params:
        return Refusal(
            "Signature Version 2 (AWSAccessKeyId, Signature, Expires) is not accepted: sign with SigV4 "
            "(boto3 presigns S3 URLs with it when its Config has signature_version='s3v4')"
        )
    if "X-Amz-Credential" not in params and "X-Amz-Signature" not in params:
        return Refusal(f"the request is not signed with {ALGORITHM} (no Authorization, no X-Amz-Signature)")
    if params.get("X-Amz-Algorithm") != ALGORITHM:
        return Refusal(f"X-Amz-Algorithm must be {ALGORITHM}, not {params.get('X-Amz-Algorithm')!r}")
    missing = [name for name in _PRESIGNED_FIELDS if not params.get(name)]
    if missing:
        return Refusal(f"the presigned query lacks {', '.join(missing)}")
    credential = _credential(params["X-Amz-Credential"])
    if isinstance(credential, Refusal):
        return credential
    return _Claim(
        *credential,
        params["X-Amz-SignedHeaders"].split(";"),
        params["X-Amz-Signature"],
        params["X-Amz-Date"],
        expires=params["X-Amz-Expires"],
        presigned=True,
    )


# ---- the canonical request -------------------------------------------------------------------------------


def _wire(text: str) -> str:
    """A WSGI string (latin-1 decoded bytes) as the text the client wrote (UTF-8)."""
    return text.encode("latin-1", "replace").decode("utf-8", "surrogateescape")


def raw_path(environ: Mapping[str, Any]) -> str:
    """The path as the client sent it, still percent-encoded (werkzeug keeps it in RAW_URI/REQUEST_URI)."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw is None:  # a server without them: encode the decoded path as SDKs do
        return urllib.parse.quote(_wire(environ.get("PATH_INFO") or "/"), safe="/~") or "/"
    raw = _wire(raw)
    if raw.startswith(("http://", "https://")):  # absolute-form request target
        raw = urllib.parse.urlsplit(raw).path
    return raw.split("?", 1)[0] or "/"


def _remove_dot_segments(path: str) -> str:
    """RFC 3986 5.2.4, and empty segments dropped, as botocore's normalize_url_path (AWS requires both)."""
    if not path:
        return "/"
    kept: list[str] = []
    for segment in path.split("/"):
        if segment == "..":
            if kept:
                kept.pop()
        elif segment and segment != ".":
            kept.append(segment)
    first = "/" if path.startswith("/") else ""
    last = "/" if path.endswith("/") and kept else ""
    return first + "/".join(kept) + last


def canonical_uri(path: str, service: str) -> str:
    """S3 signs the path as sent; every other service its normalised path URI-encoded once more."""
    if service == "s3":
        return path or "/"
    return urllib.parse.quote(_remove_dot_segments(path), safe="/~")


def _uri_encode(text: str) -> str:
    decoded = urllib.parse.unquote_to_bytes(text.replace("+", " "))
    return urllib.parse.quote(decoded, safe="-_.~")


def canonical_query(query: str, presigned: bool) -> str:
    """Each name and value decoded and URI-encoded (RFC 3986 unreserved characters kept), sorted by name
    then value; a presigned URL's X-Amz-Signature is not part of what it signs."""
    pairs = []
    for part in query.split("&"):
        if not part:
            continue
        name, _, value = part.partition("=")
        name, value = _uri_encode(name), _uri_encode(value)
        if presigned and name == "X-Amz-Signature":
            continue
        pairs.append((name, value))
    return "&".join(f"{name}={value}" for name, value in sorted(pairs))


def _environ_key(header: str) -> str:
    key = header.upper().replace("-", "_")
    return key if key in ("CONTENT_TYPE", "CONTENT_LENGTH") else f"HTTP_{key}"


def canonical_headers(environ: Mapping[str, Any], names: list[str]) -> str | Refusal:
    """`name:value` of each signed header in the signed order (a signed header the request lacks: refused)."""
    lines = []
    for name in names:
        value = environ.get(_environ_key(name))
        if value is None:
            return Refusal(f"signed header {name!r} is not in the request")
        lines.append(f"{name}:{' '.join(_wire(str(value)).split())}")
    return "\n".join(lines) + "\n"


def payload_hash(environ: dict[str, Any], body: bytes | None, claimed: _Claim) -> tuple[str, Refusal | None]:
    """(the payload hash the signature covers, a refusal when the body is not what the request declares)."""
    declared = (environ.get("HTTP_X_AMZ_CONTENT_SHA256") or "").strip()
    if declared.startswith(STREAMING_PREFIX) or declared == UNSIGNED_PAYLOAD:
        return declared, None  # chunk signatures (aws-chunked) are not checked: the seed signature is
    if not declared and claimed.presigned and claimed.service == "s3":
        return UNSIGNED_PAYLOAD, None
    actual = hashlib.sha256(body if body is not None else read_body(environ)).hexdigest()
    if not declared:
        return actual, None
    if not _HEX_SHA256.match(declared) or not hmac.compare_digest(declared, actual):
        return declared, Refusal(
            f"x-amz-content-sha256 {declared!r} is not the body's SHA-256 {actual}", PAYLOAD
        )
    return declared, None


def canonical_request(
    method: str, uri: str, query: str, headers: str, signed_headers: list[str], payload: str
) -> str:
    return "\n".join([method, uri, query, headers, ";".join(signed_headers), payload])


def string_to_sign(timestamp: str, scope: str, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8", "surrogateescape")).hexdigest()
    return "\n".join([ALGORITHM, timestamp, scope, digest])


def signing_key(secret: str, date: str, region: str, service: str) -> bytes:
    key = f"AWS4{secret}".encode()
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    return key


def sign(secret: str, claimed: _Claim, to_sign: str) -> str:
    key = signing_key(secret, claimed.date, claimed.region, claimed.service)
    return hmac.new(key, to_sign.encode("utf-8", "surrogateescape"), hashlib.sha256).hexdigest()


# ---- time ------------------------------------------------------------------------------------------------


def _epoch(timestamp: str) -> float | None:
    try:
        return calendar.timegm(time.strptime(timestamp, TIMESTAMP))
    except ValueError:
        return None


def _time_refusal(claimed: _Claim, now: float) -> Refusal | None:
    signed_at = _epoch(claimed.timestamp)
    if signed_at is None:
        return Refusal(f"the request's date {claimed.timestamp!r} is not YYYYMMDD'T'HHMMSS'Z'")
    if claimed.timestamp[:8] != claimed.date:
        return Refusal(
            f"the credential's date {claimed.date} is not the request's date {claimed.timestamp[:8]}"
        )
    stamp = time.strftime(TIMESTAMP, time.gmtime(now))
    if claimed.presigned:
        expires = claimed.expires or ""
        if not expires.isdigit() or not 1 <= int(expires) <= MAX_EXPIRES_SECONDS:
            return Refusal(f"X-Amz-Expires {expires!r} is not 1..{MAX_EXPIRES_SECONDS} seconds")
        if now > signed_at + int(expires):
            return Refusal(
                f"the presigned URL expired: signed {claimed.timestamp}, {expires} s, now {stamp}", EXPIRED
            )
        if signed_at - now > MAX_SKEW_SECONDS:
            return Refusal(f"the presigned URL is not valid yet: {claimed.timestamp}, now {stamp}", SKEWED)
        return None
    if abs(now - signed_at) > MAX_SKEW_SECONDS:
        earliest = time.strftime(TIMESTAMP, time.gmtime(now - MAX_SKEW_SECONDS))
        latest = time.strftime(TIMESTAMP, time.gmtime(now + MAX_SKEW_SECONDS))
        if signed_at < now:  # AWS's wording
            message = f"Signature expired: {claimed.timestamp} is now earlier than {earliest}"
            message += f" ({stamp} - 15 min.)"
        else:
            message = f"Signature not yet current: {claimed.timestamp} is still later than {latest}"
            message += f" ({stamp} + 15 min.)"
        return Refusal(f"the date is more than 15 minutes from now: {message}", SKEWED, message=message)
    return None


# ---- the check -------------------------------------------------------------------------------------------


def verify(
    environ: dict[str, Any],
    body_or_none: bytes | None,
    secret_for: Callable[[str], str | None],
    *,
    now: float | None = None,
) -> Refusal | None:
    """None when the request is signed (SigV4) with the secret of the access key it names; else why not.
    `body_or_none`: the body when already read, else it is read (only when the signature covers it) and the
    app gets a fresh wsgi.input with the same bytes. `secret_for(access_key_id)` -> its secret, or None."""
    claimed = claim(environ)
    if isinstance(claimed, Refusal):
        return claimed
    refused = _time_refusal(claimed, time.time() if now is None else now)
    if refused is not None:
        refused.access_key_id = claimed.key
        return refused
    if "host" not in claimed.signed_headers:
        return Refusal("the Host header is not signed (AWS requires it)", access_key_id=claimed.key)
    headers = canonical_headers(environ, claimed.signed_headers)
    if isinstance(headers, Refusal):
        headers.access_key_id = claimed.key
        return headers
    payload, refused = payload_hash(environ, body_or_none, claimed)
    if refused is not None:
        refused.access_key_id = claimed.key
        return refused
    canonical = canonical_request(
        str(environ.get("REQUEST_METHOD") or "GET").upper(),
        canonical_uri(raw_path(environ), claimed.service),
        canonical_query(_wire(environ.get("QUERY_STRING") or ""), claimed.presigned),
        headers,
        claimed.signed_headers,
        payload,
    )
    to_sign = string_to_sign(claimed.timestamp, claimed.scope, canonical)
    secret = secret_for(claimed.key)
    if secret is None:
        return Refusal(f"no secret for access key {claimed.key}", access_key_id=claimed.key)
    expected = sign(secret, claimed, to_sign)
    if hmac.compare_digest(expected.encode(), claimed.signature.lower().encode("utf-8", "surrogateescape")):
        return None
    return Refusal(
        f"the signature does not match the request; canonical request {redacted(canonical)!r}",
        access_key_id=claimed.key,
        canonical_request=canonical,
        string_to_sign=to_sign,
    )


def redacted(canonical: str) -> str:
    """A canonical request fit for a log: a session token's value replaced (it is a credential)."""
    return re.sub(
        r"((?:^x-amz-security-token:)|(?:X-Amz-Security-Token=))[^\n&]*",
        r"\1<redacted>",
        canonical,
        flags=re.MULTILINE,
    )
