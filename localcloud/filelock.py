"""One exclusive file lock for the harness and the local cloud: `with exclusive(path): ...`.

flock(2) on `path` (created, with its directory): one holder per machine, every other process (or thread with
its own `with`) waits. Used for a state directory's up/down, builds in the shared container store and the
Lambda zips' vendored wheels. No moto import: the aws path of the harness uses it too.
"""

from __future__ import annotations

import contextlib
import fcntl
from collections.abc import Callable, Iterator
from pathlib import Path


@contextlib.contextmanager
def exclusive(path: Path, on_wait: Callable[[], None] | None = None) -> Iterator[None]:
    """Hold an exclusive flock on `path` for the block; `on_wait` is called once when another holder makes
    this one wait (to say so)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            if on_wait is not None:
                on_wait()
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
