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
    lines = ["", "## Targets (each a median of three rounds measured in this run, enforced)", ""]
    lines += ["| target | measured | limit | verdict |", "|---|---|---|---|"]
    worker, e2e = bench.get("worker"), bench.get("end_to_end")
    if worker:
        lines.append(
            f"| worker: one Batch child's render+upload rate vs bare PUTs ({worker['variants']} variants, "
            f"{worker['upload_concurrency']} uploads at once) | {worker['worker_per_s']}/s vs "
            f"{worker['bare_put_per_s']}/s = {worker['ratio']:.2f} | {worker['target']} "
            f"| {_verdict(worker['pass'])} |"
        )
    if e2e:
        large = e2e["large"]
        lines.append(
            f"| end to end: {large['variants']:,}-variant execution at default sizing ({large['children']} "
            f"{'child' if large['children'] == 1 else 'children'} of {large['variants_per_child']}) "
            f"| {large['wall_s']:.1f} s vs bare-PUT "
            f"{large['bare_put_s']:.1f} s = {large['ratio']:.2f}x; score {e2e['score']:.2f} of the limit "
            f"| {e2e['target']}: {large['limit_s']:.1f} s | {_verdict(e2e['pass'])} |"
        )
        warm_up_s = (e2e.get("one_variant_warm_up") or {}).get("wall_s", float("nan"))
        lines.append(
            "| end to end: fixed overhead (1-variant execution, start to stop; the warm-up execution before "
            f"them, cold Lambdas: {warm_up_s:.2f} s) "
            f"| {e2e['fixed_overhead_s']:.2f} s "
            f"| {e2e['fixed_overhead_target']} | {_verdict(e2e['fixed_overhead_pass'])} |"
        )
    huge = bench.get("huge")
    if huge:
        lines.append(
            f"| stress: {huge['variants']:,}-variant execution at default sizing | {huge['wall_s']:.1f} s, "
            f"{huge['children']} {'child' if huge['children'] == 1 else 'children'} of "
            f"{huge['variants_per_child']}, {huge['status']} | every variant "
            f"and one message (verified below) | {_verdict(huge['status'] == 'SUCCEEDED')} |"
        )
    for name, error in (bench.get("errors") or {}).items():
        lines.append(f"| {name} | error: {error[:200]} | - | **FAILED** |")
    lines += _execution_lines(bench)
    lines += _s3_lines(bench.get("s3"), bench.get("teardown"))
    scaling = bench.get("scaling")
    if scaling:
        curve = ", ".join(f"{p['children']}: {p['per_s']}/s (x{p['speedup']})" for p in scaling["points"])
        lines += ["", "## Scaling", ""]
        lines += [
            f"{scaling['total_variants']} variants as standalone Batch arrays (the stack runs "
            f"{scaling['batch_concurrency']} children at once): {curve}.",
            "",
            "![scaling](perf-scaling.png)",
        ]
    if worker:
        lines += ["", "## Worker rounds", ""]
        lines += ["Every client signs with a session of the job role (the bare loop too).", ""]
        lines += [
            "| round | Batch child (slice) | host-process child (with start-up) | bare PUT (mean of the runs "
            "before and after the Batch child) | ratio |"
        ]
        lines += ["|---:|---:|---:|---:|---:|"]
        for i, r in enumerate(worker["rounds"]):
            lines.append(
                f"| {i} | {r['batch_child']['per_s']}/s | {r['process_child']['per_s']}/s "
                f"| {r['bare_per_s']}/s "
                f"| {r['ratio']:.2f} |"
            )
        lines += start_up_lines(worker.get("start_up"))
    lines += _aws_lines(bench.get("aws_model"))
    return lines


PHASES = ("validate", "queue_wait", "child_start_up", "render", "upload_wait", "children",
          "batch_to_workflow", "publish", "other")  # fmt: skip


def _phase(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float | int) else f"{value['median']:.2f} ({value['max']:.2f})"


