"""Reading specs and writing renders: S3 for the farm, the filesystem for offline runs and tests."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from botocore.exceptions import ClientError

from render_worker.errors import AccessDenied, SpecNotFound, SpecTooLarge
from render_worker.uri import Location, parse_uri

SVG_TYPE = "image/svg+xml"
_MISSING = {"NoSuchKey", "NoSuchBucket", "NoSuchVersion", "404", "NotFound"}
_BAD_VERSION = {"InvalidArgument", "400"}  # S3 answers a malformed version id with 400
# A 403 is a denial, never "missing" (botocore names a body-less 403, as HEAD answers, "403" / "Forbidden").
_DENIED = {"AccessDenied", "403", "Forbidden"}


def s3_arn(bucket: str, key: str | None = None) -> str:
    """The ARN IAM evaluates for a bucket (key None) or an object."""
    return f"arn:aws:s3:::{bucket}" if key is None else f"arn:aws:s3:::{bucket}/{key}"


def denial(exc: ClientError, action: str, resource: str) -> AccessDenied | None:
    """AccessDenied naming `action` on `resource` when `exc` is AWS refusing the call, else None. AWS's own
    message ("User: ... is not authorized to perform: ...") is kept; a bare "Forbidden" says nothing."""
    error = exc.response.get("Error", {})
    code = str(error.get("Code", ""))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if code not in _DENIED and status != 403:
        return None
    message = str(error.get("Message") or "").strip()
    says_nothing = ("", "Forbidden", "Access Denied", code)  # a bare 403, or S3's generic words
    return AccessDenied(action, resource, "" if message in says_nothing else message)


@dataclass(frozen=True)
class SpecObject:
    """A spec's bytes and the S3 version they are: "" when the store keeps no versions (a file, an unversioned
    bucket). ValidateInput names the version it validated; the worker and PublishResults read exactly it."""

    body: bytes
    version_id: str = ""


def read_spec(uri: str, max_bytes: int, s3: Any = None, version_id: str = "") -> bytes:
    """The spec's bytes (of `version_id` when given); SpecNotFound when it does not exist, AccessDenied when
    the caller may not read it, SpecTooLarge above `max_bytes`."""
    return fetch_spec(uri, max_bytes, s3, version_id).body


def fetch_spec(uri: str, max_bytes: int, s3: Any = None, version_id: str = "") -> SpecObject:
    """read_spec, with the version that was read: `version_id` when given, else the one HEAD found (the GET
    asks for that same version, so an upload in between cannot slip in)."""
    try:
        where = parse_uri(uri, what="spec_uri")
    except ValueError as exc:
        raise SpecNotFound(str(exc)) from None
    if where.scheme == "file":
        return SpecObject(_read_file(where.path, max_bytes, uri))
    if s3 is None:
        from render_worker import aws

        s3 = aws.client("s3")
    named = f"{uri} (version {version_id})" if version_id else uri
    versioned = {"VersionId": version_id} if version_id else {}
    try:
        head = s3.head_object(Bucket=where.bucket, Key=where.key, **versioned)
        size = head["ContentLength"]
        if size > max_bytes:
            raise SpecTooLarge(f"{named} is {size} bytes; the limit is {max_bytes} (MAX_SPEC_BYTES)")
        version_id = version_id or head.get("VersionId") or ""
        versioned = {"VersionId": version_id} if version_id else {}
        body = s3.get_object(Bucket=where.bucket, Key=where.key, **versioned)["Body"].read(max_bytes + 1)
    except ClientError as exc:
        # HEAD and GET of a version are authorised as s3:GetObjectVersion, of the latest as s3:GetObject.
        action = "s3:GetObjectVersion" if versioned else "s3:GetObject"
        denied = denial(exc, action, s3_arn(where.bucket, where.key))
        if denied and not denied.detail and exc.operation_name == "HeadObject":
            denied = _said_by_a_get(s3, where.bucket, where.key, versioned, action) or denied
        if denied:
            raise denied from None
        code = str(exc.response.get("Error", {}).get("Code", ""))
        if versioned and code in _MISSING | _BAD_VERSION:  # the key may exist: the version does not
            raise SpecNotFound(
                f"{uri} has no version {version_id!r} ({code}): spec_version_id names a version of the "
                "spec that does not exist (deleted, or of another key)"
            ) from None
        if code in _MISSING:
            raise SpecNotFound(f"{named} cannot be read ({code})") from None
        raise
    if len(body) > max_bytes:  # unversioned: the object changed between HEAD and GET
        raise SpecTooLarge(f"{named} is more than {max_bytes} bytes (MAX_SPEC_BYTES)")
    return SpecObject(body, version_id)


def _said_by_a_get(s3: Any, bucket: str, key: str, versioned: dict, action: str) -> AccessDenied | None:
    """HEAD answers a denial with a bare 403; a one-byte GET is authorised alike, and its answer carries AWS's
    message naming the caller (the role), the action and the resource. None when the GET says no more."""
    try:
        s3.get_object(Bucket=bucket, Key=key, Range="bytes=0-0", **versioned)
    except ClientError as again:
        denied = denial(again, action, s3_arn(bucket, key))
        return denied if denied and denied.detail else None
    return None


def _read_file(path: Path, max_bytes: int, uri: str) -> bytes:
    try:
        if path.is_dir():
            raise SpecNotFound(f"{uri} is a directory")
        size = path.stat().st_size
        if size > max_bytes:
            raise SpecTooLarge(f"{uri} is {size} bytes; the limit is {max_bytes}")
        with path.open("rb") as handle:
            body = handle.read(max_bytes + 1)
    except FileNotFoundError:
        raise SpecNotFound(f"{uri} does not exist") from None
    except OSError as exc:
        raise SpecNotFound(f"{uri} cannot be read ({exc.strerror or exc})") from None
    if len(body) > max_bytes:
        raise SpecTooLarge(f"{uri} is more than {max_bytes} bytes")
    return body


class Sink(Protocol):
    """Where renders go; `key` is relative to the run's output location."""

    def put(self, key: str, body: bytes, content_type: str = SVG_TYPE) -> None: ...

    def full_key(self, key: str) -> str: ...


