"""Plan an env the way the static suite does: `terraform plan` + `terraform show -json` in a temporary copy of
modules/ and envs/<env> (never .terraform or state in the repository), against a throw-away local cloud on a
free port, through the harness's own Terraform runner."""

from __future__ import annotations

import contextlib
import json
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from harness import infra, lambda_zips, terraform
from harness.target import Target

ENVS = ("local", "aws")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def local_cloud() -> Iterator[str]:
    """A private local cloud (own free port, own state dir), stopped on exit. Yields its endpoint. When the
    body ends normally, an unexpected server error of the cloud (an answer >= 500, an unhandled exception, a
    traceback in its log) raises AssertionError with the errors."""
    from localcloud import lifecycle

    with tempfile.TemporaryDirectory(prefix="farm-static-cloud-") as state:
        port = free_port()
        endpoint = lifecycle.up(port=port, state_dir=state)
        try:
            mark = lifecycle.error_mark(port, state)
            yield endpoint
            problems = lifecycle.new_errors(mark, port, state)
            assert not problems, "\n".join(["the static suite's local cloud had errors:", *problems])
        finally:
            lifecycle.down(port=port, state_dir=state)


def plan_env(env: str, endpoint: str, workdir: Path) -> dict[str, Any]:
    """`terraform show -json` of a fresh plan of envs/<env>, made in a copy under workdir."""
    root = terraform.copy_roots(workdir, env)
    if Target.of(env).local_cloud:
        infra.use_local_backend(root)  # a throw-away state, not the S3 one on the local cloud
    else:
        infra.prepare_offline_root(root)  # local backend and sample tfvars instead of an account
    lambda_zips.build("local")  # the plan only hashes the zips (wheels cached in build/wheels)
    work = workdir / "work"
    ws = terraform.Workspace(
        env=env,
        root=root,
        endpoint_url=endpoint,
        lambda_zip_dir=lambda_zips.OUT_DIRS["local"],
        work_dir=work,
        backend_config=terraform.local_backend_args(work),
        stream=False,
    )
    ws.init()
    plan_file = work / "plan.tfplan"
    ws.run("plan", "-input=false", "-no-color", f"-out={plan_file}", capture=True)
    return json.loads(ws.run("show", "-json", "-no-color", str(plan_file), capture=True).stdout)


def planned_resources(plan: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Every managed resource's planned values by full address, across nested modules."""
    found: dict[str, dict[str, Any]] = {}

    def walk(module: dict[str, Any]) -> None:
        for resource in module.get("resources", []):
            if resource.get("mode") == "managed":
                found[resource["address"]] = resource
        for child in module.get("child_modules", []):
            walk(child)

    walk(plan.get("planned_values", {}).get("root_module", {}))
    return found


def of_type(plan: dict[str, Any], resource_type: str) -> dict[str, dict[str, Any]]:
    """{address: values} of every planned resource of one type."""
    return {a: r.get("values", {}) for a, r in planned_resources(plan).items() if r["type"] == resource_type}