def _execution_lines(bench: dict[str, Any]) -> list[str]:
    """Every benchmark execution: ValidateInput's choice, predicted vs measured, and the per-phase split."""
    e2e = bench.get("end_to_end") or {}
    warm_up = [e2e["one_variant_warm_up"]] if e2e.get("one_variant_warm_up") else []
    runs = warm_up + list(e2e.get("one_variant") or []) + list(e2e.get("rounds") or [])
    if bench.get("huge"):
        runs.append(bench["huge"])
    if not runs:
        return []
    lines = ["", "## Executions: model vs measured, and where the time went (s)", ""]
    lines += [
        "Predicted: ValidateInput's cost model for the Render step (one child start-up plus variants / the "
        "children's rate, capped by the S3 ceiling). Child phases: the median child (the slowest in "
        "brackets).",
        "",
        "| run | variants | children | predicted render | measured render (children) | total | "
        + " | ".join(p.replace("_", " ") for p in PHASES)
        + " |",
        "|---|---:|---:|---:|---:|---:|" + "---:|" * len(PHASES),
    ]
    for r in runs:
        split = r.get("phases") or {}
        lines.append(
            f"| {r['run_id'].rsplit('-', 2)[-2] + '-' + r['run_id'].rsplit('-', 1)[-1]} | {r['variants']:,} "
            f"| {r.get('children')} | {_phase(r.get('predicted_wall_s'))} | {_phase(split.get('children'))} "
            f"| {r['wall_s']:.2f} | " + " | ".join(_phase(split.get(p)) for p in PHASES) + " |"
        )
    return lines


def _s3_lines(s3: dict[str, Any] | None, teardown: dict[str, Any] | None) -> list[str]:
    lines = []
    if s3:
        on_off, stock = s3["speedups"], s3["stock_moto"]
        lines += ["", "## The local S3 ceiling (bare PUTs, same bodies, headers and concurrency)", ""]
        lines += ["| server | PUT/s (median) | runs |", "|---|---:|---|"]
        lines.append(f"| local cloud, speed-ups on | {on_off['on_per_s']} | {on_off['on_runs']} |")
        lines.append(f"| local cloud, speed-ups off | {on_off['off_per_s']} | {on_off['off_runs']} |")
        lines.append(f"| stock moto | {stock['per_s']} | {stock['runs']} |")
        lines += [
            "",
            f"Speed-ups on vs off: **{on_off['ratio']:.2f}x**; the local cloud vs stock moto: "
            f"**{s3['vs_stock_moto']:.2f}x**. Stock moto: {stock['setup']}",
        ]
    if teardown:
        lines += ["", "## Tear-down: emptying a versioned bucket", ""]
        lines += [
            f"| objects (x {teardown['versions']} versions) | speed-ups off s | speed-ups on s |",
            "|---:|---:|---:|",
        ]
        for count in teardown["counts"]:
            lines.append(f"| {count:,} | {teardown['off_s'][str(count)]} | {teardown['on_s'][str(count)]} |")
        lines += [
            "",
            f"Growth from the smaller to the larger count: off {teardown['growth_off']:.2f}x, on "
            f"{teardown['growth_on']:.2f}x (linear: the count's ratio). {teardown['method']}",
        ]
    return lines


def _aws_lines(paper: dict[str, Any] | None) -> list[str]:
    if not paper:
        return []
    lines = ["", "## On paper: the model on AWS with the `envs/aws` defaults (not measured)", ""]
    lines += [
        "| variants | children | per child | predicted wall s | S3 PUT/s (share of the prefix limit) | "
        "Fargate Spot $ | on-demand $ | S3 PUT requests $ |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in paper["predictions"]:
        lines.append(
            f"| {p['variants']:,} | {p['children']} | {p['variants_per_child']:,} "
            f"| {p['predicted_wall_s']:.0f} "
            f"| {p['s3_put_per_s']:,.0f} ({p['s3_prefix_share']:.0%} of {p['s3_prefix_limit_per_s']:,}) "
            f"| {p['compute_cost_spot_usd']:.4f} | {p['compute_cost_on_demand_usd']:.4f} "
            f"| {p['s3_put_cost_usd']:.2f} |"
        )
    lines += [
        "",
        f"Up to {paper['max_parallel_children']} children at once. Prices: {paper['prices']['source']}.",
    ]
    lines += ["Assumptions:"] + [f"- {a}" for a in paper["assumptions"]]
    lines += [f"- why: {p['basis']}" for p in paper["predictions"]]
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
