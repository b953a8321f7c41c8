"""`s3://bucket/key` and `file:///path` URIs (file URIs serve offline runs and tests)."""

from __future__ import annotations

import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from render_worker.errors import shown

# Whole-string patterns, used with fullmatch: `$` would also match before a final newline.
RUN_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,79}")
# A run's attempt N >= 2 (a rerun) is the execution `<run_id>.r<N>`: a run id has no dot, so no run id is
# another run's rerun.
EXECUTION_PATTERN = re.compile(
    r"(?P<run_id>[A-Za-z0-9][A-Za-z0-9_-]{0,79})(?:\.r(?P<attempt>[1-9][0-9]{0,3}))?"
)
MAX_ATTEMPT = 9999
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


def new_run_id(hint: str = "run", now: float | None = None) -> str:
    """`<hint>-<UTC time>-<8 hex>`: unique, sortable, a valid run id, and short enough (<= 70) that a
    rerun's execution name `<run_id>.r<N>` stays within Step Functions' 80. The one generator of run ids:
    ValidateInput (hint: the catalog id), the client (the spec's file name) and the test suites (labels)."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", str(hint)).strip("-_")[:44] or "run"
    if not stem[0].isalnum():
        stem = f"r{stem}"
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    return f"{stem}-{stamp}-{secrets.token_hex(4)}"


@dataclass(frozen=True)
class Execution:
    """One attempt of a run: the Step Functions execution `name`, `<run_id>` for attempt 1 and
    `<run_id>.r<N>` for attempt N >= 2."""

    run_id: str
    attempt: int

    @property
    def name(self) -> str:
        return self.run_id if self.attempt == 1 else f"{self.run_id}.r{self.attempt}"

    @property
    def job_name(self) -> str:
        """The render job's Batch name (Batch allows no dot): `<run_id>`, or `<run_id>-r<N>` for a rerun."""
        return self.run_id if self.attempt == 1 else f"{self.run_id}-r{self.attempt}"


def parse_execution(name: object) -> Execution:
    """Raises ValueError when `name` is neither a run id nor `<run_id>.r<N>` with 2 <= N <= 9999."""
    found = EXECUTION_PATTERN.fullmatch(name) if isinstance(name, str) else None
    if not found or found.group("attempt") == "1":
        raise ValueError(
            f"execution name {shown(name)} is neither a run id (1-80 letters, digits, '_' or '-' starting "
            f"with a letter or digit) nor <run_id>.r<N> for rerun attempt N (2-{MAX_ATTEMPT})"
        )
    return Execution(found.group("run_id"), int(found.group("attempt") or 1))


def check_attempt(value: object, what: str = "attempt") -> int:
    """An attempt number 1..MAX_ATTEMPT; ValueError naming `what` otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_ATTEMPT:
        raise ValueError(f"{what} {shown(value)} is not an integer from 1 to {MAX_ATTEMPT}")
    return value
