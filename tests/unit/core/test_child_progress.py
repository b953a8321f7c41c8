"""Progress objects: one per child, kept current by the child, summed by clients into done, rate and ETA."""

from __future__ import annotations

import json
import threading

import pytest

from render_worker import child_progress
from render_worker.child_progress import Reporter, parse_progress_key, progress_key, summarize


def test_keys_follow_the_part_records_layout():
    assert progress_key("child-00003") == "_progress/child-00003.json"
    assert progress_key("plain", 2) == "_progress/r2/plain.json"
    assert parse_progress_key("_progress/child-00003.json") == (1, "child-00003")
    assert parse_progress_key("_progress/r12/child-00000.json") == (12, "child-00000")
    for other in ("_progress/r1/plain.json", "_parts/plain.json", "_progress/child-3.json", "x/plain.json"):
        assert parse_progress_key(other) is None, other
    assert (
        child_progress.attempt_prefix(1) == "_progress/"
        and child_progress.attempt_prefix(3) == "_progress/r3/"
    )


class Clock:
    def __init__(self, now: float = 1000.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_a_reporter_writes_on_start_at_most_every_interval_and_at_the_end():
    written: list[dict] = []
    changed = threading.Event()

    def put(key: str, body: bytes) -> None:
        assert key == "_progress/r2/child-00001.json"
        written.append(json.loads(body))
        changed.set()

    clock = Clock()
    reporter = Reporter(put, "child-00001", 2, total=10, interval_s=0.05, clock=clock).start()
    assert written[0] == {
        "child": "child-00001",
        "attempt": 2,
        "total": 10,
        "done": 0,
        "failed": 0,
        "started_at": 1000.0,
        "updated_at": 1000.0,
        "finished": False,
    }
    changed.clear()
    clock.now = 1001.5
    for _ in range(4):
        reporter.add()
    assert changed.wait(2), "a change is written within the interval"
    reporter.finish(done=9, failed=1)
    last = written[-1]
    assert (last["done"], last["failed"], last["finished"], last["updated_at"]) == (9, 1, True, 1001.5)
    assert len(written) <= 4, "a few writes, not one per variant"


def test_a_failed_write_is_reported_and_never_raised():
    errors: list[Exception] = []

    def put(key: str, body: bytes) -> None:
        raise OSError("store down")

    reporter = Reporter(put, "plain", 1, total=3, interval_s=0.01, on_error=errors.append).start()
    reporter.add(3)
    reporter.finish(3, 0)
    assert errors and all(isinstance(e, OSError) for e in errors)


def body(done: int, started: float, updated: float, *, failed: int = 0, finished: bool = False) -> dict:
    return {
        "done": done,
        "failed": failed,
        "started_at": started,
        "updated_at": updated,
        "finished": finished,
    }


def test_summarize_gives_rate_and_eta_since_the_first_child_started():
    bodies = [body(300, 100.0, 130.0), body(100, 110.0, 130.0), None, {"done": "x"}]
    progress = summarize(bodies, total=1000, children=3, now=140.0)
    assert (progress.done, progress.reporting, progress.children, progress.started_at) == (400, 2, 3, 100.0)
    assert progress.rate_per_s == pytest.approx(10.0)  # 400 variants in the 40 s since the first start
    assert progress.eta_s == pytest.approx(60.0)  # 600 left at 10/s
    assert progress.as_dict()["eta_s"] == 60.0


def test_summarize_before_anything_is_done_and_when_all_is():
    assert summarize([], total=50, children=2, now=10.0).rate_per_s is None
    assert summarize([body(0, 5.0, 6.0)], total=50, children=2, now=10.0).eta_s is None
    done = summarize([body(50, 5.0, 9.0, finished=True)], total=50, children=1, now=10.0)
    assert (done.done, done.eta_s, done.finished) == (50, 0.0, 1)
    # A retried child may count again what it resumed: never more than the total.
    assert summarize([body(40, 5.0, 9.0), body(40, 5.0, 9.0)], total=50, children=2, now=10.0).done == 50
