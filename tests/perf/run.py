"""`nox -s perf [-- --profile seed|stress]`: locust load on the deployed stack, then the benchmarks, then an
independent verification of every run; writes perf-report.json, perf-report.md and perf-scaling.png.

Local by default (deploys the local stack when nothing is deployed); aws with FARM_ENV=aws or --env aws, or
any saved outputs with FARM_OUTPUTS_JSON. Exits 1 when any run failed or was lost (targets missed are
reported, and fail the session only with --strict-targets).
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import math
import os
import platform
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from tests.perf import ledger as ledger_mod
from tests.perf import load, report
from tests.perf.bench import Benchmarks, batch_concurrency, local_runtime
from tests.perf.profiles import PROFILES
from tests.perf.verify import verify

ROOT = Path(__file__).resolve().parents[2]


def deployed_stack(env: str):
    from farm import infra, stack

    if os.environ.get("FARM_OUTPUTS_JSON"):
        return stack.load(env)
    return infra.ensure_deployed(env)


def local_cloud_mark(env: str) -> dict[str, Any] | None:
    """Where the local cloud's error counter and log stand now; None when this run does not deploy to it."""
    if env != "local" or os.environ.get("FARM_OUTPUTS_JSON"):
        return None
    from localcloud import lifecycle

    return lifecycle.error_mark()


def local_cloud_problems(mark: dict[str, Any] | None) -> list[str]:
    """The unexpected server errors the local cloud counted, and the tracebacks its log gained, since mark."""
    if mark is None:
        return []
    from localcloud import lifecycle

    return lifecycle.new_errors(mark)


def machine_facts() -> dict[str, Any]:
    return {
        "cores": os.cpu_count(),
        "cores_usable": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "platform": platform.platform(),
        "python": platform.python_version(),
        "moto": _version("moto"),
        "locust": _version("locust"),
        "local_batch_concurrency": batch_concurrency(),
    }


def _version(dist: str) -> str | None:
    try:
        return importlib.metadata.version(dist)
    except importlib.metadata.PackageNotFoundError:
        return None


def _stack_source() -> str:
    saved = os.environ.get("FARM_OUTPUTS_JSON")
    return f"FARM_OUTPUTS_JSON={saved}" if saved else "terraform output (farm.infra.ensure_deployed)"


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.perf.run", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="seed")
    parser.add_argument(
        "--env", default=os.environ.get("FARM_ENV", "local"), help="envs/<ENV> (default local)"
    )
    parser.add_argument("--skip-load", action="store_true", help="benchmarks only")
    parser.add_argument("--skip-benchmarks", action="store_true", help="locust load only")
    e2e_help = "k for the large execution (default: one child per local Batch slot; 100 on aws)"
    parser.add_argument("--e2e-variants-per-child", type=int, default=None, help=e2e_help)
    parser.add_argument(
        "--strict-targets", action="store_true", help="also fail when a ratio misses its target"
    )
    parser.add_argument(
        "--out", type=Path, default=ROOT, help="where the report files go (default: repo root)"
    )
    parser.add_argument(
        "--note", action="append", default=[], help="a line for the report's notes (repeatable)"
    )
    return parser.parse_args(argv)


def run_benchmarks(bench: Benchmarks, profile, stack, k_override: int | None) -> dict[str, Any]:
    results: dict[str, Any] = {"errors": {}}
    steps = [
        ("worker", lambda: bench.worker(profile.worker_variants, profile.worker_repeats)),
        (
            "end_to_end",
            lambda: bench.end_to_end(
                profile.e2e_variants, k_override or _e2e_k(profile, stack), profile.e2e_default_sizing
            ),
        ),
        ("scaling", lambda: bench.scaling(profile.scaling_variants)),
    ]
    for name, step in steps:
        if name != "worker" and not bench.bodies:
            results["errors"][name] = "skipped: no bare PUT rate (the worker benchmark failed)"
            continue
        try:
            results[name] = step()
        except Exception as exc:  # one failed benchmark must not hide the others
            results["errors"][name] = f"{type(exc).__name__}: {exc}"
            print(f"perf: benchmark {name} failed: {exc}", flush=True)
    return results


