"""YAML inventories of an env's plan, in cloud-foundation-fabric's manner, kept to the composition: every
resource address the env creates (so a resource that appears, disappears or moves shows up in review), a count
per type, the outputs, and the few values an env chooses (sizes, retention, hooks, force-destroy). What each
module does with its inputs is tested next to the module (modules/<name>/tests). Regenerate after an intended
change, then review its diff:

    .venv/bin/python -m tests.smoke.static.inventory ENV      (or FARM_REGEN_INVENTORY=1 nox -s smoke)
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import yaml

from tests.smoke.static import plans

INVENTORY_DIR = Path(__file__).parent / "inventories"
REGENERATE = "regenerate it with `.venv/bin/python -m tests.smoke.static.inventory {env}` and review the diff"

# resource type -> the attributes whose values the env roots choose (only those known at plan time are kept).
TRACKED: dict[str, tuple[str, ...]] = {
    "aws_batch_compute_environment": ("compute_resources",),
    "aws_batch_job_definition": ("retry_strategy", "timeout", "container_properties"),
    "aws_cloudwatch_log_group": ("retention_in_days",),
    "aws_ecr_repository": ("force_delete",),
    "aws_lambda_function": ("runtime",),
    "aws_s3_bucket": ("force_destroy",),
    "aws_vpc": ("cidr_block",),
}


def decode(value: Any) -> Any:
    """JSON strings become structures (so subsets can be checked and YAML reads well); nulls are dropped."""
    if isinstance(value, str) and value[:1] in "{[":
        try:
            return decode(json.loads(value))
        except json.JSONDecodeError:
            return value
    if isinstance(value, dict):
        return {k: decode(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [decode(v) for v in value]
    return value


def build(plan: dict[str, Any]) -> dict[str, Any]:
    resources = plans.planned_resources(plan)
    values: dict[str, dict[str, Any]] = {}
    for address, resource in sorted(resources.items()):
        attrs = TRACKED.get(resource["type"], ())
        planned = resource.get("values", {})
        kept = {a: decode(planned[a]) for a in attrs if planned.get(a) not in (None, "", [], {})}
        values[address] = kept
    counts = Counter(r["type"] for r in resources.values())
    return {
        "values": values,
        "counts": {"resources": len(resources), **dict(sorted(counts.items()))},
        "outputs": sorted(
            plan.get("planned_values", {}).get("outputs", {}) or plan.get("output_changes", {})
        ),
    }


def subset_problems(actual: Any, expected: Any, where: str) -> list[str]:
    """Where `expected` is not contained in `actual` (dicts by key, lists element-wise, scalars equal)."""
    if isinstance(expected, dict):
        if not isinstance(actual, dict):
            return [f"{where}: expected a mapping, plan has {actual!r}"]
        problems = []
        for key, value in expected.items():
            if key not in actual:
                problems.append(f"{where}.{key}: missing from the plan (expected {value!r})")
            else:
                problems += subset_problems(actual[key], value, f"{where}.{key}")
        return problems
    if isinstance(expected, list):
        if not isinstance(actual, list) or len(actual) != len(expected):
            return [f"{where}: expected {expected!r}, plan has {actual!r}"]
        return [
            p
            for i, (a, e) in enumerate(zip(actual, expected, strict=True))
            for p in subset_problems(a, e, f"{where}[{i}]")
        ]
    return [] if actual == expected else [f"{where}: expected {expected!r}, plan has {actual!r}"]


def check(plan: dict[str, Any], inventory: dict[str, Any]) -> list[str]:
    """Every difference between the plan and the inventory, as readable lines (empty when it matches)."""
    resources = plans.planned_resources(plan)
    problems: list[str] = []
    for address, expected in (inventory.get("values") or {}).items():
        if address not in resources:
            problems.append(f"{address}: not in the plan")
            continue
        planned = decode(resources[address].get("values", {}))
        problems += subset_problems(planned, expected or {}, address)
    for address in sorted(set(resources) - set(inventory.get("values") or {})):
        problems.append(f"{address}: in the plan, not in the inventory")
    actual_counts = build(plan)["counts"]
    for kind, expected in (inventory.get("counts") or {}).items():
        if actual_counts.get(kind, 0) != expected:
            problems.append(f"count of {kind}: expected {expected}, plan has {actual_counts.get(kind, 0)}")
    outputs = set(build(plan)["outputs"])
    for name in inventory.get("outputs") or []:
        if name not in outputs:
            problems.append(f"output {name}: not in the plan")
    return problems


def path_for(env: str) -> Path:
    return INVENTORY_DIR / f"{env}.yaml"


def load(env: str) -> dict[str, Any]:
    return yaml.safe_load(path_for(env).read_text())


def write(env: str, plan: dict[str, Any]) -> Path:
    path = path_for(env)
    path.parent.mkdir(parents=True, exist_ok=True)
    header = f"# Expected plan of envs/{env}, checked as a subset by tests/smoke/static.\n"
    header += f"# {REGENERATE.format(env=env)}.\n"
    path.write_text(header + yaml.safe_dump(build(plan), sort_keys=False, width=110, allow_unicode=True))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m tests.smoke.static.inventory", description=__doc__.splitlines()[0]
    )
    parser.add_argument("envs", nargs="*", metavar="ENV", help=f"default: all of {', '.join(plans.ENVS)}")
    args = parser.parse_args(argv)
    unknown = set(args.envs) - set(plans.ENVS)
    if unknown:
        parser.error(f"unknown env(s): {', '.join(sorted(unknown))}")
    with plans.local_cloud() as endpoint:
        for env in args.envs or plans.ENVS:
            with tempfile.TemporaryDirectory(prefix=f"farm-inventory-{env}-") as tmp:
                path = write(env, plans.plan_env(env, endpoint, Path(tmp)))
            print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
