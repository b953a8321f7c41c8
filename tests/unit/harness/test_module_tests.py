"""Every module is tested next to itself, and every validation a module declares is exercised: a run in
modules/<name>/tests/*.tftest.hcl gives it a bad value and expects it to fail (`expect_failures`). The runs
themselves execute in the smoke session (tests/smoke/static/test_modules.py)."""

from __future__ import annotations

import pytest

from harness import terraform
from harness.tfdocs import blocks, literal

MODULES = sorted(p.name for p in terraform.MODULES_DIR.iterdir() if any(p.glob("*.tf")))


def validated_variables(module: str) -> set[str]:
    variables = blocks(terraform.MODULES_DIR / module, "variable")
    return {name for name, body in variables.items() if body.get("validation")}


def expected_failures(module: str) -> set[str]:
    names = set()
    for path in (terraform.MODULES_DIR / module / "tests").glob("*.tftest.hcl"):
        for run in blocks(path, "run").values():
            names |= {literal(ref).removeprefix("var.") for ref in run.get("expect_failures", [])}
    return names


@pytest.mark.parametrize("module", MODULES)
def test_module_has_tests(module):
    assert list((terraform.MODULES_DIR / module / "tests").glob("*.tftest.hcl")), (
        f"modules/{module}/tests/ holds no *.tftest.hcl"
    )


@pytest.mark.parametrize("module", MODULES)
def test_every_validation_is_exercised(module):
    missing = validated_variables(module) - expected_failures(module)
    assert not missing, (
        f"modules/{module}: no run in tests/*.tftest.hcl expects these validations to fail: {sorted(missing)}"
    )
