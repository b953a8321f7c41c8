"""Step Functions' .sync Batch step sees a job's end when it happens (batch_events.watch), not on moto's next
0.5 s check: the fixed overhead of a small run (issue 13)."""

from __future__ import annotations

import threading
import time

from localcloud import batch_events
from localcloud.patches import sfn_batch


class _Job:
    def __init__(self, job_id: str):
        self.job_id, self.status = job_id, "RUNNING"


def test_a_watch_is_set_by_the_jobs_end_only(monkeypatch):
    monkeypatch.setattr(batch_events, "emit", lambda job: None)
    job = _Job("job-watch-1")
    ended = batch_events.watch(job.job_id)
    try:
        batch_events.set_status(job, "RUNNING")
        assert not ended.is_set()
        batch_events.set_status(job, "SUCCEEDED")
        assert ended.is_set()
    finally:
        batch_events.unwatch(job.job_id)
    other = batch_events.watch(job.job_id)  # a new watch after unwatch starts unset
    assert not other.is_set()
    batch_events.unwatch(job.job_id)


def test_a_waiting_check_wakes_at_the_end_not_after_the_interval(monkeypatch):
    monkeypatch.setattr(batch_events, "emit", lambda job: None)
    job = _Job("job-watch-2")
    ended = batch_events.watch(job.job_id)
    threading.Timer(0.05, batch_events.set_status, (job, "FAILED")).start()
    started = time.monotonic()
    try:
        assert ended.wait(sfn_batch.SYNC_CHECK_S * 10)
    finally:
        batch_events.unwatch(job.job_id)
    assert time.monotonic() - started < sfn_batch.SYNC_CHECK_S  # woken by the end, well before a 0.5 s poll
