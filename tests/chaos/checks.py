"""What the chaos suite checks beyond tests/perf/verify.py (status, every object present, one completion
message each): every SVG byte-identical to an offline render of the same spec, what the Batch attempts and
the executions' histories say about the faults, and that no message of the session sits in a DLQ or the
failure queue.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from functools import cache
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from farm import offline
from farm.client import FarmClient
from localcloud.faults import SPOT_REASON
from render_worker import spec as spec_mod
from tests.perf import specs, verify

LAMBDA_THROTTLED = "Lambda.TooManyRequestsException"
_READERS = 8


@cache
def reference_svgs(catalog_id: str, variant_count: int, variants_per_child: int) -> dict[str, bytes]:
    """{`<product_id>/<sku>.svg`: bytes} as `farm render` writes them offline for the same generated spec."""
    doc = specs.make_spec(catalog_id, variant_count, variants_per_child)
    data = specs.spec_bytes(doc)
    catalog = spec_mod.load_catalog(data)
    with tempfile.TemporaryDirectory(prefix="chaos-reference-") as tmp:
        offline.render_into(data, catalog, Path(tmp), jobs=1)
        return {key: (Path(tmp) / key).read_bytes() for key in specs.expected_svg_keys(doc)}


def compare_variants(s3, bucket: str, starts: list[dict[str, Any]]) -> dict[str, Any]:
    """GET every SVG every run must have written and compare it with the offline render."""
    wanted: list[tuple[str, str, bytes]] = []
    for start in starts:
        reference = reference_svgs(
            start.get("catalog_id", "perf-load"), start["variant_count"], start["variants_per_child"]
        )
        wanted += [(start["run_id"], key, body) for key, body in reference.items()]

    def check(item: tuple[str, str, bytes]) -> str:
        run_id, key, body = item
        try:
            got = s3.get_object(Bucket=bucket, Key=f"{run_id}/{key}")["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
                return "missing"
            raise
        return "identical" if got == body else "differing"

    with ThreadPoolExecutor(_READERS) as pool:
        outcomes = list(pool.map(check, wanted))
    pairs = zip(wanted, outcomes, strict=True)
    bad = [f"{run_id}/{key}: {outcome}" for (run_id, key, _), outcome in pairs if outcome != "identical"]
    counts = Counter(outcomes)
    return {
        "expected": len(wanted),
        "identical": counts["identical"],
        "missing": counts["missing"],
        "differing": counts["differing"],
        "bad": bad[:20],
    }


def execution_histories(sfn, started: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """run id -> its execution's history events (every page)."""
    histories = {}
    for record in started:
        events: list[dict[str, Any]] = []
        for page in sfn.get_paginator("get_execution_history").paginate(executionArn=record["execution_arn"]):
            events += page["events"]
        histories[record["run_id"]] = events
    return histories


def task_failures(histories: dict[str, list[dict[str, Any]]]) -> Counter:
    """Error name -> how many task attempts failed with it (each one the state's Retry then saw)."""
    errors: Counter = Counter()
    for events in histories.values():
        for event in events:
            if event["type"] == "TaskFailed":
                errors[event.get("taskFailedEventDetails", {}).get("error", "?")] += 1
    return errors


RENDER_STATES = ("RenderPlain", "RenderArray")
CLEAN_UP_STATES = ("CleanUpScratch", "CleanUpScratchAfterFailure")


def _batch_outputs(events: list[dict[str, Any]], states: tuple[str, ...], event_type: str) -> list[str]:
    """The JobIds in the outputs of `event_type` batch events of the task states named `states`."""
    found, state = [], None
    for event in events:
        if "stateEnteredEventDetails" in event:
            state = event["stateEnteredEventDetails"]["name"]
            continue
        key = event_type[0].lower() + event_type[1:] + "EventDetails"
        details = event.get(key) or {}
        if event["type"] == event_type and details.get("resourceType") == "batch" and state in states:
            job_id = json.loads(details.get("output") or "{}").get("JobId")
            if job_id:
                found.append(job_id)
    return found


def submitted_job_id(events: list[dict[str, Any]]) -> str | None:
    """The Batch job an execution's render state submitted (its TaskSubmitted output), None if none."""
    found = _batch_outputs(events, RENDER_STATES, "TaskSubmitted")
    return found[0] if found else None


def clean_up_job_id(events: list[dict[str, Any]]) -> str | None:
    """The scratch clean-up job an execution submitted after its message (not waited for: the
    submission's output), None if none."""
    found = _batch_outputs(events, CLEAN_UP_STATES, "TaskSucceeded")
    return found[-1] if found else None