class S3Sink:
    def __init__(self, s3: Any, bucket: str, prefix: str, kms_key_id: str | None):
        self.s3, self.bucket, self.prefix, self.kms_key_id = s3, bucket, prefix, kms_key_id

    @classmethod
    def from_uri(cls, output_uri: str, s3: Any, kms_key_id: str | None) -> S3Sink:
        where: Location = parse_uri(output_uri, what="OUTPUT_URI")
        if where.scheme != "s3":
            raise ValueError(f"OUTPUT_URI {output_uri!r} is not an s3:// URI")
        prefix = where.key if not where.key or where.key.endswith("/") else where.key + "/"
        return cls(s3, where.bucket, prefix, kms_key_id)

    def full_key(self, key: str) -> str:
        return self.prefix + key

    def put(self, key: str, body: bytes, content_type: str = SVG_TYPE) -> None:
        extra = {"ServerSideEncryption": "aws:kms"}
        if self.kms_key_id:
            extra["SSEKMSKeyId"] = self.kms_key_id
        full_key = self.full_key(key)
        try:
            self.s3.put_object(Bucket=self.bucket, Key=full_key, Body=body, ContentType=content_type, **extra)
        except ClientError as exc:
            denied = denial(exc, "s3:PutObject", s3_arn(self.bucket, full_key))
            if denied:
                raise denied from None
            raise


class FileSink:
    """Files under `root`. `atomic` writes each file by rename (for a worker writing into a live tree); a
    caller that renames the whole tree into place at the end (farm render) can skip that."""

    def __init__(self, root: Path, atomic: bool = True):
        self.root = Path(root)
        self.atomic = atomic
        self._made: set[Path] = set()

    def full_key(self, key: str) -> str:
        return key

    def put(self, key: str, body: bytes, content_type: str = SVG_TYPE) -> None:
        path = self.root / key
        if path.parent not in self._made:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._made.add(path.parent)
        if not self.atomic:
            path.write_bytes(body)
            return
        tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        tmp.write_bytes(body)
        os.replace(tmp, path)
