"""The three benchmarks, each a ratio against the bare S3 PUT rate measured in the same run.

(1) worker: one Batch child (and, reported beside, one `python -m render_worker` host process) vs a bare loop
    of PUTs of the same bytes to the same endpoint at the worker's upload concurrency, all three signed by a
    session of the job role (job_role_env);
(2) end to end: a large execution's wall time vs (variants / bare PUT rate), and a 1-variant execution;
(3) scaling: variants/s of standalone jobs of 1, 2 and 4 children over the same total.
Runs they start go to the ledger, so the final verification covers them like the load runs.

Beside (1), the per-child start cost both ways in the same run (`start_up_costs`): a host Python importing
boto3, jsonschema and the worker (process mode's child), and, when the local cloud runs Batch in containers,
`podman run` of the deployed job definition's image doing the same imports with the Batch runner's own flags
(container mode's child).
"""

from __future__ import annotations

import math
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.parse
import uuid
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import boto3

from farm.client import FarmClient
from tests.perf import ops, phases, specs
from tests.perf.ledger import Ledger

UPLOAD_CONCURRENCY = 16  # contracts.md: the worker's default
WORKER_TARGET = 0.9  # a child's render+upload rate against the bare PUT rate (issue 13)
E2E_FACTOR, E2E_SLACK_S = 1.3, 5.0  # a large execution's limit: factor x bare-PUT time + one start-up + slack
FIXED_OVERHEAD_TARGET_S = 2.0  # a 1-variant execution, start to stop
START_UP_IMPORTS = "import boto3, jsonschema, render_worker"  # what a child does before its first variant
START_UP_REPEATS = 3  # each way; the median is reported
NOT_CONTAINER_REASON = "process mode: no container runtime"


def batch_concurrency(stack) -> int:
    """Children the stack runs at once: what its compute environments allow (the sizing model's
    max_parallel_children), capped locally by the host (LOCALCLOUD_BATCH_CONCURRENCY, default the cores)."""
    allowed = stack.sizing_model().max_parallel_children
    if not stack.is_local:
        return allowed
    from localcloud import config

    return min(allowed, config.batch_concurrency())


def _kms_key(stack) -> str | None:
    return (stack.outputs.get("kms_key_arns") or {}).get("storage")


def _child_env(stack, **contract: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "AWS_BATCH_JOB_ARRAY_INDEX"}
    env.update(AWS_DEFAULT_REGION=stack["region"], AWS_REGION=stack["region"], **contract)
    if stack.is_local:
        env.update(stack.local_env())  # the endpoint of this boot of the local cloud
    env.update(job_role_env(stack))  # signed as the Batch child signs
    return env


