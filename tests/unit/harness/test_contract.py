"""One outputs contract: modules/stack builds the `farm` object, every env re-exports it unchanged, farm.stack
reads it, and docs/contracts.md names exactly its keys."""

from __future__ import annotations

import re

import pytest

from farm import stack
from harness import terraform
from harness.tfdocs import blocks, literal


def _outputs(path) -> dict[str, dict]:
    return {name: literal(body) for name, body in blocks(path, "output").items()}


def test_stack_exports_one_contract_object():
    outputs = _outputs(terraform.MODULES_DIR / "stack" / "outputs.tf")
    assert list(outputs) == [stack.CONTRACT_OUTPUT]
    assert isinstance(outputs[stack.CONTRACT_OUTPUT]["value"], dict)


@pytest.mark.parametrize("env", ["local", "aws"])
def test_envs_re_export_the_contract_unchanged(env):
    outputs = _outputs(terraform.ENVS_DIR / env / "outputs.tf")
    assert list(outputs) == [stack.CONTRACT_OUTPUT], f"envs/{env} must export only the contract object"
    assert outputs[stack.CONTRACT_OUTPUT]["value"] == "module.stack.farm"


def test_contracts_doc_names_exactly_the_contract_keys():
    keys = set(_outputs(terraform.MODULES_DIR / "stack" / "outputs.tf")[stack.CONTRACT_OUTPUT]["value"])
    doc = (terraform.REPO / "docs" / "contracts.md").read_text()
    section = doc.split("## Terraform outputs", 1)[1].split("\n## ", 1)[0]
    rows = [line.split("|")[1] for line in section.splitlines() if line.startswith("| `")]
    documented = {name for row in rows for name in re.findall(r"`([a-z0-9_]+)`", row)}
    assert documented == keys, f"only in docs: {documented - keys}; only in code: {keys - documented}"


def test_unwrap_reads_the_contract_object():
    raw = {"farm": {"value": {"region": "us-east-1"}, "type": ["object", {}], "sensitive": False}}
    assert stack.unwrap(raw) == {"region": "us-east-1"}
    assert stack.unwrap({}) == {}


def test_unwrap_refuses_outputs_without_the_contract():
    with pytest.raises(stack.StackNotDeployed, match="no 'farm' object .*have: region"):
        stack.unwrap({"region": {"value": "us-east-1"}})


def test_saved_outputs_round_trip():
    saved = stack.Stack(env="local", outputs={"region": "us-east-1"}).saved_outputs()
    assert stack.unwrap(saved) == {"region": "us-east-1"}
