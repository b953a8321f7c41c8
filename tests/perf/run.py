"""`nox -s perf [-- --profile seed|stress]`: locust load on the deployed stack, then the benchmarks, then an
independent verification of every run; writes perf-report.json, perf-report.md and perf-scaling.png.

Local by default (deploys the local stack when nothing is deployed); aws with FARM_ENV=aws or --env aws, or
any saved outputs with FARM_OUTPUTS_JSON. Exits 1 when any run failed or was lost, or any target was missed
(every target is a median of three rounds measured in this run; a miss is explained by the measured per-phase
split of its executions).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from harness.paths import REPO as ROOT
from harness.target import Target
from tests.perf import aws_model, load, phases, report, s3ceiling, teardown
from tests.perf import ledger as ledger_mod
from tests.perf.bench import Benchmarks, batch_concurrency, local_runtime
from tests.perf.profiles import PROFILES
from tests.perf.verify import verify


def local_cloud_mark(target: Target) -> dict[str, Any] | None:
    """Where the local cloud's error counter and log stand now; None when this run does not deploy to it."""
    if not target.deploys_when_missing:
        return None
    from localcloud import lifecycle

    return lifecycle.error_mark()


def local_cloud_problems(mark: dict[str, Any] | None) -> list[str]:
    """The unexpected server errors the local cloud counted, and the tracebacks its log gained, since mark."""
    if mark is None:
        return []
    from localcloud import lifecycle

    return lifecycle.new_errors(mark)


def machine_facts(stack=None) -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "moto": _version("moto"),
        "locust": _version("locust"),
        "batch_children_at_once": batch_concurrency(stack) if stack is not None else None,
    }


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _stack_source() -> str:
    saved = os.environ.get("FARM_OUTPUTS_JSON")
    return f"FARM_OUTPUTS_JSON={saved}" if saved else "terraform output (harness.infra.ensure_deployed)"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.run", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="seed")
    parser.add_argument(
        "--env", default=os.environ.get("FARM_ENV", "local"), help="envs/<ENV> (default local)"
    )
    parser.add_argument("--skip-load", action="store_true", help="benchmarks only")
    parser.add_argument("--skip-benchmarks", action="store_true", help="locust load only")
    parser.add_argument(
        "--out", type=Path, default=ROOT, help="where the report files go (default: repo root)"
    )
    parser.add_argument(
        "--note", action="append", default=[], help="a line for the report's notes (repeatable)"
    )
    return parser.parse_args(argv)


def run_benchmarks(bench: Benchmarks, profile, stack) -> dict[str, Any]:
    results: dict[str, Any] = {"errors": {}}
    steps = [
        ("worker", lambda: bench.worker(profile.worker_variants, profile.worker_repeats)),
        ("end_to_end", lambda: bench.end_to_end(profile.e2e_variants, profile.e2e_repeats)),
        ("scaling", lambda: bench.scaling(profile.scaling_variants)),
    ]
    if profile.huge_variants:
        steps.append(("huge", lambda: bench.huge(profile.huge_variants)))
    if stack.is_local:
        steps.append(("s3", lambda: s3_ceiling(bench, stack)))
        steps.append(("teardown", lambda: teardown.listing_scaling(profile.teardown_counts, versions=2)))
    steps.append(("aws_model", lambda: aws_model.paper()))
    for name, step in steps:
        if name in ("end_to_end", "scaling", "huge", "s3") and not bench.bodies:
            results["errors"][name] = "skipped: no bare PUT rate (the worker benchmark failed)"
            continue
        try:
            results[name] = step()
        except Exception as exc:  # one failed benchmark must not hide the others
            results["errors"][name] = f"{type(exc).__name__}: {exc}"
            print(f"perf: benchmark {name} failed: {exc}", flush=True)
    return results


def s3_ceiling(bench: Benchmarks, stack) -> dict[str, Any]:
    """The local S3's bare-PUT rate with the local cloud's speed-ups on and off, and stock moto's, with the
    same bodies, headers and concurrency."""
    with_and_without = s3ceiling.speedup_ab(stack, bench.bodies)
    stock = s3ceiling.stock_moto_rate(bench.bodies)
    return {
        "speedups": with_and_without,
        "stock_moto": stock,
        "vs_stock_moto": round(with_and_without["on_per_s"] / stock["per_s"], 3),
    }


def targets(bench: dict[str, Any]) -> dict[str, bool]:
    """Every enforced target of this run: name -> met."""
    met: dict[str, bool] = {}
    if "worker" in bench:
        met["worker"] = bench["worker"]["pass"]
    if "end_to_end" in bench:
        met["end_to_end"] = bench["end_to_end"]["pass"]
        met["fixed_overhead"] = bench["end_to_end"]["fixed_overhead_pass"]
    if "huge" in bench:
        met["huge"] = bench["huge"]["status"] == "SUCCEEDED"
    return met


