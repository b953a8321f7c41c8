"""Plan, deploy and destroy an env: `python -m harness.infra plan|deploy|destroy [ENV]` (default: local).

plan     builds the Lambda zips, plans, and writes build/plan/<env>/plan.json and plan-summary.md (the review
         summary). envs/local is planned against the local cloud (started if needed). envs/aws is planned
         against the real account when credentials and $FARM_BACKEND_CONFIG are given, else offline: in a
         temporary copy with a local backend, against the local cloud endpoint, so a reviewer can read it.
deploy   local: starts the local cloud, forgets what this machine recorded about an earlier (now gone) boot of
         it, builds the zips, makes the state bucket when missing (harness.terraform: the state lives in S3 on
         the local cloud, shared with the pipeline's deploy build), init, apply; prints the apply time and the
         key outputs. Inside a build of the local cloud (Target.build_endpoint: CODEBUILD_BUILD_ID and
         AWS_ENDPOINT_URL set) the same against the cloud running the build, with the build role's session:
         no cloud started or restarted, the state bucket required, not made. When the local cloud runs jobs in
         containers (its runtime mode), deploy is two phases in one command: the ECR repository first
         (-target), then the worker image for the working tree is built and pushed (harness.image; reused when
         the repository already holds its tag), then everything with worker_image = <repository>@<digest>,
         recorded so every later plan/apply/destroy of the env passes the same image. aws: the same without
         the local cloud, with credentials and $FARM_BACKEND_CONFIG (worker_image from its tfvars). In both,
         where CodeDeploy owns the `live` aliases (the pipeline), it then moves them (harness/aliases.py).
destroy  removes everything deploy created.

`ensure_deployed(env)` is what live tests and the CLI call: the stack, deploying the local one when needed.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from farm import stack
from harness import aliases, image, lambda_zips, plan_summary, terraform
from harness.target import Target

PLAN_DIR = terraform.BUILD_DIR / "plan"
KEY_OUTPUTS = (
    "endpoint_url",
    "specs_bucket",
    "renders_bucket",
    "state_machine_arn",
    "job_queue_arn",
    "completion_topic_arn",
    "failure_topic_arn",
)
BACKEND_OVERRIDE = 'terraform {\n  backend "local" {}\n}\n'
# Merged into the root's provider block (override-file semantics): a local endpoint needs path-style S3.
PROVIDER_OVERRIDE = '\nprovider "aws" {\n  s3_use_path_style = true\n}\n'
PROVIDER_BLOCK = re.compile(r'^provider\s+"aws"\s*\{', re.MULTILINE)
HARNESS_VARIABLES = re.compile(r"^\s*(lambda_zip_dir|endpoint_url)\s*=")
NO_CHANGES, CHANGES = 0, 2  # `terraform plan -detailed-exitcode`
# Phase 1 of a container-mode deploy: the worker image's repository (Terraform adds what it depends on).
ECR_MODULE = "module.stack.module.ecr"
PROCESS_MODE_NOTE = "runtime: process (jobs run as host processes; no image built)"


class DeployError(RuntimeError):
    """Deploy/plan/destroy cannot proceed; the message says what is missing."""


def _localcloud():
    from localcloud import lifecycle  # imported late: the aws path never needs moto

    return lifecycle


def start_local_cloud() -> str:
    """The endpoint of the local cloud on $LOCALCLOUD_PORT, started when not running."""
    lifecycle = _localcloud()
    try:
        return lifecycle.up()
    except (lifecycle.PortTaken, lifecycle.StartFailed, lifecycle.StateDirInUse) as err:
        # another checkout's cloud on the port (AnotherCloud, a PortTaken): the message says what to do
        raise DeployError(str(err)) from err


def local_cloud() -> tuple[str, dict]:
    """(endpoint, health document) of envs/local's cloud: inside a build the cloud running the build (never
    started here), else the harness's own on $LOCALCLOUD_PORT, started when not running."""
    endpoint = Target.of("local").build_endpoint or start_local_cloud()
    health = terraform.cloud_health(endpoint)
    if health is None:
        raise DeployError(f"the local cloud at {endpoint} does not answer its health check")
    return endpoint, health