def job_role_env(stack) -> dict[str, str]:
    """Locally: AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN of a fresh session of the job
    definition's job role (sts:AssumeRole with the admin keys). A Batch child signs with its job role, and the
    local cloud evaluates IAM for such a session but passes admin requests straight through (about 10% of its
    PUT rate on the 2-core machine), so the bare loop and the process child sign as the Batch child does. On
    AWS: {} (the harness's own credentials; AWS evaluates IAM for every caller alike)."""
    if not stack.is_local:
        return {}
    role = job_definition(stack)["containerProperties"]["jobRoleArn"]
    found = stack.client("sts").assume_role(RoleArn=role, RoleSessionName="perf-bare-puts")["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": found["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": found["SecretAccessKey"],
        "AWS_SESSION_TOKEN": found["SessionToken"],
    }


def job_role_s3(stack):
    """An S3 client signed as the Batch child signs (job_role_env), with the stack's client settings."""
    role = job_role_env(stack)
    if not role:
        return stack.client("s3")
    kwargs = {**stack.local_credentials(), "aws_access_key_id": role["AWS_ACCESS_KEY_ID"],
              "aws_secret_access_key": role["AWS_SECRET_ACCESS_KEY"],
              "aws_session_token": role["AWS_SESSION_TOKEN"]}  # fmt: skip
    return boto3.client("s3", config=stack.client_config(), **kwargs)


def start_up_seconds() -> float:
    """A child's cost before its first variant: a Python process importing boto3, jsonschema, the worker."""
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", START_UP_IMPORTS], check=True)
    return time.perf_counter() - started


def local_runtime(stack) -> tuple[str, str | None]:
    """How the deployed stack runs Batch children: ("container" | "process" | "aws" | "unknown", why there
    is no container measurement, None when there is one). Local: the health document's "runtime"."""
    if not stack.is_local:
        return "aws", "not a local cloud: its children run on Fargate, not measured here"
    from localcloud import lifecycle

    port = urllib.parse.urlsplit(stack["endpoint_url"]).port
    found = lifecycle.status(port)
    if found is None:
        return "unknown", f"the local cloud at {stack['endpoint_url']} does not answer"
    runtime = found.get("runtime") or "process"
    return runtime, None if runtime == "container" else NOT_CONTAINER_REASON


def job_definition(stack) -> dict[str, Any]:
    """The deployed job definition as Batch describes it."""
    arn = stack["job_definition_arn"]
    found = stack.client("batch").describe_job_definitions(jobDefinitions=[arn])["jobDefinitions"]
    if not found:
        raise RuntimeError(f"job definition {arn} not found")
    return found[0]


def start_up_spec(definition: dict[str, Any]):
    """The Batch runner's ContainerSpec for a child of `definition` whose command only does the imports: the
    definition's image, environment, memory, vCPUs, user and Linux settings (no volume: imports read none)."""
    from localcloud import batch_env

    props = definition.get("containerProperties") or {}
    env = {e["name"]: str(e.get("value", "")) for e in props.get("environment") or []}
    return batch_env.spec_of(props, {}, ["python", "-c", START_UP_IMPORTS], env, [])


def container_image(stack, image_ref: str) -> tuple[str, bool]:
    """The local image a job naming `image_ref` runs, and whether this call pulled it (then the caller
    untags it). localcloud.containers.resolve_image for public and local images; a reference to the local
    registry (the deployed digest) is used from the shared store when the cloud already pulled it, else
    pulled here as any client would, with ECR's GetAuthorizationToken (the registry's password lives in the
    server, so resolve_image cannot pull from this process)."""
    from localcloud import containers

    if containers.local_image_for(image_ref) or image_ref.startswith(containers.LOCAL_IMAGES_PREFIX):
        return containers.resolve_image(image_ref), False
    if containers.image_exists(image_ref):
        return image_ref, False
    from harness import image as farm_image

    user, password = farm_image.registry_credentials(stack.client("ecr"))
    insecure = ["--tls-verify=false"] if farm_image.insecure_registry(image_ref) else []
    creds = f"{user}:{password}"
    containers.run_podman("pull", "--quiet", *insecure, "--creds", creds, image_ref, timeout=600)
    return image_ref, True


def container_argv(spec, image: str, name: str, cgroup: str) -> tuple[list[str], dict[str, str]]:
    """`podman run` of a child and its client environment, as the Batch runner builds it (host network,
    --memory/--memory-swap, --cpus, --user, ...): the flags cannot drift from what jobs get."""
    from localcloud import batch_runner

    return batch_runner.podman_run_argv(spec, image, name=name, job_id=name, cgroup=cgroup)


def container_start_up_seconds(spec, image: str) -> float:
    """One child started as the Batch runner starts it: `podman run` to exit, and the container's removal
    (which the runner does before the slot is free)."""
    from localcloud import containers

    name = containers.container_name(f"perf-{uuid.uuid4().hex[:12]}")
    cgroup = containers.cgroup_parent(name, "child")  # /localcloud/<name>/child: all of it removed below
    argv, env = container_argv(spec, image, name, cgroup)
    removed = False
    try:
        started = time.perf_counter()
        done = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=300, check=False)  # fmt: skip
        containers.remove(name)
        removed = True
        seconds = time.perf_counter() - started
    finally:
        if not removed:
            containers.remove(name)
        containers.remove_cgroup(f"/{containers.CGROUP_PARENT}/{name}")
    if done.returncode != 0:
        raise RuntimeError(f"`podman run` of {image} exited {done.returncode}: {done.stderr.strip()[-500:]}")
    return seconds


