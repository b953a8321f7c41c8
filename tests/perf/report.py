"""perf-report.json, perf-report.md and perf-scaling.png from one run's results."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def write_json(report: dict[str, Any], path: Path) -> None:
    path.write_text(json.dumps(report, indent=2, default=str) + "\n")


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _verdict(passed: bool | None) -> str:
    return {True: "PASS", False: "**MISS**", None: "not run"}[passed]


_RUNTIMES = {
    "container": "container (Batch children and Lambdas run in podman containers of the deployed images)",
    "process": "process (Batch children and Lambdas run as host processes: no container runtime)",
    "aws": "aws (Fargate)",
}


def _runtime(report: dict[str, Any]) -> str:
    runtime = (report.get("machine") or {}).get("runtime") or "unknown"
    return _RUNTIMES.get(runtime, runtime)


def start_up_lines(start_up: dict[str, Any] | None) -> list[str]:
    """The per-child start cost of both runtimes, measured in the same run, as a small table."""
    if not start_up:
        return []
    lines = [
        "",
        f"## Per-child start cost (`{start_up['imports']}`, median of {start_up['repeats']}, "
        f"{start_up['runtime']} mode)",
        "",
        "| runtime | per-child start s |",
        "|---|---:|",
        f"| process (a host Python) | {start_up['process_s']:.2f} |",
    ]
    if start_up.get("container_s") is None:
        lines.append(f"| container | not measured: {start_up.get('container_reason') or 'no reason given'} |")
    else:
        limits = ", ".join(
            part
            for part in (
                f"{start_up['memory_mib']} MiB" if start_up.get("memory_mib") else "",
                f"{start_up['vcpus']:g} vCPU" if start_up.get("vcpus") else "",
            )
            if part
        )
        lines.append(
            f"| container (`podman run` of the job definition's image{', ' + limits if limits else ''}) "
            f"| {start_up['container_s']:.2f} |"
        )
    runs = f"process {start_up['process_runs']}"
    if start_up.get("container_runs"):
        runs += f", container {start_up['container_runs']}"
    lines += ["", f"Each run (s): {runs}."]
    if start_up.get("image"):
        lines.append(f"Image: `{start_up['image']}`.")
    return lines


def write_markdown(report: dict[str, Any], path: Path) -> None:
    lines = [
        f"# Performance report: {report['profile']['name']} profile, env `{report['env']}`",
        "",
        f"Session `{report['session']}`, {report['generated_at']}. Result: "
        + ("**all runs succeeded**" if report["runs_ok"] else "**FAILED OR LOST RUNS**"),
        "",
        f"Runtime: **{_runtime(report)}**.",
        "",
        "## Machine",
        "",
    ]
    lines += [f"- {name}: {value}" for name, value in report["machine"].items()]
    lines += [
        f"- stack outputs from: {report.get('stack_source')}",
        f"- total wall time: {report['wall_s']} s",
    ]
    load = report.get("load")
    if load:
        lines += ["", "## Load (locust)", ""]
        lines += [f"Wall time {load['wall_s']:.1f} s. Latencies in ms (locust's percentiles).", ""]
        lines += [
            "| operation | count | failures | p50 | p95 | max | per s |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for name, op in load["operations"].items():
            lines.append(
                f"| {name} | {op['count']} | {op['failures']} | {_ms(op['p50_ms'])} | {_ms(op['p95_ms'])} "
                f"| {_ms(op['max_ms'])} | {op['per_s']} |"
            )
        for failure in load["failures"]:
            lines.append(
                f"\n- failure x{failure['count']} in {failure['operation']}: `{failure['error'][:300]}`"
            )
    verdict = report["verification"]
    lines += ["", "## Runs (verified after the fact: status, every object, completion messages)", ""]
    lines += ["| kind | started | succeeded | failed | lost |", "|---|---:|---:|---:|---:|"]
    for kind, c in verdict["runs"].items():
        lines.append(f"| {kind} | {c['started']} | {c['succeeded']} | {c['failed']} | {c['lost']} |")
    m = verdict["messages"]
    if m:
        lines += [
            "",
            f"Completion messages: {m['received']} received for {m['expected']} executions, "
            f"{m['matched']} matched, {m['duplicates']} duplicates, {m['unmatched']} unmatched.",
        ]
    lines += [f"- {problem}" for problem in verdict["problems"][:50]]
    lines += _benchmark_lines(report.get("benchmarks") or {})
    if report.get("notes"):
        lines += ["", "## Notes", ""] + [f"- {note}" for note in report["notes"]]
    path.write_text("\n".join(lines) + "\n")


def _benchmark_lines(bench: dict[str, Any]) -> list[str]:
    lines = ["", "## Benchmarks (ratios against the bare S3 PUT rate of this run)", ""]
    lines += ["| benchmark | measured | target | verdict |", "|---|---|---|---|"]
    worker = bench.get("worker")
    if worker:
        lines.append(
            f"| worker: one child vs bare PUTs ({worker['variants']} variants, "
            f"{worker['upload_concurrency']} uploads at once) | {worker['worker_per_s']}/s vs "
            f"{worker['bare_put_per_s']}/s = {worker['ratio']:.2f} | {worker['target']} "
            f"| {_verdict(worker['pass'])} |"
        )
    e2e = bench.get("end_to_end")
    if e2e:
        large = e2e["large"]
        lines.append(
            f"| end to end: {large['variants']:,}-variant execution ({large['array_size']} children of "
            f"{large['variants_per_child']}) | {large['wall_s']:.1f} s vs bare-PUT {e2e['bare_put_s']:.1f} s "
            f"= {e2e['ratio']:.2f}x (limit {e2e['limit_s']:.1f} s) | {e2e['target']} "
            f"| {_verdict(e2e['pass'])} |"
        )
        lines.append(
            f"| end to end: fixed overhead (1-variant execution) | {e2e['fixed_overhead_s']:.1f} s | - | - |"
        )
        other = e2e.get("default_sizing")
        if other:
            lines.append(
                f"| end to end, default sizing for comparison ({other['array_size']} children of "
                f"{other['variants_per_child']}) | {other['wall_s']:.1f} s ({other['status']}) | - | - |"
            )
    scaling = bench.get("scaling")
    if scaling:
        curve = ", ".join(f"{p['children']}: {p['per_s']}/s (x{p['speedup']})" for p in scaling["points"])
        lines.append(
            f"| scaling: {scaling['total_variants']} variants, children -> variants/s "
            f"(local cloud runs {scaling['batch_concurrency']} at once) | {curve} | - | - |"
        )
    for name, error in (bench.get("errors") or {}).items():
        lines.append(f"| {name} | error: {error[:200]} | - | **FAILED** |")
    if worker:
        lines += [""]
        if not worker.get("start_up"):  # a report from before both runtimes were measured
            lines += [f"Child start-up (Python + imports): {worker['child_start_up_s']:.2f} s."]
        lines += ["Bare PUT runs: " + ", ".join(f"{r['label']} {r['per_s']}/s" for r in worker["bare_runs"])]
        lines += start_up_lines(worker.get("start_up"))
    if scaling:
        lines += ["", "![scaling](perf-scaling.png)"]
    return lines


def write_scaling_png(scaling: dict[str, Any], bare_rate: float | None, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")  # no display here, and none needed
    import matplotlib.pyplot as plt

    points = [p for p in scaling["points"] if p["status"] == "SUCCEEDED"]
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    xs = [p["children"] for p in points]
    ax.plot(xs, [p["per_s"] for p in points], "o-", label="measured")
    if points:
        ax.plot(xs, [points[0]["per_s"] * x for x in xs], ":", color="grey", label="linear from 1 child")
    if bare_rate:
        ax.axhline(bare_rate, color="red", linestyle="--", label=f"bare PUT rate {bare_rate:.0f}/s")
    ax.axvline(scaling["batch_concurrency"], color="green", alpha=0.3, label="children run at once")
    ax.set_xticks(xs or [1, 2, 4])
    ax.set_xlabel("parallel children (array size)")
    ax.set_ylabel("variants per second")
    ax.set_title(f"Scaling: {scaling['total_variants']} variants")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
