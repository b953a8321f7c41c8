"""Every module's own tests: `modules/<name>/tests/*.tftest.hcl`, run by `terraform test` with the real
provider against the static suite's private local cloud.

The tests live next to the module they test, so a broken validation or policy document fails there. They run
in one temporary copy of modules/ (terraform test writes .terraform and state where it runs, never in the
repository), a few modules at a time: most of their time is the provider waiting on the local cloud.

Run one module's tests alone with `nox -s smoke -- tests/smoke/static/test_modules.py -k storage`.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from harness import lambda_zips, terraform

MODULES = sorted(p.name for p in terraform.MODULES_DIR.iterdir() if any(p.glob("*.tf")))
PARALLEL = 4
TIMEOUT_S = 600


def _test_files(module: str) -> list[Path]:
    return sorted((terraform.MODULES_DIR / module / "tests").glob("*.tftest.hcl"))


def _run_module_tests(root: Path, env: dict[str, str]) -> tuple[int, str, float]:
    """init + test in one module copy: (exit code, combined output, seconds)."""
    started = time.monotonic()
    output = []
    for args in (["init", "-input=false", "-no-color"], ["test", "-no-color"]):
        try:
            proc = subprocess.run(
                ["terraform", *args],
                cwd=root,
                env=env,
                capture_output=True,
                text=True,
                timeout=TIMEOUT_S,
                check=False,
            )
        except subprocess.TimeoutExpired as err:  # one module's hang must not fail the others' results
            output.append(f"$ terraform {' '.join(args)}\ntimed out after {TIMEOUT_S} s\n{err.stdout or ''}")
            return 124, "\n".join(output), time.monotonic() - started
        output.append(f"$ terraform {' '.join(args)}\n{proc.stdout}{proc.stderr}")
        if proc.returncode != 0:
            return proc.returncode, "\n".join(output), time.monotonic() - started
    return 0, "\n".join(output), time.monotonic() - started


@pytest.fixture(scope="session")
def module_test_results(request, static_endpoint, tmp_path_factory) -> dict[str, tuple[int, str, float]]:
    """Run the selected modules' tests once, PARALLEL at a time; module -> (exit code, output, seconds)."""
    selected = {
        item.callspec.params["module"]
        for item in request.session.items
        if getattr(item, "originalname", None) == "test_module"
    }
    copy = tmp_path_factory.mktemp("module-tests") / "modules"
    shutil.copytree(
        terraform.MODULES_DIR, copy, ignore=shutil.ignore_patterns(".terraform*", "terraform.tfstate*")
    )
    lambda_zips.build("local")  # the functions module's tests deploy the real zips
    ws = terraform.Workspace(env="module-tests", root=copy, endpoint_url=static_endpoint)
    env = ws.environment()
    env.pop("TF_DATA_DIR")  # each module copy keeps its own .terraform
    tested = [m for m in MODULES if m in selected and _test_files(m)]
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        futures = {m: pool.submit(_run_module_tests, copy / m, env) for m in tested}
        return {m: f.result() for m, f in futures.items()}


@pytest.mark.parametrize("module", MODULES)
def test_module(module_test_results, module):
    assert _test_files(module), f"modules/{module}/tests/ has no *.tftest.hcl: every module is tested"
    code, output, seconds = module_test_results[module]
    print(f"modules/{module}: terraform test took {seconds:.1f} s")
    assert code == 0, f"modules/{module}: terraform test failed (exit {code}):\n{output[-8000:]}"