def start_up_costs(stack, repeats: int = START_UP_REPEATS) -> dict[str, Any]:
    """The per-child start cost both ways in this run, medians of `repeats`: process_s (a host Python), and
    container_s (`podman run` of the deployed job definition's image) when the local cloud runs containers,
    else None with the reason."""
    process_runs = [round(start_up_seconds(), 3) for _ in range(repeats)]
    runtime, reason = local_runtime(stack)
    result: dict[str, Any] = {
        "runtime": runtime,
        "repeats": repeats,
        "imports": START_UP_IMPORTS,
        "process_s": round(statistics.median(process_runs), 3),
        "process_runs": process_runs,
        "container_s": None,
        "container_runs": [],
        "container_reason": reason,
    }
    if reason is None:
        try:
            spec = start_up_spec(job_definition(stack))
            result.update(image=spec.image, memory_mib=spec.memory_mib, vcpus=spec.vcpus)
            image, pulled_here = container_image(stack, spec.image)
            try:
                runs = [round(container_start_up_seconds(spec, image), 3) for _ in range(repeats)]
            finally:
                if pulled_here:
                    from localcloud import containers

                    containers.run_podman("rmi", image, check=False)
            result.update(container_s=round(statistics.median(runs), 3), container_runs=runs)
        except Exception as exc:  # the worker benchmark still stands without this number
            result["container_reason"] = f"failed: {type(exc).__name__}: {exc}"[:600]
    container = "-" if result["container_s"] is None else f"{result['container_s']:.2f} s"
    print(
        f"perf: per-child start ({runtime} mode, median of {repeats}): process {result['process_s']:.2f} s, "
        f"container {container}" + (f" ({result['container_reason']})" if result["container_reason"] else ""),
        flush=True,
    )
    return result


def start_up_of(costs: dict[str, Any]) -> float:
    """One child's start-up in the runtime this stack's jobs use: the container's when measured, else the
    host process's."""
    return costs["container_s"] if costs.get("container_s") is not None else costs["process_s"]


def run_worker_child(stack, *, spec_uri: str, run_id: str, variants: int, scratch: str) -> float:
    renders = stack["renders_bucket"]
    env = _child_env(
        stack,
        SPEC_URI=spec_uri,
        RUN_ID=run_id,
        OUTPUT_URI=f"s3://{renders}/{run_id}/",
        VARIANTS_PER_CHILD=str(variants),
        SCRATCH_DIR=scratch,
        OUTPUT_KMS_KEY_ID=_kms_key(stack) or "",
        UPLOAD_CONCURRENCY=str(UPLOAD_CONCURRENCY),
    )
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "render_worker"], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise ops.RunFailed(f"render_worker exited {proc.returncode}: {proc.stderr[-800:]}")
    return wall


def fetch_bodies(s3, bucket: str, keys: list[str]) -> list[tuple[str, bytes]]:
    def get(key: str) -> tuple[str, bytes]:
        return key, s3.get_object(Bucket=bucket, Key=key)["Body"].read()

    with ThreadPoolExecutor(UPLOAD_CONCURRENCY) as pool:
        return list(pool.map(get, keys))


def bare_puts(s3, bucket: str, prefix: str, bodies: list[tuple[str, bytes]], kms_key: str | None) -> float:
    """Seconds to PUT `bodies` (same keys' tails, same bytes, same headers) at the worker's concurrency."""
    extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key}  # the headers of the worker's S3Sink

    def put(item: tuple[str, bytes]) -> None:
        key, body = item
        s3.put_object(Bucket=bucket, Key=f"{prefix}{key}", Body=body, ContentType="image/svg+xml", **extra)

    started = time.perf_counter()
    with ThreadPoolExecutor(UPLOAD_CONCURRENCY) as pool:
        list(pool.map(put, bodies))
    return time.perf_counter() - started


