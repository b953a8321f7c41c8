"""What a render job's tasks really ran: every Batch attempt's start and stop (DescribeJobs), of the job
itself or of each child of an array job, for the run's actual cost (render_worker.cost.actual). Array
children's ids are `<parent id>:<index>`, as AWS Batch names them; DescribeJobs takes 100 ids a call."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from render_worker.storage import denial

DESCRIBE_BATCH = 100  # DescribeJobs' limit on ids per call
READERS = 8


def _describe(batch: Any, ids: list[str]) -> list[dict[str, Any]]:
    try:
        return batch.describe_jobs(jobs=ids).get("jobs", [])
    except ClientError as exc:
        denied = denial(exc, "batch:DescribeJobs", "*")
        if denied:
            raise denied from None
        raise


def attempt_times(batch: Any, job_id: str) -> list[tuple[int, int]]:
    """(startedAt, stoppedAt) in epoch ms of every attempt of the job's tasks: the job's own attempts for a
    plain job, every child's for an array job. An unknown job has none."""
    found = _describe(batch, [job_id])
    if not found:
        return []
    size = int((found[0].get("arrayProperties") or {}).get("size") or 0)
    if not size:
        return list(_times(found))
    ids = [f"{job_id}:{index}" for index in range(size)]
    chunks = [ids[i : i + DESCRIBE_BATCH] for i in range(0, len(ids), DESCRIBE_BATCH)]
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        described = pool.map(lambda chunk: _describe(batch, chunk), chunks)
        return [times for jobs in described for times in _times(jobs)]


def _times(jobs: list[dict[str, Any]]) -> Iterator[tuple[int, int]]:
    for job in jobs:
        for attempt in job.get("attempts") or []:
            started, stopped = attempt.get("startedAt"), attempt.get("stoppedAt")
            if started and stopped:
                yield int(started), int(stopped)
