"""terraform fmt and validate over every module and env, validate in temporary copies (never .terraform in
the repository)."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from farm import terraform

MODULES = sorted(p.name for p in terraform.MODULES_DIR.iterdir() if any(p.glob("*.tf")))
ENVS = sorted(p.name for p in terraform.ENVS_DIR.iterdir() if any(p.glob("*.tf")))


def _env(tmp_path) -> dict[str, str]:
    return {
        **os.environ,
        "TF_CLI_CONFIG_FILE": str(terraform.write_cli_config()),
        "TF_DATA_DIR": str(tmp_path / ".terraform"),
        "TF_IN_AUTOMATION": "1",
    }


def _terraform(tmp_path, cwd, *args) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["terraform", *args], cwd=cwd, env=_env(tmp_path), capture_output=True, text=True, check=False
    )


def test_fmt_is_clean(tmp_path):
    proc = _terraform(tmp_path, terraform.REPO, "fmt", "-check", "-recursive", "-diff", "modules", "envs")
    assert proc.returncode == 0, f"run `nox -s fmt`; unformatted files:\n{proc.stdout}{proc.stderr}"


def _validate(tmp_path, relative_root: str) -> None:
    copy = tmp_path / "repo"
    ignore = shutil.ignore_patterns(".terraform", "terraform.tfstate*")
    shutil.copytree(terraform.MODULES_DIR, copy / "modules", ignore=ignore)
    shutil.copytree(terraform.ENVS_DIR, copy / "envs", ignore=ignore)
    root = copy / relative_root
    init = _terraform(tmp_path, root, "init", "-backend=false", "-input=false", "-no-color")
    assert init.returncode == 0, f"terraform init failed in {relative_root}:\n{init.stdout}{init.stderr}"
    proc = _terraform(tmp_path, root, "validate", "-no-color")
    assert proc.returncode == 0, f"terraform validate failed in {relative_root}:\n{proc.stdout}{proc.stderr}"


@pytest.mark.parametrize("module", MODULES)
def test_module_validates(tmp_path, module):
    _validate(tmp_path, f"modules/{module}")


@pytest.mark.parametrize("env", ENVS)
def test_env_validates(tmp_path, env):
    _validate(tmp_path, f"envs/{env}")


def test_every_module_and_env_is_covered():
    assert {
        "kms",
        "network",
        "storage",
        "efs",
        "batch",
        "ecr",
        "functions",
        "workflow",
        "notify",
        "events",
        "pipeline",
    } <= set(MODULES)
    assert {"local", "aws"} <= set(ENVS)
