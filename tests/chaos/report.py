"""build/chaos/report.json and report.md from one chaos run's result (tests/chaos/run.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

THROTTLED = "Lambda.TooManyRequestsException"


def write_json(result: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(result, indent=2, default=str) + "\n")


def _runs(result: dict[str, Any], kind: str) -> str:
    c = result["runs"].get(kind) or {"started": 0, "succeeded": 0, "failed": 0, "lost": 0}
    return f"{c['started']} started, {c['succeeded']} succeeded, {c['failed']} failed, {c['lost']} lost"


def summary_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    f = result["faults"]
    faults = ", ".join(
        f"{kind} {n} (of {f['seen'].get(kind, 0)} chances)" for kind, n in f["injected"].items()
    )
    b = result["batch"]
    reasons = "; ".join(f"{reason}: {n}" for reason, n in b["failed_attempt_reasons"].items()) or "none"
    codes = ", ".join(f"{code}: {n}" for code, n in b["failed_attempt_exit_codes"].items()) or "none"
    v = result["variants"]
    m = result["messages"]
    missing = m.get("expected", 0) - m.get("matched", 0)
    strays = ", ".join(f"{queue} {n}" for queue, n in result["stray_messages"].items()) or "none"
    throttled = result["task_failures"].get(THROTTLED, 0)
    c = b.get("scratch_clean_ups", {})
    return [
        ("executions", _runs(result, "execution")),
        ("standalone Batch array jobs", _runs(result, "batch")),
        ("faults injected", faults),
        (
            "seen by the farm",
            f"{f['observed_by_the_farm']['spot_reclaim']} attempts ended 'Your Spot Task was interrupted.'; "
            f"{throttled} task attempts failed Lambda.TooManyRequestsException; "
            f"Spot reclaims drawn but the attempt ended first: {f.get('spot_reclaim_missed', 0)}",
        ),
        (
            "Batch retries (DescribeJobs)",
            f"{b['retried']} of {b['children']} children retried, {b['extra_attempts']} extra attempts; "
            f"failed attempts by reason: {reasons}; by exit code: {codes}",
        ),
        (
            "scratch clean-up jobs (one per execution, after its message)",
            f"{c.get('described', 0)} ended, {c.get('retried', 0)} retried, "
            f"{c.get('spot_interrupted_attempts', 0)} Spot reclaims, "
            f"not SUCCEEDED: {len(c.get('not_succeeded', []))}",
        ),
        (
            "where the Spot reclaims hit (the retry's resume point)",
            ", ".join(f"{where.replace('_', ' ')}: {n}" for where, n in b.get("after_reclaims", {}).items()),
        ),
        (
            "variants (vs offline render)",
            f"{v['expected']} expected, {v['identical']} byte-identical, **{v['missing']} lost**, "
            f"{v['differing']} differing",
        ),
        (
            "completion messages",
            f"{m.get('expected', 0)} expected, {m.get('received', 0)} received, **{missing} missing**, "
            f"**{m.get('duplicates', 0)} duplicated**, {m.get('unmatched', 0)} unmatched",
        ),
        ("this session's messages in the failure queue / DLQs", strays),
        (
            "other task failures (retried)",
            ", ".join(f"{e}: {n}" for e, n in result["task_failures"].items() if e != THROTTLED) or "none",
        ),
        ("wall time", f"{result['wall_s']} s (load phase {result['load_wall_s']} s)"),
    ]


def write_markdown(result: dict[str, Any], path: Path) -> None:
    profile = result["profile"]
    lines = [
        f"# Chaos report: {profile['name']} profile, env `{result['env']}`",
        "",
        f"Session `{result['session']}`, {result['generated_at']}. Result: "
        + ("**nothing lost**" if result["ok"] else "**FAILED**"),
        "",
        f"Load: {profile['executions']} executions and {profile['jobs']} standalone Batch array jobs at "
        f"once, x{profile['iterations']}, {profile['run_variants']} variants each "
        f"({profile['run_variants_per_child']} per child). "
        f"Faults: `{json.dumps(result['faults']['settings'])}`.",
        "",
        "| | |",
        "|---|---|",
    ]
    lines += [f"| {name} | {value} |" for name, value in summary_rows(result)]
    if result["problems"]:
        lines += ["", "## Problems", ""] + [f"- {p}" for p in result["problems"][:100]]
    if result.get("local_cloud_errors"):
        lines += ["", "## Local cloud errors", "", "```", *result["local_cloud_errors"][:60], "```"]
    lines += ["", "## Machine", ""] + [f"- {k}: {v}" for k, v in result["machine"].items()]
    lines += [f"- work dir (ledger, locust log): {result['work_dir']}"]
    path.write_text("\n".join(lines) + "\n")
