"""The independent verdict: every run the suite started SUCCEEDED, wrote every expected object, and (for
executions) produced exactly one completion message. Reads the ledgers, asks the stack, drains the queue.
"""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from farm.client import TERMINAL, TERMINAL_JOB, FarmClient
from tests.perf import ops, phases, specs


@dataclass
class Verdict:
    runs: dict[str, dict[str, int]] = field(default_factory=dict)  # kind -> started/succeeded/failed/lost
    messages: dict[str, int] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "runs": self.runs, "messages": self.messages, "problems": self.problems}


def drain_notifications(
    client,
    session: str,
    queue_output: str = "notifications_queue_url",
    quiet_receives: int = 3,
    limit_s: float = 60.0,
) -> list[dict]:
    """Read this session's messages from the queue `queue_output` names until `quiet_receives` 1-second
    receives in a row bring none."""
    got: list[dict] = []
    quiet, deadline = 0, time.monotonic() + limit_s
    while quiet < quiet_receives and time.monotonic() < deadline:
        received = ops.session_messages(client, session, queue_output, wait_seconds=1)
        quiet = 0 if received else quiet + 1
        got += [
            {"message_id": r.message_id, "run_id": r.message.get("run_id"), "status": r.message.get("status")}
            for r in received
        ]
    return got


def verify(stack, records: list[dict[str, Any]], session: str, quiet_receives: int = 3) -> Verdict:
    """`quiet_receives`: how many 1-second receives in a row must bring none of this session's messages
    before the count of completion messages is final (the chaos suite waits longer than perf)."""
    verdict = Verdict()
    starts = {r["run_id"]: r for r in records if r["type"] == "start"}
    started = {r["run_id"]: r for r in records if r["type"] == "started"}
    ends = {r["run_id"]: r for r in records if r["type"] == "end"}
    messages = [r for r in records if r["type"] == "message"]
    messages += drain_notifications(FarmClient(stack), session, quiet_receives=quiet_receives)

    message_ids: dict[str, set[str]] = defaultdict(set)
    for message in messages:
        if message.get("run_id"):
            message_ids[message["run_id"]].add(message["message_id"])

    counts: dict[str, dict[str, int]] = defaultdict(
        lambda: {"started": 0, "succeeded": 0, "failed": 0, "lost": 0}
    )
    for run_id, start in starts.items():
        kind = start["kind"]
        counts[kind]["started"] += 1
        outcome, detail = _judge(stack, start, started.get(run_id), ends.get(run_id))
        if outcome == "succeeded" and kind == "execution":
            n = len(message_ids.get(run_id, ()))
            if n != 1:
                outcome, detail = (
                    ("lost" if n == 0 else "failed"),
                    f"{n} completion messages (want exactly 1)",
                )
        counts[kind][outcome] += 1
        if outcome != "succeeded":
            verdict.problems.append(f"{kind} {run_id} {outcome}: {detail}")

    executions = {r for r, s in starts.items() if s["kind"] == "execution"}
    ours = {r for r in message_ids if r.startswith(session)}
    verdict.messages = {
        "received": sum(len(ids) for r, ids in message_ids.items() if r in ours),
        "expected": len(executions),
        "matched": len(ours & executions),
        "duplicates": sum(len(message_ids[r]) - 1 for r in ours if message_ids[r]),
        "unmatched": len(ours - executions),
        "other_sessions": len(set(message_ids) - ours),
    }
    for run_id in sorted(ours - executions):
        verdict.problems.append(f"message for {run_id}, which this session never started")
    verdict.runs = dict(counts)
    return verdict


def _judge(stack, start: dict, started: dict | None, end: dict | None) -> tuple[str, str]:
    run_id = start["run_id"]
    if started is None:
        return "failed", (end or {}).get("error") or "never started"
    if start["kind"] == "execution":
        status = stack.client("stepfunctions").describe_execution(executionArn=started["execution_arn"])[
            "status"
        ]
    else:
        jobs = stack.client("batch").describe_jobs(jobs=[started["job_id"]])["jobs"]
        status = jobs[0]["status"] if jobs else "MISSING"
    if status != "SUCCEEDED":
        terminal = status in TERMINAL | TERMINAL_JOB
        return (
            "failed" if terminal else "lost"
        ), f"status {status}; {(end or {}).get('error') or 'no end recorded'}"
    array_size = start["array_size"]
    if array_size is None:  # sized by ValidateInput: what it decided is in the execution's history
        array_size = (phases.validated_of(stack, started["execution_arn"]) or {}).get("array_size")
        if array_size is None:
            return "failed", "no ValidateInput output in the execution's history"
    spec = specs.make_spec(
        start.get("catalog_id", "perf-load"), start["variant_count"], start["variants_per_child"]
    )
    missing = ops.missing_outputs(
        FarmClient(stack), run_id, spec, array_size, published=start["kind"] == "execution"
    )
    if missing:
        return "lost", f"{len(missing)} objects missing, first: {', '.join(missing[:5])}"
    if end is not None and not end["ok"]:
        return "failed", end["error"]
    return "succeeded", ""