def wait_for_clean_ups(batch, sfn, started: list[dict[str, Any]], timeout: float) -> dict[str, dict | None]:
    """run id -> its execution's clean-up job once that has ended (None: it submitted none). Executions end
    before their clean-up jobs do, so these may still run when the load is over; a Spot reclaim drawn for one
    is counted by the local cloud only when it happens."""
    jobs = {run_id: clean_up_job_id(events) for run_id, events in execution_histories(sfn, started).items()}
    ids = [job_id for job_id in jobs.values() if job_id]
    ended: dict[str, dict] = {}
    deadline = time.monotonic() + timeout
    while True:
        pending = [job_id for job_id in ids if job_id not in ended]
        for first in range(0, len(pending), 100):
            for job in batch.describe_jobs(jobs=pending[first : first + 100])["jobs"]:
                if job["status"] in ("SUCCEEDED", "FAILED"):
                    ended[job["jobId"]] = job
        if len(ended) == len(ids) or time.monotonic() > deadline:
            break
        time.sleep(1)
    return {run_id: ended.get(job_id, {"jobId": job_id, "status": "NOT ENDED"}) if job_id else None
            for run_id, job_id in jobs.items()}  # fmt: skip


def batch_attempts(batch, jobs: list[tuple[str, int]]) -> dict[str, Any]:
    """From DescribeJobs: every child (or plain job) of these (job id, array size) pairs, its attempts, and
    why each attempt before the last one ended."""
    ids = [job_id if size == 1 else f"{job_id}:{i}" for job_id, size in jobs for i in range(size)]
    described: list[dict[str, Any]] = []
    for first in range(0, len(ids), 100):  # DescribeJobs takes at most 100 ids
        described += batch.describe_jobs(jobs=ids[first : first + 100])["jobs"]
    reasons: Counter = Counter()
    exit_codes: Counter = Counter()
    retried = extra = 0
    for job in described:
        attempts = job.get("attempts") or []
        if len(attempts) > 1:
            retried += 1
            extra += len(attempts) - 1
        for attempt in attempts[:-1] if job["status"] == "SUCCEEDED" else attempts:
            reasons[attempt.get("statusReason") or "?"] += 1
            exit_codes[str(attempt.get("container", {}).get("exitCode", "none"))] += 1
    return {
        "children": len(ids),
        "described": len(described),
        "retried": retried,
        "extra_attempts": extra,
        "failed_attempt_reasons": dict(reasons),
        "failed_attempt_exit_codes": dict(exit_codes),
        "spot_interrupted_attempts": reasons.get(SPOT_REASON, 0),
        "not_succeeded": sorted(j["jobId"] for j in described if j["status"] != "SUCCEEDED")[:20],
    }


def _slice_start(logs, group: str, stream: str) -> dict[str, Any] | None:
    """The worker's "rendering slice" log record of one attempt (first, stop, already_done), or None."""
    try:
        events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
    except ClientError:
        return None
    for event in events:
        try:
            record = json.loads(event["message"])
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("message") == "rendering slice":
            return record
    return None


def resumes_after_reclaims(
    batch, logs, job_definition_arn: str, jobs: list[tuple[str, int]]
) -> dict[str, int]:
    """Where the Spot reclaims hit, from the worker's "rendering slice" records (CloudWatch Logs): the
    reclaimed attempt's own resume point against the next one's, which the EFS progress file carries over:
    during start-up (it never began its slice), before its first upload finished, mid-uploads (some of its
    variants were done and the retry skipped them), after all its uploads (before it exited)."""
    definition = batch.describe_job_definitions(jobDefinitions=[job_definition_arn])["jobDefinitions"][0]
    options = (definition["containerProperties"].get("logConfiguration") or {}).get("options") or {}
    group = options.get("awslogs-group", "/aws/batch/job")
    ids = [job_id if size == 1 else f"{job_id}:{i}" for job_id, size in jobs for i in range(size)]
    found = {"start_up": 0, "before_first_upload": 0, "mid_uploads": 0, "after_all_uploads": 0, "unknown": 0}
    for first in range(0, len(ids), 100):
        for job in batch.describe_jobs(jobs=ids[first : first + 100])["jobs"]:
            attempts = job.get("attempts") or []
            if not any(a.get("statusReason") == SPOT_REASON for a in attempts):
                continue
            records = [
                _slice_start(logs, group, a.get("container", {}).get("logStreamName", "")) for a in attempts
            ]
            for k, attempt in enumerate(attempts):
                if attempt.get("statusReason") != SPOT_REASON:
                    continue
                own = records[k]
                later = next((r for r in records[k + 1 :] if r is not None), None)
                if own is None:
                    found["start_up"] += 1
                elif later is None:
                    found["unknown"] += 1
                else:
                    started = int(own.get("already_done", 0))
                    gained = int(later.get("already_done", 0)) - started
                    remaining = int(own["stop"]) - int(own["first"]) - started
                    where = "mid_uploads" if 0 < gained < remaining else None
                    found[where or ("before_first_upload" if gained <= 0 else "after_all_uploads")] += 1
    return found


def stray_messages(stack, session: str, quiet_receives: int) -> dict[str, list[dict[str, Any]]]:
    """This session's messages in the failure queue and in every dead-letter queue the stack outputs name
    (`*dlq_url`): every run should succeed, so each must stay empty. Those found are deleted (read once)."""
    client = FarmClient(stack)
    names = ["failure_queue_url"] + sorted(k for k in stack.outputs if k.endswith("dlq_url"))
    return {
        name: verify.drain_notifications(client, session, queue_output=name, quiet_receives=quiet_receives)
        for name in names
        if stack.outputs.get(name)
    }
