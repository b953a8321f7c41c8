"""`nox -s chaos [-- --profile short|long]`: the perf suite's load (concurrent executions and standalone Batch
array jobs) on the deployed local stack with faults switched on in the local cloud (Fargate Spot reclaims,
S3 503 SlowDown, Lambda throttling; localcloud/faults.py), then, faults off, the proof that nothing was lost.

Verified after the fact, as perf does (tests/perf/verify.py, reused): every run SUCCEEDED and wrote every
object, and exactly one completion message arrived per execution once no further message came for a quiet
window; then every SVG byte-identical to an offline render of the same spec, no message of the session in
the failure queue or any DLQ, every fault kind injected at least once, every execution's scratch clean-up
job SUCCEEDED (Spot reclaims hit them too), the Batch attempts (render and clean-up jobs) and execution
histories agreeing with the fault counters, and no unexpected local-cloud error. Writes build/chaos/report.md
and report.json; exits 1 on any problem, 2 when the stack is not a local one (faults exist only there).
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

from harness.paths import REPO as ROOT
from harness.target import Target
from localcloud import faults
from tests.chaos import checks, report
from tests.chaos.profiles import PROFILES
from tests.perf import ledger as ledger_mod
from tests.perf import load
from tests.perf.run import local_cloud_mark, local_cloud_problems, machine_facts
from tests.perf.verify import verify

STRAY_QUIET_RECEIVES = 3  # DLQs and the failure queue: anything there arrived long before
CLEAN_UP_TIMEOUT_S = 300  # the executions' scratch clean-up jobs, after the load (seconds each, normally)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.chaos.run", description=__doc__.splitlines()[0])
    parser.add_argument("--profile", choices=sorted(PROFILES), default="short")
    parser.add_argument("--seed", type=int, default=None, help="fault seed (default: the profile's)")
    parser.add_argument(
        "--out", type=Path, default=ROOT / "build" / "chaos", help="report directory (default build/chaos)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    profile = PROFILES[args.profile]
    session = f"chaos-{time.strftime('%m%d%H%M%S', time.gmtime())}-{secrets.token_hex(2)}"
    work_dir = args.out / session
    work_dir.mkdir(parents=True, exist_ok=True)
    began = time.monotonic()
    target = Target.of("local")
    cloud_mark = local_cloud_mark(target)
    stack = target.stack()
    if not stack.is_local:
        print("chaos: faults exist only in the local cloud; this stack has no endpoint_url", file=sys.stderr)
        return 2
    endpoint = stack["endpoint_url"]
    outputs_json = work_dir / "outputs.json"
    outputs_json.write_text(json.dumps(stack.saved_outputs(), indent=2))
    ledger_path = work_dir / "ledger.jsonl"
    machine = machine_facts()
    settings = {**profile.faults, "scope": session}
    if args.seed is not None:
        settings["seed"] = args.seed
    print(f"chaos: session {session}, profile {profile.name}, work dir {work_dir}", flush=True)
    print(f"chaos: faults {json.dumps(settings)}", flush=True)
    # The reference every run must match, rendered offline before any load (the users' spec is perf's).
    checks.reference_svgs("perf-load", profile.run_variants, profile.run_variants_per_child)

    with faults.set(endpoint, **settings) as switched:
        load_result = load.run_load(
            profile.load_profile(),
            session=session,
            outputs_json=outputs_json,
            ledger=ledger_path,
            work_dir=work_dir,
        )
        # Each execution submits its scratch clean-up job as it ends: wait for them before the counters are
        # read, so that a Spot reclaim injected into one is in them.
        started_executions = [
            r for r in ledger_mod.read(ledger_path) if r["type"] == "started" and r.get("execution_arn")
        ]
        clean_ups = checks.wait_for_clean_ups(
            stack.client("batch"), stack.client("stepfunctions"), started_executions, CLEAN_UP_TIMEOUT_S
        )
        fault_state = switched.get()
    fault_state = {**fault_state, "cleared": not faults.get(endpoint)["active"]}
    load_wall = round(time.monotonic() - began, 1)
    print(f"chaos: load done in {load_result.wall_s:.1f} s; faults off; injected {fault_state['injected']}")

    print("chaos: verifying every run (status, objects, bytes, messages, DLQs, attempts)", flush=True)
    records = ledger_mod.read(ledger_path)
    verdict = verify(stack, records, session, quiet_receives=profile.quiet_s)
    problems = list(verdict.problems)
    starts = [r for r in records if r["type"] == "start"]
    started = {r["run_id"]: r for r in records if r["type"] == "started"}
    want = profile.runs
    for kind, n in want.items():
        got = sum(1 for r in starts if r["kind"] == kind)
        if got < n:
            problems.append(f"{n - got} of {n} {kind} runs never started (see {load_result.log_path})")
    if load_result.exit_code != 0:
        problems.append(f"locust exited {load_result.exit_code} (see {load_result.log_path})")

    variants = checks.compare_variants(stack.client("s3"), stack["renders_bucket"], starts)
    problems += [f"variant {bad}" for bad in variants["bad"]]

    executions = [r["run_id"] for r in starts if r["kind"] == "execution" and r["run_id"] in started]
    execution_starts = [started[run_id] for run_id in executions]
    histories = checks.execution_histories(stack.client("stepfunctions"), execution_starts)
    task_failures = checks.task_failures(histories)
    sizes = {r["run_id"]: r["array_size"] for r in starts}
    jobs = [(started[run_id]["job_id"], sizes[run_id]) for run_id in started if "job_id" in started[run_id]]
    for run_id, events in histories.items():
        job_id = checks.submitted_job_id(events)
        if job_id:
            jobs.append((job_id, sizes[run_id]))
        else:
            problems.append(f"execution {run_id}: no Batch job in its history")
    attempts = checks.batch_attempts(stack.client("batch"), jobs)
    clean_up_jobs = [(job["jobId"], 1) for job in clean_ups.values() if job]
    attempts["scratch_clean_ups"] = checks.batch_attempts(stack.client("batch"), clean_up_jobs)
    for run_id in executions:
        job = clean_ups.get(run_id)
        if job is None:
            problems.append(f"execution {run_id}: no scratch clean-up job in its history")
        elif job["status"] != "SUCCEEDED":
            problems.append(f"execution {run_id}: clean-up job {job['jobId']} {job['status']}")
    attempts["after_reclaims"] = checks.resumes_after_reclaims(
        stack.client("batch"), stack.client("logs"), stack["job_definition_arn"], jobs
    )
    strays = checks.stray_messages(stack, session, STRAY_QUIET_RECEIVES)
    for queue, found in strays.items():
        if found:
            runs = sorted({m["run_id"] for m in found})
            problems.append(f"{len(found)} message(s) of this session in {queue}: {', '.join(runs[:5])}")

    injected = fault_state["injected"]
    for kind in faults.KINDS:
        if settings.get(kind) and not injected.get(kind):
            problems.append(f"fault {kind} was never injected ({fault_state['seen'].get(kind, 0)} chances)")
    observed = {
        "spot_reclaim": attempts["spot_interrupted_attempts"]
        + attempts["scratch_clean_ups"]["spot_interrupted_attempts"],
        "lambda_throttle": task_failures.get(checks.LAMBDA_THROTTLED, 0),
    }
    for kind, seen_by_farm in observed.items():
        if seen_by_farm != injected.get(kind, 0):
            problems.append(
                f"fault {kind}: the local cloud injected {injected.get(kind, 0)}, the farm's records show "
                f"{seen_by_farm}"
            )
    if not fault_state["cleared"]:
        problems.append("the faults were not switched off after the load")
    cloud_problems = local_cloud_problems(cloud_mark)
    if cloud_problems:
        problems.append("the local cloud had unexpected server errors (below)")

    machine["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    result: dict[str, Any] = {
        "session": session,
        "generated_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "env": stack.env,
        "profile": profile.as_dict(),
        "machine": machine,
        "wall_s": round(time.monotonic() - began, 1),
        "load_wall_s": round(load_result.wall_s, 1),
        "load_phase_ended_after_s": load_wall,
        "ok": not problems,
        "faults": {**fault_state, "observed_by_the_farm": observed},
        "runs": verdict.runs,
        "messages": verdict.messages,
        "variants": variants,
        "batch": attempts,
        "task_failures": dict(task_failures),
        "stray_messages": {queue: len(found) for queue, found in strays.items()},
        "load": {"operations": load_result.operations, "failures": load_result.failures},
        "problems": problems,
        "local_cloud_errors": cloud_problems,
        "work_dir": str(work_dir),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    report.write_json(result, args.out / "report.json")
    report.write_markdown(result, args.out / "report.md")
    print((args.out / "report.md").read_text(), flush=True)
    if cloud_problems:
        print("chaos: the local cloud had unexpected server errors:", *cloud_problems, sep="\n", flush=True)
    print(f"chaos: {'FAILED' if problems else 'passed'} in {result['wall_s']} s", flush=True)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