def runtime_mode(health: dict) -> str:
    """How a local cloud runs jobs and Lambdas: "container" or "process" (from its health document)."""
    return "container" if health.get("runtime") == "container" else "process"


def forget_earlier_boot(ws: terraform.Workspace, boot_id: str) -> bool:
    """What this machine recorded about a deploy to another boot of the local cloud (boot id, complete apply,
    worker image) describes a cloud that is gone, its state bucket with it (the cloud keeps nothing across
    restarts): drop it, so the next deploy applies (and pushes the image) again. True when dropped."""
    recorded = ws.boot_id_file.read_text().strip() if ws.boot_id_file.exists() else None
    if recorded is None or recorded == boot_id:
        return False
    print(f"local cloud restarted since the last deploy here (boot {recorded[:8]}, now {boot_id[:8]})")
    ws.discard_markers()
    return True


def has_credentials(environ=os.environ) -> bool:
    """Whether anything could give the provider credentials (without calling the metadata service)."""
    if (
        environ.get("AWS_ACCESS_KEY_ID")
        or environ.get("AWS_PROFILE")
        or environ.get("AWS_WEB_IDENTITY_TOKEN_FILE")
    ):
        return True
    if environ.get("AWS_CONTAINER_CREDENTIALS_FULL_URI") or environ.get(
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"
    ):
        return True
    return Path(environ.get("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials")).expanduser().exists()


def _require_account(env: str) -> None:
    missing = []
    if not has_credentials():
        missing.append("AWS credentials (AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY)")
    if not os.environ.get("FARM_BACKEND_CONFIG"):
        missing.append(
            "FARM_BACKEND_CONFIG=path/to/backend.hcl (bucket, key, region of the S3 state backend)"
        )
    if missing:
        raise DeployError(f"envs/{env} targets a real account and needs: " + "; ".join(missing))


def build_zips(env: str) -> Path:
    platform = Target.of(env).zip_platform
    lambda_zips.build(platform)
    return lambda_zips.OUT_DIRS[platform]


