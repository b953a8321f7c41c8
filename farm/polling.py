"""The one polling loop: look, stop when a condition holds, give up after a timeout.

`time.sleep` is looked up at call time, so under locust (gevent's patched `time`) the wait is cooperative.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def poll(
    look: Callable[[], T],
    until: Callable[[T], bool],
    *,
    timeout: float | None,
    interval: float = 1.0,
    on_look: Callable[[T], None] | None = None,
    what: Callable[[T], str] = repr,
) -> T:
    """Call `look` every `interval` s until `until(result)`; returns that result. `on_look` sees every one.
    Raises TimeoutError, naming `what(last result)`, when `timeout` s pass first (None: wait forever)."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        seen = look()
        if on_look is not None:
            on_look(seen)
        if until(seen):
            return seen
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"{what(seen)} after {timeout:.0f} s")
        time.sleep(interval)
