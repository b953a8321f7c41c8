"""Plan, deploy and destroy an env: `python -m harness.infra plan|deploy|destroy [ENV]` (default: local).

plan     builds the Lambda zips, plans, and writes build/plan/<env>/plan.json and plan-summary.md (the review
         summary). envs/local is planned against the local cloud (started if needed). envs/aws is planned
         against the real account when credentials and $FARM_BACKEND_CONFIG are given, else offline: in a
         temporary copy with a local backend, against the local cloud endpoint, so a reviewer can read it.
deploy   local: starts the local cloud, discards state left from an earlier (now gone) cloud boot, builds the
         zips, init, apply; prints the apply time and the key outputs. When the local cloud runs jobs in
         containers (its runtime mode), deploy is two phases in one command: the ECR repository first
         (-target), then the worker image for the working tree is built and pushed (harness.image; reused when
         the repository already holds its tag), then everything with worker_image = <repository>@<digest>,
         recorded so every later plan/apply/destroy of the env passes the same image. aws: the same without
         the local cloud, with credentials and $FARM_BACKEND_CONFIG (worker_image from its tfvars).
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
from harness import image, lambda_zips, plan_summary, terraform
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


def start_local_cloud() -> tuple[str, str]:
    """(endpoint, boot_id) of the local cloud on $LOCALCLOUD_PORT, started when not running."""
    lifecycle = _localcloud()
    try:
        endpoint = lifecycle.up()
    except (lifecycle.PortTaken, lifecycle.StartFailed, lifecycle.StateDirInUse) as err:
        # another checkout's cloud on the port (AnotherCloud, a PortTaken): the message says what to do
        raise DeployError(str(err)) from err
    status = lifecycle.status()
    if not status:
        raise DeployError(f"the local cloud at {endpoint} does not answer its health check")
    return endpoint, status["boot_id"]


def local_runtime() -> str:
    """How the running local cloud runs jobs and Lambdas: "container" or "process" (its health document)."""
    status = _localcloud().status() or {}
    return "container" if status.get("runtime") == "container" else "process"


def discard_stale_state(ws: terraform.Workspace, boot_id: str) -> bool:
    """A local state applied against another boot of the local cloud describes resources that no longer exist
    (the cloud keeps nothing across restarts): drop it so apply re-creates everything. True when dropped."""
    recorded = ws.boot_id_file.read_text().strip() if ws.boot_id_file.exists() else None
    if ws.has_state() and recorded != boot_id:
        print(
            f"local cloud restarted (boot {boot_id[:8]}, state from {str(recorded)[:8]}): "
            "discarding the old state"
        )
        ws.discard_local_state()
        return True
    return False


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
    endpoint, boot_id = start_local_cloud()
    ws = terraform.workspace("local", endpoint_url=endpoint)
    ws.lambda_zip_dir = lambda_zips.OUT_DIRS["local"]
    ws.runtime = local_runtime()
    return ws, boot_id


def state_repository_url(ws: terraform.Workspace) -> str | None:
    """The ECR repository URL in a local state (None when the repository is not applied yet)."""
    try:
        state = json.loads(ws.state_file.read_text())
    except (OSError, ValueError):
        return None
    for resource in state.get("resources", []):
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
        discard_stale_state(ws, boot_id)
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
        if boot_id is None:
            raise
        # moto has no idempotency tokens: a create the provider retried after a dropped connection answers
        # "already exists" and no re-apply can converge. The local cloud is disposable: start it afresh, once.
        reason = str(err).splitlines()[0]
        print(f"\napply failed ({reason}); restarting the local cloud empty and applying again")
        _localcloud().down()
        ws.endpoint_url, boot_id = start_local_cloud()
        elapsed = _apply(env, ws, boot_id)
    stack.load.cache_clear()
    outputs = ws.outputs()
    print(f"\napplied envs/{env} in {elapsed:.1f} s")
    _print_outputs(outputs)
    return outputs


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


def destroy(env: str = "local") -> None:
    if Target.of(env).local_cloud:
        ws = terraform.workspace("local")
        if not ws.has_state():
            print("envs/local: nothing deployed")
            ws.discard_local_state()
            return
        ws, boot_id = local_workspace()
        with env_lock(ws):
            if discard_stale_state(ws, boot_id):
                print("envs/local: the local cloud that held it is gone; nothing left to destroy")
                return
            ws.lambda_zip_dir = build_zips(env)
            ws.init()
            started = time.monotonic()
            release_job_queue(ws)
            ws.run("destroy", "-input=false", "-auto-approve")
            ws.discard_local_state()
            print(f"envs/local: terraform destroy took {time.monotonic() - started:.1f} s")
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
            discard_stale_state(ws, boot_id)
            ws.lambda_zip_dir = build_zips(env)
            ws.init()
            return _write_plan(ws, env, note=f"Planned against the local cloud at {ws.endpoint_url}.")
    if has_credentials() and os.environ.get("FARM_BACKEND_CONFIG"):
        ws = terraform.workspace(env)
        ws.lambda_zip_dir = build_zips(env)
        ws.init()
        return _write_plan(ws, env, note=None)
    return plan_offline(env)


def prepare_offline_root(root: Path) -> None:
    """Make a copied real-account root plannable without an account: local backend, path-style S3 for the
    local endpoint, the sample tfvars for required inputs (minus lambda_zip_dir: the harness sets it)."""
    override = BACKEND_OVERRIDE
    if PROVIDER_BLOCK.search("".join(p.read_text() for p in root.glob("*.tf"))):
        override += PROVIDER_OVERRIDE
    (root / "backend_override.tf").write_text(override)
    for sample in _review_tfvars(root):
        kept = [line for line in sample.read_text().splitlines() if not HARNESS_VARIABLES.match(line)]
        (root / f"review-{sample.name.split('.')[0]}.auto.tfvars").write_text("\n".join(kept) + "\n")


def plan_offline(env: str) -> Path:
    """Plan a real-account env without an account: temporary copy, local backend, local cloud endpoint."""
    endpoint, _ = start_local_cloud()
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
    """The deployed stack; for local, deploy first when nothing (or a stale state) is deployed."""
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
