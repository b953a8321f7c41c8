"""Live progress of a run: each child keeps one progress object current in the run's prefix, and a client sums
them into variants done of total, a rate and an ETA (docs/contracts.md, "Progress objects").

Key (relative to the run's output prefix): `_progress/<child>.json` for attempt 1,
`_progress/r<N>/<child>.json` for rerun attempt N, as the part records. One writer per object: the child
itself (each Batch retry of a child rewrites its own object, counting what it resumed). Body:

    {"child": "child-00003", "attempt": 1, "total": 250, "done": 120, "failed": 0,
     "started_at": 1764500000.123, "updated_at": 1764500004.5, "finished": false}

`total` is the child's slice; `done` what is stored (resumed variants included); times are epoch seconds.
A child writes when it starts, then at most every `interval_s` while it renders, and once when it ends: a
few PUTs per child, however many variants it renders. No rendering imports: clients and Lambdas read it.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

PREFIX = "_progress/"
INTERVAL_S = 2.0  # a child's writes while it renders: at most one per interval
CONTENT_TYPE = "application/json"
_KEY = re.compile(r"_progress/(?:r(?P<attempt>[1-9][0-9]{0,3})/)?(?P<child>plain|child-[0-9]{5})\.json")


def progress_key(child: str, attempt: int = 1) -> str:
    return f"{PREFIX}{child}.json" if attempt == 1 else f"{PREFIX}r{attempt}/{child}.json"


def parse_progress_key(relative: str) -> tuple[int, str] | None:
    """(attempt, child) of a progress object's relative key; None for any other key."""
    found = _KEY.fullmatch(relative)
    if not found or found.group("attempt") == "1":
        return None
    return int(found.group("attempt") or 1), found.group("child")


def attempt_prefix(attempt: int) -> str:
    """The prefix (relative to the run's) that lists one attempt's progress objects and no other's."""
    return PREFIX if attempt == 1 else f"{PREFIX}r{attempt}/"


class Reporter:
    """The child's side: counts what is stored and keeps the child's progress object current. `put(key,
    body)` stores an object (the worker's sink); a failed write is logged by the caller's `on_error` and never
    fails the render (progress is advisory; the part record is the account)."""

    def __init__(
        self,
        put: Callable[[str, bytes], None],
        child: str,
        attempt: int,
        total: int,
        *,
        interval_s: float = INTERVAL_S,
        on_error: Callable[[Exception], None] | None = None,
        clock: Callable[[], float] = time.time,
    ):
        self._put = put
        self._on_error = on_error
        self._clock = clock
        self.key = progress_key(child, attempt)
        self._body = {"child": child, "attempt": attempt, "total": total, "done": 0, "failed": 0}
        self._started_at = clock()
        self._lock = threading.Lock()
        self._changed = threading.Event()
        self._stop = threading.Event()
        self._interval_s = interval_s
        self._thread: threading.Thread | None = None

    def start(self) -> Reporter:
        """The first write (nothing done yet: resumed variants are counted as render_slice passes them)."""
        self._write(finished=False)
        self._thread = threading.Thread(target=self._loop, name="progress", daemon=True)
        self._thread.start()
        return self

    @property
    def done(self) -> int:
        with self._lock:
            return self._body["done"]

    def add(self, count: int = 1) -> None:
        with self._lock:
            self._body["done"] += count
        self._changed.set()

    def finish(self, done: int, failed: int) -> None:
        """The last write: what the child's part record says it stored and could not render."""
        self._stop.set()
        self._changed.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        with self._lock:
            self._body["done"], self._body["failed"] = done, failed
        self._write(finished=True)

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._changed.wait()
            if self._stop.is_set():
                return
            self._changed.clear()
            self._write(finished=False)
            self._stop.wait(self._interval_s)

    def _write(self, finished: bool) -> None:
        with self._lock:
            body = {
                **self._body,
                "started_at": round(self._started_at, 3),
                "updated_at": round(self._clock(), 3),
                "finished": finished,
            }
        try:
            self._put(self.key, json.dumps(body).encode())
        except Exception as exc:  # advisory: a lost progress write changes no output
            if self._on_error is not None:
                self._on_error(exc)


@dataclass(frozen=True)
class RunProgress:
    """One attempt's progress, summed over its children's progress objects."""

    total: int  # variants the attempt renders (ValidateInput's selected_count)
    done: int
    failed: int
    children: int  # the attempt's children (Batch array size; 1 for a plain job)
    reporting: int  # children that wrote a progress object
    finished: int  # children whose object says they ended
    started_at: float | None  # epoch s: the earliest child start
    updated_at: float | None  # epoch s: the latest write
    rate_per_s: float | None  # variants per second since the earliest child start
    eta_s: float | None  # seconds left at that rate; 0 when everything is done

    def as_dict(self) -> dict[str, Any]:
        return {
            "total": self.total,
            "done": self.done,
            "failed": self.failed,
            "children": self.children,
            "reporting": self.reporting,
            "finished": self.finished,
            "started_at": self.started_at,
            "updated_at": self.updated_at,
            "rate_per_s": None if self.rate_per_s is None else round(self.rate_per_s, 2),
            "eta_s": None if self.eta_s is None else round(self.eta_s, 1),
        }


def summarize(bodies: Iterable[dict[str, Any] | None], total: int, children: int, now: float) -> RunProgress:
    """Sum the children's progress objects (None or malformed ones are skipped) as of `now` (epoch s). The
    rate is the attempt's variants done over the time since its first child started, so the ETA counts waves
    of children and their start-ups as they happened so far."""
    done = failed = reporting = finished = 0
    started: list[float] = []
    updated: list[float] = []
    for body in bodies:
        if not isinstance(body, dict):
            continue
        try:
            child_done, child_failed = int(body.get("done", 0)), int(body.get("failed", 0))
            child_started, child_updated = float(body["started_at"]), float(body["updated_at"])
        except (KeyError, TypeError, ValueError):
            continue
        reporting += 1
        done += max(0, child_done)
        failed += max(0, child_failed)
        finished += 1 if body.get("finished") is True else 0
        started.append(child_started)
        updated.append(child_updated)
    done = min(done, total)
    first = min(started) if started else None
    last = max(updated) if updated else None
    # Once every child has ended, the rate is over the time they took, not until now.
    end = last if reporting and finished == reporting >= children and last is not None else now
    rate = eta = None
    if first is not None and done > 0 and end > first:
        rate = done / (end - first)
        eta = (total - done - failed) / rate if total > done + failed else 0.0
    if total and done >= total:
        eta = 0.0
    return RunProgress(total, done, failed, children, reporting, finished, first, last, rate, eta)
