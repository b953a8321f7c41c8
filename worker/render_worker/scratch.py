"""The shared scratch directory (EFS in the farm): the cached spec and each child's progress log.

Layout (docs/contracts.md): `<scratch>/<run_id>/spec.json` and `<scratch>/<run_id>/progress/<child>.done`,
whose lines are `<flat_index>\\t<sha256>\\t<bytes>`, appended and flushed after each upload; plus
`<scratch>/<run_id>/spec.valid` (sha256 of the cached spec and the validator that passed it).
"""

from __future__ import annotations

import hashlib
import os
import threading
import uuid
from collections.abc import Callable
from pathlib import Path


def run_dir(scratch: Path, run_id: str) -> Path:
    return Path(scratch) / run_id


def _write_atomic(path: Path, data: bytes) -> None:
    """Unique temporary name, fsync, rename: a reader sees no file or the whole file, however many race."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex}.tmp")
    with tmp.open("wb") as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.rename(tmp, path)


def cached_spec(scratch: Path, run_id: str, fetch: Callable[[], bytes]) -> bytes:
    """The spec from scratch when an earlier child cached it, else fetched and cached (atomically)."""
    path = run_dir(scratch, run_id) / "spec.json"
    try:
        return path.read_bytes()
    except FileNotFoundError:
        pass
    data = fetch()
    _write_atomic(path, data)
    return data


def _stamp_path(scratch: Path, run_id: str) -> Path:
    return run_dir(scratch, run_id) / "spec.valid"


def is_stamped_valid(scratch: Path, run_id: str, data: bytes, validator_id: str) -> bool:
    """True when an earlier child validated exactly these bytes with the same schema and code."""
    try:
        stamp = _stamp_path(scratch, run_id).read_text(encoding="ascii").strip()
    except (FileNotFoundError, UnicodeDecodeError):
        return False
    return stamp == _stamp(data, validator_id)


def stamp_valid(scratch: Path, run_id: str, data: bytes, validator_id: str) -> None:
    """Record that `data` passed validation, so the run's other children need not repeat it (validating
    100,000 variants costs seconds; a child renders its 100 in a fraction of that)."""
    _write_atomic(_stamp_path(scratch, run_id), (_stamp(data, validator_id) + "\n").encode("ascii"))


def _stamp(data: bytes, validator_id: str) -> str:
    return f"{hashlib.sha256(data).hexdigest()} {validator_id}"


def forget_spec(scratch: Path, run_id: str) -> None:
    """Drop a cached spec that turned out invalid, so a corrected upload is read next time."""
    (run_dir(scratch, run_id) / "spec.json").unlink(missing_ok=True)
    _stamp_path(scratch, run_id).unlink(missing_ok=True)


class ProgressLog:
    """Finished variants of one child. Safe to append from many upload threads."""

    def __init__(self, scratch: Path, run_id: str, child: str):
        self.path = run_dir(scratch, run_id) / "progress" / f"{child}.done"
        self._lock = threading.Lock()
        self._handle = None

    def read(self, wanted: range) -> dict[int, tuple[str, int]]:
        """{flat index: (sha256, bytes)} for the finished variants in `wanted`. A torn last line (the
        child died mid-write) or any line that does not parse is ignored: that variant is rendered again."""
        done: dict[int, tuple[str, int]] = {}
        try:
            raw = self.path.read_text(encoding="ascii", errors="replace")
        except FileNotFoundError:
            return done
        for line in raw.split("\n")[:-1]:  # the part after the last newline is incomplete
            fields = line.split("\t")
            if len(fields) != 3 or len(fields[1]) != 64:
                continue
            try:
                index, size = int(fields[0]), int(fields[2])
            except ValueError:
                continue
            if index in wanted and size > 0:
                done[index] = (fields[1], size)
        return done

    def append(self, index: int, sha256: str, size: int) -> None:
        with self._lock:
            if self._handle is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._handle = self.path.open("a", encoding="ascii")
                # A killed child may have left a torn last line: end it with a field that makes it
                # unparsable (it could otherwise read as a shorter, wrong size) before appending.
                if self._handle.tell() and not self.path.read_bytes().endswith(b"\n"):
                    self._handle.write("\t#torn\n")
            self._handle.write(f"{index}\t{sha256}\t{size}\n")
            self._handle.flush()

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                self._handle.close()
                self._handle = None
