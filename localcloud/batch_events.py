"""Batch job state changes: set a job's status and send the `Batch Job State Change` event to EventBridge.

The event has the AWS shape: source aws.batch, detail-type "Batch Job State Change", detail = the job as
DescribeJobs shows it, resources = [job ARN]. It goes through moto's EventBridge backend, so rules with SQS
and CloudWatch Logs targets receive it.
"""

from __future__ import annotations

import json
import logging
import threading

log = logging.getLogger("localcloud.batch")

_lock = threading.Lock()
TERMINAL = ("SUCCEEDED", "FAILED")
_watches: dict[str, threading.Event] = {}  # job id -> set when the job ends (Step Functions' .sync waits)
_watches_lock = threading.Lock()


def watch(job_id: str) -> threading.Event:
    """An event set when the job reaches SUCCEEDED or FAILED (from now on: check the status once after
    watching, or a job that ended before is missed). `unwatch` when done."""
    with _watches_lock:
        return _watches.setdefault(job_id, threading.Event())


def unwatch(job_id: str) -> None:
    with _watches_lock:
        _watches.pop(job_id, None)


def _events_backend(job):
    from moto.events.models import events_backends

    return events_backends[job.backend.account_id][job.backend.region_name]


def emit(job) -> None:
    """Send the job's current state to the default event bus (never raises: events must not break jobs)."""
    try:
        detail = job.describe()
        entry = {
            "Source": "aws.batch",
            "DetailType": "Batch Job State Change",
            "Detail": json.dumps(detail, default=str),
            "Resources": [job.arn],
        }
        with _lock:  # moto's backends are not built for concurrent writers
            _events_backend(job).put_events([entry])
    except Exception:
        log.exception("could not send the state-change event of job %s", job.job_id)


def set_status(job, status: str) -> None:
    """Move the job to `status` and emit the event once per distinct status."""
    job.status = status
    if status in TERMINAL:
        with _watches_lock:
            watched = _watches.get(job.job_id)
        if watched is not None:
            watched.set()
    if getattr(job, "_lc_emitted", None) != status:
        job._lc_emitted = status
        emit(job)
