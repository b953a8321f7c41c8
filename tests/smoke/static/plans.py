"""Plan an env the way the static suite does: tftest in a temporary copy of modules/ and envs/<env>, against a
throw-away local cloud on a free port (tftest's clean-up deletes .terraform and state where it runs, so it
never runs inside the repository)."""

from __future__ import annotations

import contextlib
import shutil
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import tftest

from farm import infra, lambda_zips, terraform

ENVS = ("local", "aws")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def local_cloud() -> Iterator[str]:
    """A private local cloud (own free port, own state dir), stopped on exit. Yields its endpoint."""
    from localcloud import lifecycle

    with tempfile.TemporaryDirectory(prefix="farm-static-cloud-") as state:
        port = free_port()
        endpoint = lifecycle.up(port=port, state_dir=state)
        try:
            yield endpoint
        finally:
            lifecycle.down(port=port, state_dir=state)


def plan_env(env: str, endpoint: str, workdir: Path) -> dict[str, Any]:
    """`terraform show -json` of a fresh plan of envs/<env>, made with tftest in a copy under workdir."""
    root = terraform.copy_roots(workdir, env)
    if env != "local":
        infra.prepare_offline_root(root)  # local backend and sample tfvars instead of an account
    lambda_zips.build("local")  # the plan only hashes the zips; the local ones need no network
    work = workdir / "work"
    ws = terraform.Workspace(
        env=env, root=root, endpoint_url=endpoint, lambda_zip_dir=lambda_zips.OUT_DIRS["local"], work_dir=work
    )
    test = tftest.TerraformTest(str(root), env=ws.environment())
    test.setup(init_vars={"path": str(work / "terraform.tfstate")})
    plan = test.plan(output=True)
    return dict(plan._raw)


FIXTURES_DIR = Path(__file__).parent / "fixtures"


def plan_fixture(name: str, endpoint: str, workdir: Path) -> dict[str, Any]:
    """Plan a fixture root (tests/smoke/static/fixtures/<name>) that calls modules with literal inputs."""
    shutil.copytree(terraform.MODULES_DIR, workdir / "modules", ignore=shutil.ignore_patterns(".terraform"))
    root = workdir / "fixtures" / name
    shutil.copytree(FIXTURES_DIR / name, root)
    ws = terraform.Workspace(
        env=f"fixture-{name}", root=root, endpoint_url=endpoint, work_dir=workdir / "work"
    )
    test = tftest.TerraformTest(str(root), env=ws.environment())
    test.setup()
    return dict(test.plan(output=True)._raw)


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
