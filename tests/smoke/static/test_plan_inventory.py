"""Each env's plan, checked against its YAML inventory (tests/smoke/static/inventories/<env>.yaml)."""

from __future__ import annotations

import os

import pytest

from tests.smoke.static import inventory, plans


@pytest.mark.parametrize("env", plans.ENVS)
def test_plan_matches_inventory(plan_of, env):
    plan = plan_of(env)
    if os.environ.get("FARM_REGEN_INVENTORY") == "1":
        path = inventory.write(env, plan)
        print(f"regenerated {path}: review the diff")
    assert inventory.path_for(env).exists(), inventory.REGENERATE.format(env=env)
    problems = inventory.check(plan, inventory.load(env))
    assert not problems, (
        f"envs/{env} plan differs from its inventory ({len(problems)} differences):\n  "
        + "\n  ".join(problems[:60])
        + f"\nIf the change is intended, {inventory.REGENERATE.format(env=env)} "
        "(or run with FARM_REGEN_INVENTORY=1)."
    )
