"""Where one execution's time went, measured (not a fixed sentence): the per-phase split the perf report
shows beside every benchmark execution, and what ValidateInput decided (children, predicted wall time).

Sources, all of this run: the execution's history (state entry and exit times, ValidateInput's output, the
Batch job id), DescribeJobs of the job and its children (attempt start and stop), and each child's part
record (`timing`: when its slice started and ended, render time, upload waits; docs/contracts.md).

Phases, on one clock (the machine's; the local cloud runs on it):
- validate: ValidateInput's state, entry to exit;
- queue_wait: the Render step's entry (just before it submits the job) to the first child running;
- child_start_up: a child's attempt start to its first variant (container or process start, interpreter,
  imports, reading and checking the spec): the median child, and the slowest;
- render, upload_wait: the median child's main thread rendering, and waiting for its uploads;
- children: the first child's start to the last child's end;
- batch_to_workflow: the last child's end to the Render step's exit (the array's end, the .sync check);
- publish: PublishResults' state; other: the rest of the execution (choices, notify, clean-up submission).
"""

from __future__ import annotations

import json
import statistics
from datetime import datetime
from typing import Any

from farm.client import RENDER_STATES, FarmClient, job_id_from_history, validated_from_history

DESCRIBE_BATCH = 100  # DescribeJobs takes at most 100 ids


def _seconds(moment: datetime) -> float:
    return moment.timestamp()


def _states(events: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per state name: entered and exited times (s), and the output it exited with."""
    found: dict[str, dict[str, Any]] = {}
    for event in events:
        if event["type"].endswith("StateEntered"):
            name = event["stateEnteredEventDetails"]["name"]
            found.setdefault(name, {})["entered"] = _seconds(event["timestamp"])
        elif event["type"].endswith("StateExited"):
            details = event["stateExitedEventDetails"]
            state = found.setdefault(details["name"], {})
            state["exited"] = _seconds(event["timestamp"])
            state["output"] = details.get("output")
    return found


def validated_of(stack, execution_arn: str) -> dict[str, Any] | None:
    """ValidateInput's decision as the workflow carried it on (`$.validated`), None before it exited."""
    client = FarmClient(stack)
    return validated_from_history(client.history(execution_arn.rsplit(":", 1)[-1]))


def _children(batch, job_id: str, array_size: int) -> list[dict[str, Any]]:
    ids = [job_id] if array_size <= 1 else [f"{job_id}:{i}" for i in range(array_size)]
    jobs = []
    for start in range(0, len(ids), DESCRIBE_BATCH):
        jobs += batch.describe_jobs(jobs=ids[start : start + DESCRIBE_BATCH])["jobs"]
    return jobs


def part_timing(s3, bucket: str, run_id: str, child: str) -> dict[str, float] | None:
    try:
        body = s3.get_object(Bucket=bucket, Key=f"{run_id}/_parts/{child}.json")["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return json.loads(body).get("timing")


def _median_and_max(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": round(statistics.median(values), 3), "max": round(max(values), 3)}


def execution_phases(stack, execution_arn: str) -> dict[str, Any]:
    """The per-phase split of one finished execution, with ValidateInput's sizing and prediction."""
    batch, s3 = stack.client("batch"), stack.client("s3")
    events = FarmClient(stack).history(execution_arn.rsplit(":", 1)[-1])
    states = _states(events)
    decided = validated_from_history(events) or {}
    began, ended = _seconds(events[0]["timestamp"]), _seconds(events[-1]["timestamp"])
    total = ended - began
    result: dict[str, Any] = {
        "total_s": round(total, 3),
        "children": decided.get("array_size"),
        "variants_per_child": decided.get("variants_per_child"),
        "predicted_wall_s": decided.get("predicted_wall_s"),
        "sizing_basis": (decided.get("sizing") or {}).get("basis"),
    }
    phases: dict[str, Any] = {}

    def span(name: str) -> float | None:
        state = states.get(name) or {}
        if "entered" in state and "exited" in state:
            return round(state["exited"] - state["entered"], 3)
        return None

    phases["validate"] = span("ValidateInput")
    phases["publish"] = span("PublishResults")
    job_id = job_id_from_history(events)
    # The entry, not TaskSubmitted: that event is written when SubmitJob returns, which can be after the
    # local cloud has already started the child (a negative wait).
    render = next((states[name] for name in RENDER_STATES if name in states), {})
    submitted_at, render_exit = render.get("entered"), render.get("exited")
    if job_id and decided:
        jobs = _children(batch, job_id, int(decided.get("array_size") or 1))
        attempts = [(job, (job.get("attempts") or [None])[-1]) for job in jobs]
        starts = [a["startedAt"] / 1000 for _, a in attempts if a and a.get("startedAt")]
        stops = [a["stoppedAt"] / 1000 for _, a in attempts if a and a.get("stoppedAt")]
        if starts and submitted_at is not None:
            phases["queue_wait"] = round(min(starts) - submitted_at, 3)
        if starts and stops:
            phases["children"] = round(max(stops) - min(starts), 3)
        if stops and render_exit is not None:
            phases["batch_to_workflow"] = round(render_exit - max(stops), 3)
        start_ups, renders, waits = [], [], []
        for job, attempt in attempts:
            child = "plain" if len(jobs) == 1 else f"child-{int(job['arrayProperties']['index']):05d}"
            timing = part_timing(s3, stack["renders_bucket"], decided["run_id"], child)
            if timing and attempt and attempt.get("startedAt"):
                start_ups.append(timing["slice_started_at"] - attempt["startedAt"] / 1000)
                renders.append(timing["render_s"])
                waits.append(timing["upload_wait_s"])
        phases["child_start_up"] = _median_and_max(start_ups)
        phases["render"] = _median_and_max(renders)
        phases["upload_wait"] = _median_and_max(waits)
        result["retried_attempts"] = sum(max(0, len(job.get("attempts") or []) - 1) for job in jobs)
    timeline = [phases.get(k) for k in ("validate", "publish", "queue_wait", "children", "batch_to_workflow")]
    phases["other"] = round(total - sum(v for v in timeline if isinstance(v, float)), 3)
    result["phases"] = phases
    return result


def phase_line(split: dict[str, Any]) -> str:
    """One line: `validate 0.12 s, queue wait 0.30 s, ...` (the report's notes and the session's output)."""
    parts = []
    for name, value in split.get("phases", {}).items():
        if value is None:
            continue
        if isinstance(value, float):
            shown = f"{value:.2f} s"
        else:
            shown = f"{value['median']:.2f} s (max {value['max']:.2f})"
        parts.append(f"{name.replace('_', ' ')} {shown}")
    return ", ".join(parts)
