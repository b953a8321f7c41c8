"""`s3://bucket/key` and `file:///path` URIs (file URIs serve offline runs and tests)."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from render_worker.errors import shown

# Whole-string patterns, used with fullmatch: `$` would also match before a final newline.
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")


@dataclass(frozen=True)
class Location:
    scheme: str  # "s3" or "file"
    bucket: str  # "" for file
    key: str  # S3 key, or the absolute path for file

    @property
    def path(self) -> Path:
        return Path(self.key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}" if self.scheme == "s3" else Path(self.key).as_uri()


def parse_uri(uri: str, *, what: str = "URI") -> Location:
    """Raises ValueError naming `what` when the URI is neither s3://bucket/key nor file:///absolute/path."""
    if not isinstance(uri, str) or not uri:
        raise ValueError(f"{what} is missing")
    parts = urlsplit(uri)
    if parts.scheme == "s3":
        if not _BUCKET.fullmatch(parts.netloc):
            raise ValueError(f"{what} {uri!r} has no valid bucket name")
        return Location("s3", parts.netloc, parts.path.lstrip("/"))
    if parts.scheme == "file" and parts.netloc in ("", "localhost") and parts.path.startswith("/"):
        return Location("file", "", unquote(parts.path))
    raise ValueError(f"{what} {uri!r} is not an s3://bucket/key or file:///path URI")


def check_run_id(run_id: str) -> str:
    if not isinstance(run_id, str) or not RUN_ID_PATTERN.fullmatch(run_id):
        raise ValueError(
            f"run_id {shown(run_id)} is not 1-80 letters, digits, '_' or '-' starting with a letter or digit"
        )
    return run_id