class Benchmarks:
    def __init__(self, stack, ledger: Ledger, session: str) -> None:
        self.stack, self.ledger, self.session = stack, ledger, session
        self.client = FarmClient(stack)
        self.s3 = stack.client("s3")
        self.bare_runs: list[dict[str, float]] = []
        self.bodies: list[tuple[str, bytes]] = []
        self.child_start_up_s: float | None = None  # a child's start-up, measured by the worker benchmark

    @property
    def bare_rate(self) -> float:
        return sum(r["puts"] for r in self.bare_runs) / sum(r["seconds"] for r in self.bare_runs)

    def measure_bare(self, label: str) -> float:
        prefix = f"{self.session}-bare-{label}/"
        s3 = job_role_s3(self.stack)  # a fresh session each time: a perf run outlives one
        seconds = bare_puts(s3, self.stack["renders_bucket"], prefix, self.bodies, _kms_key(self.stack))
        self.bare_runs.append({"label": label, "puts": len(self.bodies), "seconds": round(seconds, 3),
                               "per_s": round(len(self.bodies) / seconds, 1)})  # fmt: skip
        print(f"perf: bare PUTs {label}: {len(self.bodies) / seconds:.1f}/s", flush=True)
        return round(len(self.bodies) / seconds, 1)

    # (1) worker
    def worker_bodies(self, spec: dict[str, Any], spec_uri: str, variants: int) -> list[tuple[str, bytes]]:
        """The bytes the worker renders for `spec` (keys relative to the run), from one warm-up Batch child:
        the bare loop PUTs exactly these. The warm-up also pulls the image and warms the local S3's paths."""
        run_id = self.batch_child(f"{self.session}-wj-warm-up", spec_uri, variants)["run_id"]
        keys = [f"{run_id}/{key}" for key in specs.expected_svg_keys(spec)]
        fetched = fetch_bodies(self.s3, self.stack["renders_bucket"], keys)
        return [(key.split("/", 1)[1], body) for key, body in fetched]

    def batch_job(self, run_id: str, spec_uri: str, variants: int, per_child: int, array_size: int, *,
                  timeout: float, **ledger_extra: Any) -> dict[str, Any]:  # fmt: skip
        """Submit one standalone Batch job of the spec, recorded in the ledger (start, started, end) so the
        final verification covers it, and wait for its end; DescribeJobs' job."""
        self.ledger.write("start", kind="batch", run_id=run_id, variant_count=variants,
                          variants_per_child=per_child, array_size=array_size, **ledger_extra)  # fmt: skip
        job_id = self.client.submit_job(run_id, spec_uri, variants_per_child=per_child, array_size=array_size)
        self.ledger.write("started", run_id=run_id, job_id=job_id)
        job = self.client.wait_job(job_id, timeout=timeout, poll_seconds=0.25)
        ok = job["status"] == "SUCCEEDED"
        self.ledger.write("end", run_id=run_id, ok=ok, error=None if ok else job.get("statusReason"))
        return job

    def batch_child(self, run_id: str, spec_uri: str, variants: int) -> dict[str, Any]:
        """One plain Batch job of `variants` (the runtime the local cloud runs jobs in: a container in CI):
        its slice rate from the part record's timing (render and upload; start-up is measured apart)."""
        job = self.batch_job(run_id, spec_uri, variants, variants, 1, timeout=600, catalog_id="perf-worker")
        if job["status"] != "SUCCEEDED":
            raise ops.RunFailed(f"worker job {run_id}: {job['status']} {job.get('statusReason')}")
        timing = phases.part_timing(self.s3, self.stack["renders_bucket"], run_id, "plain")
        seconds = timing["slice_ended_at"] - timing["slice_started_at"]
        return {"run_id": run_id, "slice_s": round(seconds, 3), "per_s": round(variants / seconds, 1)}

    def worker(self, variants: int, repeats: int) -> dict[str, Any]:
        """`repeats` rounds of: bare PUTs, a Batch child in the stack's runtime, bare PUTs again (the child is
        compared with the mean of the two bare runs around it, so a drift of the machine or the local S3
        during the round cancels), then a host-process child reported beside. The target is the median of
        the rounds' ratios (child slice rate / bare PUT rate)."""
        spec = specs.make_spec("perf-worker", variants)
        spec_uri = ops.put_spec(self.client, f"{self.session}-worker", spec)
        self.bodies = self.worker_bodies(spec, spec_uri, variants)
        rounds = []
        with tempfile.TemporaryDirectory(prefix="perf-scratch-") as scratch:
            for i in range(repeats):
                before = self.measure_bare(f"w{i}-before")
                job = self.batch_child(f"{self.session}-wj-{i}", spec_uri, variants)
                after = self.measure_bare(f"w{i}-after")
                bare = round((before + after) / 2, 1)
                run_id = f"{self.session}-wk-{i}"
                wall = run_worker_child(self.stack, spec_uri=spec_uri, run_id=run_id, variants=variants,
                                        scratch=scratch)  # fmt: skip
                ops.check_outputs(self.client, run_id, spec, 1, published=False)
                rounds.append({
                    "batch_child": job,
                    "process_child": {"run_id": run_id, "wall_s": round(wall, 3),
                                      "per_s": round(variants / wall, 1)},
                    "bare_per_s": bare,
                    "bare_before_after": [before, after],
                    "ratio": round(job["per_s"] / bare, 3),
                    "process_ratio": round(variants / wall / bare, 3),
                })  # fmt: skip
                print(f"perf: worker round {i}: batch child {job['per_s']}/s, process child "
                      f"{variants / wall:.1f}/s (with start-up), bare {before}/s before and {after}/s after",
                      flush=True)  # fmt: skip
        ratio = statistics.median(r["ratio"] for r in rounds)
        start_up = start_up_costs(self.stack)
        self.child_start_up_s = start_up_of(start_up)
        return {
            "variants": variants,
            "upload_concurrency": UPLOAD_CONCURRENCY,
            "rounds": rounds,
            "bare_runs": list(self.bare_runs),
            "start_up": start_up,
            "child_start_up_s": start_up_of(start_up),
            "worker_per_s": statistics.median(r["batch_child"]["per_s"] for r in rounds),
            "process_worker_per_s": statistics.median(r["process_child"]["per_s"] for r in rounds),
            "process_ratio": statistics.median(r["process_ratio"] for r in rounds),
            "bare_put_per_s": round(self.bare_rate, 1),
            "ratio": round(ratio, 3),
            "target": f">= {WORKER_TARGET} (median of {repeats})",
            "pass": ratio >= WORKER_TARGET,
        }

    # (2) end to end
    def execution(self, label: str, variants: int) -> dict[str, Any]:
        """One execution of `variants` at the stack's default sizing (ValidateInput's cost model), with its
        per-phase split and the model's prediction."""
        run_id = f"{self.session}-{label}"
        spec = specs.make_spec("perf-e2e", variants)
        spec_uri = ops.put_spec(self.client, run_id, spec)
        # variants_per_child and array_size: ValidateInput decides (verify reads them from the history)
        self.ledger.write("start", kind="execution", run_id=run_id, variant_count=variants,
                          catalog_id="perf-e2e", variants_per_child=None, array_size=None)  # fmt: skip
        started = time.perf_counter()
        arn = self.client.start(spec_uri, run_id)
        self.ledger.write("started", run_id=run_id, execution_arn=arn)
        described = self.client.wait_execution(run_id, timeout=3600, poll_seconds=0.25)
        wall = time.perf_counter() - started
        ok = described["status"] == "SUCCEEDED"
        self.ledger.write("end", run_id=run_id, ok=ok, error=None if ok else described.get("error"))
        split = phases.execution_phases(self.stack, arn)
        print(
            f"perf: execution {run_id}: {variants:,} variants in {split['total_s']:.1f} s "
            f"({described['status']}, {split['children']} children, predicted {split['predicted_wall_s']} s "
            f"for the render step): {phases.phase_line(split)}",
            flush=True,
        )
        return {
            "run_id": run_id,
            "variants": variants,
            "status": described["status"],
            "client_wall_s": round(wall, 3),
            "wall_s": split["total_s"],  # Step Functions' own start to stop
            **split,
        }

    def end_to_end(self, variants: int, repeats: int) -> dict[str, Any]:
        """Targets: a 1-variant execution's fixed overhead <= FIXED_OVERHEAD_TARGET_S (median of `repeats`),
        and a `variants` execution at default sizing <= E2E_FACTOR x the bare-PUT time + one child start-up
        + E2E_SLACK_S, the median of `repeats` rounds (each against the bare rate measured beside it)."""
        # One warm-up first, reported apart: after the worker benchmark's minutes without an execution the
        # Lambdas' warm processes have gone, and a cold start (about 0.5 s each) is no part of the overhead.
        warm_up = self.execution("e2e-1-warm-up", 1)
        small = [self.execution(f"e2e-1-{i}", 1) for i in range(repeats)]
        overhead = statistics.median(r["wall_s"] for r in small)
        if self.child_start_up_s is None:
            self.child_start_up_s = start_up_of(start_up_costs(self.stack))
        start_up = self.child_start_up_s
        rounds = []
        for i in range(repeats):
            large = self.execution(f"e2e-big-{i}", variants)
            bare = self.measure_bare(f"e2e{i}")
            bare_s = variants / bare
            limit = E2E_FACTOR * bare_s + start_up + E2E_SLACK_S
            rounds.append({**large, "bare_put_per_s": bare, "bare_put_s": round(bare_s, 3),
                           "ratio": round(large["wall_s"] / bare_s, 3), "limit_s": round(limit, 3),
                           "score": round(large["wall_s"] / limit, 3)})  # fmt: skip
        score = statistics.median(r["score"] for r in rounds)
        middle = sorted(rounds, key=lambda r: r["score"])[len(rounds) // 2]
        return {
            "one_variant_warm_up": warm_up,
            "one_variant": small,
            "fixed_overhead_s": round(overhead, 3),
            "fixed_overhead_target": f"<= {FIXED_OVERHEAD_TARGET_S} s (median of {repeats})",
            "fixed_overhead_pass": all(r["status"] == "SUCCEEDED" for r in small)
            and overhead <= FIXED_OVERHEAD_TARGET_S,
            "rounds": rounds,
            "large": middle,  # the median round
            "child_start_up_s": start_up,
            "target": f"wall <= {E2E_FACTOR} x bare-PUT time + one child start-up + {E2E_SLACK_S:g} s "
            f"(median of {repeats})",
            "score": score,
            "pass": all(r["status"] == "SUCCEEDED" for r in rounds) and score <= 1.0,
        }

    def huge(self, variants: int) -> dict[str, Any]:
        """The stress profile's one large execution at default sizing: time, children, nothing lost (the
        final verification checks every object and the one message)."""
        return self.execution("huge", variants)

    # (3) scaling
    def scaling(self, total: int, children: tuple[int, ...] = (1, 2, 4)) -> dict[str, Any]:
        spec = specs.make_spec("perf-scaling", total)
        spec_uri = ops.put_spec(self.client, f"{self.session}-scaling", spec)
        points = []
        for n in children:
            run_id = f"{self.session}-scale-{n}"
            k = math.ceil(total / n)
            started = time.perf_counter()
            job = self.batch_job(run_id, spec_uri, total, k, n, timeout=900)
            wall = time.perf_counter() - started
            points.append({"children": n, "status": job["status"], "wall_s": round(wall, 3),
                           "per_s": round(total / wall, 1)})  # fmt: skip
            print(f"perf: scaling {n} children: {total / wall:.1f} variants/s ({job['status']})", flush=True)
        base = points[0]["per_s"]
        for point in points:
            point["speedup"] = round(point["per_s"] / base, 3) if base else None
        return {"total_variants": total, "batch_concurrency": batch_concurrency(self.stack), "points": points}
