"""terraform fmt and validate over every module and env, validate in temporary copies (never .terraform in
the repository)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from harness import terraform

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
    shutil.copytree(terraform.MODULES_DIR, copy / "modules", ignore=ignore, dirs_exist_ok=True)
    shutil.copytree(terraform.ENVS_DIR, copy / "envs", ignore=ignore, dirs_exist_ok=True)
    shutil.copytree(terraform.REPO / "config", copy / "config", dirs_exist_ok=True)  # the price table
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


def _usage_example(module: str) -> str:
    """The first ```hcl block of a module's README: its usage example."""
    readme = terraform.MODULES_DIR / module / "README.md"
    examples = re.findall(r"```hcl\n(.*?)```", readme.read_text(), flags=re.S)
    assert examples, f"{readme.relative_to(terraform.REPO)} has no ```hcl usage example"
    return examples[0]


def _validate_example(tmp_path, relative_root: str, text: str) -> None:
    root = tmp_path / "repo" / relative_root
    root.mkdir(parents=True)
    (root / "main.tf").write_text(text)
    _validate(tmp_path, relative_root)


def test_module_readme_examples_validate_together(tmp_path):
    """The service modules' README examples wire each other's outputs, so together they form one root."""
    examples = [_usage_example(m) for m in MODULES if m != "stack"]
    _validate_example(tmp_path, "modules/readme_examples", "\n".join(examples))


def test_stack_readme_example_validates(tmp_path):
    _validate_example(tmp_path, "envs/readme_example", _usage_example("stack"))