def _e2e_k(profile, stack) -> int:
    if not stack.is_local:
        return 100
    return math.ceil(
        profile.e2e_variants / batch_concurrency()
    )  # one child per slot: start-up paid once each


def explain(bench: dict[str, Any]) -> list[str]:
    """Where a target is missed, say what bounds it (from this run's numbers)."""
    notes = []
    worker = bench.get("worker")
    start_up = (worker or {}).get("start_up") or {}
    starts = "in containers" if start_up.get("runtime") == "container" else "as processes"
    if worker and not worker["pass"]:
        wall = sum(r["seconds"] for r in worker["child_runs"]) / len(worker["child_runs"])
        notes.append(
            f"worker ratio {worker['ratio']:.2f} < 0.8: a child of {worker['variants']} variants took "
            f"{wall:.1f} s, of which ~{worker['child_start_up_s']:.1f} s is Python start-up and imports; the "
            f"rest is rendering and boto3 overhead sharing {os.cpu_count()} cores with the S3 emulator."
        )
    e2e = bench.get("end_to_end")
    if e2e and not e2e["pass"]:
        large = e2e["large"]
        notes.append(
            f"end to end {large['wall_s']:.1f} s > limit {e2e['limit_s']:.1f} s: {large['array_size']} "
            f"children (the local cloud runs {batch_concurrency()} at once), fixed overhead "
            f"{e2e['fixed_overhead_s']:.1f} s per execution (Lambdas and children start {starts}), "
            f"bare-PUT floor {e2e['bare_put_s']:.1f} s."
        )
    scaling = bench.get("scaling")
    if scaling and len(scaling["points"]) > 1 and (scaling["points"][1].get("speedup") or 0) < 1.3:
        one = scaling["points"][0]["per_s"]
        ceiling = (worker or {}).get("bare_put_per_s")
        share = f" ({one / ceiling:.0%} of the bare PUT rate {ceiling}/s)" if ceiling else ""
        notes.append(
            f"scaling is flat: one child already renders {one}/s{share}; every child uploads to the same "
            "single-process S3 emulator, whose PUT rate is the ceiling, so more children add no throughput "
            f"here (and the local cloud runs {scaling['batch_concurrency']} children at once on "
            f"{os.cpu_count()} cores). On AWS each child has its own S3 bandwidth."
        )
    if e2e:
        large = e2e["large"]
        if start_up.get("container_s") is not None:
            notes.append(
                f"a child started in a container costs {start_up['container_s']:.2f} s before its first "
                f"variant, as a host process {start_up['process_s']:.2f} s (medians of this run)."
            )
        notes.append(
            f"the {large['variants']:,}-variant execution sets options.variants_per_child="
            f"{large['variants_per_child']} ({large['array_size']} children, one per local Batch slot): each "
            "child pays its start-up once (default sizing would start "
            f"{math.ceil(large['variants'] / 100)} children)."
        )
    return notes


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = PROFILES[args.profile]
    session = f"perf-{time.strftime('%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(2)}"
    work_dir = ROOT / "build" / "perf" / session
    work_dir.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    cloud_mark = local_cloud_mark(args.env)
    stack = deployed_stack(args.env)
    outputs_json = work_dir / "outputs.json"
    outputs_json.write_text(json.dumps(stack.saved_outputs(), indent=2))
    ledger_path = work_dir / "ledger.jsonl"
    machine = machine_facts()
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
        bench_results = run_benchmarks(bench, profile, stack, args.e2e_variants_per_child)
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

    targets = {n: bench_results[n]["pass"] for n in ("worker", "end_to_end") if n in bench_results}
    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result = {
        "session": session,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "env": stack.env,
        "profile": profile.as_dict(),
        "machine": machine,
        "wall_s": round(time.monotonic() - began, 1),
        "runs_ok": verdict.ok,
        "targets_met": targets,
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
    failed = not verdict.ok or (args.strict_targets and not all(targets.values())) or bool(cloud_problems)
    print(f"perf: {'FAILED' if failed else 'passed'} in {result['wall_s']} s", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