def explain(bench: dict[str, Any]) -> list[str]:
    """Where a target is missed, what this run measured about it (the per-phase split of its executions)."""
    notes = []
    worker = bench.get("worker")
    if worker and not worker["pass"]:
        notes.append(
            f"worker ratio {worker['ratio']:.2f} misses {worker['target']}: rounds "
            + "; ".join(
                f"batch child {r['batch_child']['per_s']}/s vs bare {r['bare_per_s']}/s "
                f"(host-process child {r['process_child']['per_s']}/s with its start-up)"
                for r in worker["rounds"]
            )
        )
    e2e = bench.get("end_to_end")
    if e2e and not e2e["fixed_overhead_pass"]:
        notes.append(
            f"fixed overhead {e2e['fixed_overhead_s']:.2f} s misses {e2e['fixed_overhead_target']}: "
            + " | ".join(phases.phase_line(r) for r in e2e["one_variant"])
        )
    if e2e and not e2e["pass"]:
        notes.append(
            f"the {e2e['large']['variants']:,}-variant executions miss {e2e['target']} (median score "
            f"{e2e['score']:.2f} of the limit): "
            + " | ".join(
                f"{r['wall_s']:.1f} s vs limit {r['limit_s']:.1f} s, {r['children']} children: "
                + phases.phase_line(r)
                for r in e2e["rounds"]
            )
        )
    return notes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = PROFILES[args.profile]
    session = f"perf-{time.strftime('%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(2)}"
    work_dir = ROOT / "build" / "perf" / session
    work_dir.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    target = Target.of(args.env)
    cloud_mark = local_cloud_mark(target)
    stack = target.stack()
    outputs_json = work_dir / "outputs.json"
    outputs_json.write_text(json.dumps(stack.saved_outputs(), indent=2))
    ledger_path = work_dir / "ledger.jsonl"
    machine = machine_facts(stack)
    machine["runtime"], _ = local_runtime(stack)  # how Batch children and Lambdas run in this run
    print(
        f"perf: session {session}, profile {profile.name}, env {stack.env}, runtime {machine['runtime']}, "
        f"work dir {work_dir}",
        flush=True,
    )

    load_result = None
    if not args.skip_load:
        load_result = load.run_load(profile, session=session, outputs_json=outputs_json, ledger=ledger_path,
                                    work_dir=work_dir)  # fmt: skip
    bench_results: dict[str, Any] = {}
    if not args.skip_benchmarks:
        ledger = ledger_mod.Ledger(ledger_path)
        bench = Benchmarks(stack, ledger, session)
        bench_results = run_benchmarks(bench, profile, stack)
        ledger.close()

    print("perf: verifying every run (status, objects, completion messages)", flush=True)
    records = ledger_mod.read(ledger_path)
    verdict = verify(stack, records, session)
    if load_result is not None:
        want = (profile.execution_users + profile.batch_users) * profile.iterations
        got = sum(
            1 for r in records if r["type"] == "start" and ("-ex-" in r["run_id"] or "-job-" in r["run_id"])
        )
        if got < want:
            verdict.problems.append(
                f"{want - got} of {want} load runs never started (see {load_result.log_path})"
            )
        if load_result.exit_code != 0:
            verdict.problems.append(f"locust exited {load_result.exit_code} (see {load_result.log_path})")
    for name, error in (bench_results.get("errors") or {}).items():
        verdict.problems.append(f"benchmark {name}: {error}")

    met = targets(bench_results)
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result = {
        "session": session,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "env": stack.env,
        "profile": profile.as_dict(),
        "machine": machine,
        "wall_s": round(time.monotonic() - began, 1),
        "runs_ok": verdict.ok,
        "targets_met": met,
        "load": None if load_result is None else {
            "wall_s": round(load_result.wall_s, 1),
            "operations": load_result.operations,
            "failures": load_result.failures,
        },
        "verification": verdict.as_dict(),
        "benchmarks": bench_results,
        "notes": explain(bench_results) + args.note,
        "stack_source": _stack_source(),
        "work_dir": str(work_dir),
    }  # fmt: skip
    args.out.mkdir(parents=True, exist_ok=True)
    report.write_json(result, args.out / "perf-report.json")
    if "scaling" in bench_results:
        bare = (bench_results.get("worker") or {}).get("bare_put_per_s")
        report.write_scaling_png(bench_results["scaling"], bare, args.out / "perf-scaling.png")
    report.write_markdown(result, args.out / "perf-report.md")

    print((args.out / "perf-report.md").read_text(), flush=True)
    cloud_problems = local_cloud_problems(cloud_mark)
    if cloud_problems:
        print("perf: the local cloud had unexpected server errors:", *cloud_problems, sep="\n", flush=True)
    missed = sorted(name for name, ok in met.items() if not ok)
    if missed:
        print(f"perf: targets missed: {', '.join(missed)}", flush=True)
    failed = not verdict.ok or bool(missed) or bool(cloud_problems)
    print(f"perf: {'FAILED' if failed else 'passed'} in {result['wall_s']} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