@contextlib.contextmanager
def env_lock(ws: terraform.Workspace) -> Iterator[None]:
    """One deploy/destroy per env at a time on this machine (parallel test workers call ensure_deployed)."""
    ws.dir.mkdir(parents=True, exist_ok=True)
    with open(ws.dir / "deploy.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def local_workspace() -> tuple[terraform.Workspace, str]:
    """envs/local's Workspace aimed at its local cloud (local_cloud), and that cloud's boot id."""
    endpoint, health = local_cloud()
    ws = terraform.workspace("local", endpoint_url=endpoint)
    ws.lambda_zip_dir = lambda_zips.OUT_DIRS["local"]
    ws.runtime = runtime_mode(health)
    return ws, health["boot_id"]


def state_repository_url(ws: terraform.Workspace) -> str | None:
    """The ECR repository URL in envs/local's state (None when the repository is not applied yet)."""
    for resource in ws.state_document().get("resources", []):
        if (
            resource.get("module") == ECR_MODULE
            and resource.get("type") == "aws_ecr_repository"
            and resource.get("mode") == "managed"
        ):
            for instance in resource.get("instances", []):
                url = instance.get("attributes", {}).get("repository_url")
                if url:
                    return url
    return None


def worker_image(ws: terraform.Workspace) -> str:
    """Phases 1 and 2 of a container-mode deploy: the ECR repository (applied alone when the state lacks it),
    then the worker image of the working tree in it (harness.image). Returns `<repository>@sha256:...`."""
    url = state_repository_url(ws)
    if url is None:
        print("phase 1: the worker image's ECR repository (and what it needs)", flush=True)
        started = time.monotonic()
        ws.run("apply", "-input=false", "-auto-approve", f"-target={ECR_MODULE}")
        print(f"phase 1: applied in {time.monotonic() - started:.1f} s", flush=True)
        url = state_repository_url(ws)
        if url is None:
            raise DeployError(f"no aws_ecr_repository in {ECR_MODULE} after the targeted apply")
    started = time.monotonic()
    ref = image.ensure_pushed(url, ws.endpoint_url, env="local")
    print(f"phase 2: worker image {ref} ready in {time.monotonic() - started:.1f} s", flush=True)
    return ref


def _print_outputs(outputs: dict) -> None:
    values = stack.unwrap(outputs)
    for name in KEY_OUTPUTS:
        if values.get(name) is not None:
            print(f"  {name:<22} {values[name]}")


def _apply(env: str, ws: terraform.Workspace, boot_id: str | None) -> float:
    """init + apply; returns the apply's seconds. The `applied` marker is written only when apply succeeds."""
    if boot_id is not None:
        forget_earlier_boot(ws, boot_id)
        ws.applied_file.unlink(missing_ok=True)
    ws.lambda_zip_dir = build_zips(env)
    ws.init()
    if boot_id is not None:
        ws.boot_id_file.write_text(boot_id + "\n")  # before apply: a half-applied state belongs to this boot
    if ws.runtime == "container":
        print("runtime: container (jobs run in containers of the worker image, pushed to the local ECR)")
        ws.record_image(worker_image(ws))  # before apply, as the boot id: later plans must pass the same
    elif ws.runtime == "process":
        print(PROCESS_MODE_NOTE)
    started = time.monotonic()
    ws.run("apply", "-input=false", "-auto-approve")
    if boot_id is not None:
        ws.applied_file.write_text(boot_id + "\n")
    return time.monotonic() - started


def _deploy_locked(env: str, ws: terraform.Workspace, boot_id: str | None) -> dict:
    try:
        elapsed = _apply(env, ws, boot_id)
    except terraform.TerraformError as err:
        if boot_id is None or not Target.of(env).manages_local_cloud:
            raise  # an account, or a build's cloud: never this harness's to restart
        # moto has no idempotency tokens: a create the provider retried after a dropped connection answers
        # "already exists" and no re-apply can converge. The local cloud is disposable: start it afresh, once.
        reason = str(err).splitlines()[0]
        print(f"\napply failed ({reason}); restarting the local cloud empty and applying again")
        _localcloud().down()
        ws.endpoint_url, health = local_cloud()
        boot_id = health["boot_id"]
        elapsed = _apply(env, ws, boot_id)
    stack.load.cache_clear()
    outputs = ws.outputs()
    print(f"\napplied envs/{env} in {elapsed:.1f} s")
    _print_outputs(outputs)
    shift_aliases(env, outputs)
    return outputs


def shift_aliases(env: str, outputs: dict) -> None:
    """Where CodeDeploy owns the `live` aliases (the pipeline), the apply left them behind: CodeDeploy moves
    each to its function's newest version (harness/aliases.py), as the pipeline's Deploy stage does."""
    deployed = stack.Stack(env=env, outputs=stack.unwrap(outputs))
    started = time.monotonic()
    try:
        shifted = aliases.shift_live_aliases(deployed)
    except aliases.ShiftFailed as err:
        raise DeployError(f"CodeDeploy did not move the live aliases: {err}") from err
    for line in shifted:
        print(f"  alias {line}")
    if shifted:
        print(f"CodeDeploy: live aliases checked and moved in {time.monotonic() - started:.1f} s")


def deploy(env: str = "local") -> dict:
    """Apply envs/<env>; returns the raw outputs."""
    if Target.of(env).local_cloud:
        ws, boot_id = local_workspace()
    else:
        _require_account(env)
        ws, boot_id = terraform.workspace(env), None
    with env_lock(ws):
        return _deploy_locked(env, ws, boot_id)


def release_job_queue(ws: terraform.Workspace) -> bool:
    """Local only, before `terraform destroy`: disable and delete the stack's Batch job queue through the API.
    The provider waits a fixed 30 s before its first look both after disabling a queue and after deleting it
    (waitJobQueueUpdated/waitJobQueueDeleted: Delay 30 s), a minute on the destroy's longest path, for what
    the local cloud does at once; Terraform's refresh then finds the queue gone and drops it from the state.
    Best effort: on any error Terraform deletes the queue itself. True when the queue was deleted here."""
    try:
        outputs = stack.unwrap(ws.outputs())
        queue = outputs.get("job_queue_arn")
        if not queue or not outputs.get("endpoint_url"):
            return False
        batch = stack.Stack(env="local", outputs=outputs).client("batch")
        batch.update_job_queue(jobQueue=queue, state="DISABLED")
        batch.delete_job_queue(jobQueue=queue)
    except Exception as err:  # noqa: BLE001 - anything: Terraform's own delete follows
        print(f"envs/local: the job queue is left to Terraform ({type(err).__name__}: {err})")
        return False
    print(f"envs/local: job queue {queue.rsplit('/', 1)[-1]} disabled and deleted here")
    return True


def _destroy_local(env: str) -> None:
    """Destroy envs/local; the state object stays, with no resources in it (as an account's would)."""
    target = Target.of(env)
    if target.manages_local_cloud and terraform.cloud_health(target.local_cloud_endpoint) is None:
        print("envs/local: nothing deployed (the local cloud is not running; it keeps nothing over restarts)")
        terraform.workspace(env).discard_markers()
        return
    ws, boot_id = local_workspace()
    with env_lock(ws):
        forget_earlier_boot(ws, boot_id)
        if not ws.has_state():
            print("envs/local: nothing deployed")
            ws.discard_markers()
            return
        ws.lambda_zip_dir = build_zips(env)
        ws.init()
        started = time.monotonic()
        release_job_queue(ws)
        ws.run("destroy", "-input=false", "-auto-approve")
        ws.discard_markers()
        print(f"envs/local: terraform destroy took {time.monotonic() - started:.1f} s")


def destroy(env: str = "local") -> None:
    if Target.of(env).local_cloud:
        _destroy_local(env)
    else:
        _require_account(env)
        ws = terraform.workspace(env)
        with env_lock(ws):
            ws.lambda_zip_dir = build_zips(env)
            ws.init()
            ws.run("destroy", "-input=false", "-auto-approve")
    stack.load.cache_clear()
    print(f"destroyed envs/{env}")


def pending_changes(env: str = "local") -> int:
    """`terraform plan -detailed-exitcode` of the deployed env: 0 no changes, 2 changes (raises on errors)."""
    if Target.of(env).local_cloud:
        ws, _ = local_workspace()
    else:
        _require_account(env)
        ws = terraform.workspace(env)
    ws.lambda_zip_dir = build_zips(env)
    ws.init()
    proc = ws.run("plan", "-input=false", "-detailed-exitcode", "-lock=false", ok_codes=(NO_CHANGES, CHANGES))
    return proc.returncode


def _write_plan(ws: terraform.Workspace, env: str, note: str | None) -> Path:
    out_dir = PLAN_DIR / env
    out_dir.mkdir(parents=True, exist_ok=True)
    binary = out_dir / "plan.tfplan"
    ws.run("plan", "-input=false", "-lock=false", f"-out={binary}")
    shown = ws.run("show", "-json", "-no-color", str(binary), capture=True)
    (out_dir / "plan.json").write_text(shown.stdout)
    summary = plan_summary.summarize(json.loads(shown.stdout), env, note=note)
    path = out_dir / "plan-summary.md"
    path.write_text(summary)
    return path


def _review_tfvars(root: Path) -> list[Path]:
    """Sample variable files an offline review plan uses for required inputs (envs/aws ships one)."""
    return sorted(
        [*root.glob("*.tfvars.example"), *root.glob("*.tfvars.sample"), *root.glob("example.tfvars")]
    )


def plan(env: str = "local") -> Path:
    """Write build/plan/<env>/plan.json and plan-summary.md; returns the summary path."""
    if Target.of(env).local_cloud:
        ws, boot_id = local_workspace()
        with env_lock(ws):
            forget_earlier_boot(ws, boot_id)
            ws.lambda_zip_dir = build_zips(env)
            ws.init()
            return _write_plan(ws, env, note=f"Planned against the local cloud at {ws.endpoint_url}.")
    if has_credentials() and os.environ.get("FARM_BACKEND_CONFIG"):
        ws = terraform.workspace(env)
        ws.lambda_zip_dir = build_zips(env)
        ws.init()
        return _write_plan(ws, env, note=None)
    return plan_offline(env)


def use_local_backend(root: Path) -> None:
    """Give a copied root a local backend instead of its S3 one (a review or test copy plans with a throw-away
    state, never the deployment's), and path-style S3 for the local endpoint."""
    override = BACKEND_OVERRIDE
    if PROVIDER_BLOCK.search("".join(p.read_text() for p in root.glob("*.tf"))):
        override += PROVIDER_OVERRIDE
    (root / "backend_override.tf").write_text(override)


def prepare_offline_root(root: Path) -> None:
    """Make a copied real-account root plannable without an account: local backend (use_local_backend), the
    sample tfvars for required inputs (minus lambda_zip_dir: the harness sets it)."""
    use_local_backend(root)
    for sample in _review_tfvars(root):
        kept = [line for line in sample.read_text().splitlines() if not HARNESS_VARIABLES.match(line)]
        (root / f"review-{sample.name.split('.')[0]}.auto.tfvars").write_text("\n".join(kept) + "\n")


def plan_offline(env: str) -> Path:
    """Plan a real-account env without an account: temporary copy, local backend, local cloud endpoint."""
    endpoint = start_local_cloud()
    zip_dir = build_zips(env)
    with tempfile.TemporaryDirectory(prefix=f"farm-plan-{env}-") as tmp:
        root = terraform.copy_roots(Path(tmp), env)
        prepare_offline_root(root)
        work = Path(tmp) / "work"
        ws = terraform.Workspace(
            env=env, root=root, endpoint_url=endpoint, lambda_zip_dir=zip_dir, work_dir=work
        )
        ws.backend_config = terraform.local_backend_args(work)
        ws.init()
        note = (
            f"Planned OFFLINE for review, against the local cloud endpoint {endpoint} with a local backend, "
            "not against an AWS account: account ids, ARNs and data-source values are the local cloud's, and "
            "every resource shows as a create. For an account's plan give real credentials and "
            "FARM_BACKEND_CONFIG=path/to/backend.hcl."
        )
        return _write_plan(ws, env, note=note)


def ensure_deployed(env: str = "local") -> stack.Stack:
    """The deployed stack; for local, deploy first unless the last complete apply here reached this boot."""
    if not Target.of(env).local_cloud:
        try:
            return stack.load(env)
        except stack.StackNotDeployed as err:
            raise DeployError(
                f"envs/{env} is not deployed (no Terraform outputs). Deploy it with credentials and "
                f"FARM_BACKEND_CONFIG: `nox -s deploy -- {env}`, or point FARM_OUTPUTS_JSON at saved outputs."
            ) from err
    ws, boot_id = local_workspace()
    with env_lock(ws):
        applied = ws.applied_file.read_text().strip() if ws.applied_file.exists() else None
        if ws.has_state() and applied == boot_id:
            stack.load.cache_clear()
            return stack.load(env)
        _deploy_locked(env, ws, boot_id)  # nothing, a stale state or a part-way apply: apply (again)
    return stack.load(env)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.infra", description=__doc__.splitlines()[0])
    parser.add_argument("command", choices=["plan", "deploy", "destroy"])
    parser.add_argument("env", nargs="?", default="local", help="envs/<ENV> (default: local)")
    args = parser.parse_args(argv)
    try:
        if args.command == "plan":
            print(f"plan summary: {plan(args.env).relative_to(terraform.REPO)}")
        elif args.command == "deploy":
            deploy(args.env)
        else:
            destroy(args.env)
    except (DeployError, terraform.TerraformError, image.ImageError, FileNotFoundError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
