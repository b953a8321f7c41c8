"""The shared scratch directory (EFS in the farm): the cached spec and each child's progress log.

Layout (docs/contracts.md), per attempt of a run: `<key>` is the attempt's execution name, `<run_id>` for
attempt 1 and `<run_id>.r<N>` for a rerun (no run id has a dot), so an attempt never reads, nor loses to the
clean-up of, another attempt's files. `<scratch>/<key>/spec.json` and `<scratch>/<key>/progress/<child>.done`,
whose lines are `<flat_index>\\t<sha256>\\t<bytes>`, appended and flushed after each upload; plus
`<scratch>/<key>/spec.valid` (sha256 of the cached spec and the validator that passed it).
The whole `<scratch>/<key>` goes when the attempt ends: `remove_run` (`python -m render_worker cleanup`).
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from render_worker.uri import Execution, check_attempt, check_run_id


def run_dir(scratch: Path, key: str) -> Path:
    """`key`: the attempt's execution name (WorkerConfig.scratch_key)."""
    return Path(scratch) / key


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

    def read(self, wanted: Sequence[int]) -> dict[int, tuple[str, int]]:
        """{flat index: (sha256, bytes)} for the finished variants in `wanted`. A torn last line (the
        child died mid-write) or any line that does not parse is ignored: that variant is rendered again."""
        done: dict[int, tuple[str, int]] = {}
        wanted = wanted if isinstance(wanted, range) else frozenset(wanted)
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


class UnsafeScratch(Exception):
    """A clean-up that would reach outside its run's directory (or delete something that is not one)."""


@dataclass(frozen=True)
class Removed:
    path: Path
    files: int  # files and symlinks (a symlink is removed, never followed)
    bytes: int
    existed: bool


def remove_run(scratch: Path, run_id: str, attempt: int = 1) -> Removed:
    """Delete the scratch of attempt `attempt` of run `run_id` (`<scratch>/<run_id>`, or
    `<scratch>/<run_id>.r<N>`) and everything under it, once the attempt has ended (no child attempt left to
    resume from it). A directory that is not there is nothing to do, so a repeated clean-up succeeds.

    Raises UnsafeScratch for a run id that is not one or an attempt out of range, and for a run path that is a
    symlink or not a directory: a clean-up deletes inside its own run directory and nowhere else. OSError when
    the removal itself fails (the caller may try again)."""
    try:
        check_run_id(run_id)  # letters, digits, '_' and '-' only: no separator, no '..'
        check_attempt(attempt, "FARM_ATTEMPT")
    except ValueError as exc:
        raise UnsafeScratch(str(exc)) from None
    root = Path(scratch).resolve()  # the mount itself may be a symlink; the run directory may not
    path = root / Execution(run_id, attempt).name
    if path.parent != root:  # the run id check makes this impossible; kept as the one invariant that matters
        raise UnsafeScratch(f"{path} is not directly inside {root}")
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return Removed(path, 0, 0, existed=False)
    if stat.S_ISLNK(mode):
        raise UnsafeScratch(f"{path} is a symlink: not removing what it points to")
    if not stat.S_ISDIR(mode):
        raise UnsafeScratch(f"{path} is not a directory")
    files = size = 0
    for folder, dirs, names in os.walk(path, followlinks=False):
        for name in names + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            files += 1
            size += os.lstat(os.path.join(folder, name)).st_size
    shutil.rmtree(path)  # fd-based on Linux (shutil.rmtree.avoids_symlink_attacks): links inside are unlinked
    return Removed(path, files, size, existed=True)
