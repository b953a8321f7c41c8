"""YAML inventories of a plan, in cloud-foundation-fabric's manner: expected values and counts, checked as a
subset of the plan. Regenerate one after an intended change, then review its diff:

    .venv/bin/python -m tests.smoke.static.inventory ENV      (or FARM_REGEN_INVENTORY=1 nox -s smoke)

The generated inventory keeps the security- and contract-relevant attributes of each resource type (TRACKED)
and a count per type; JSON strings (policies, definitions, patterns) are decoded so the YAML reads well and a
reviewer can trim what should not be pinned.
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

# resource type -> attributes worth pinning (only those known at plan time end up in the inventory).
TRACKED: dict[str, tuple[str, ...]] = {
    "aws_batch_compute_environment": ("compute_environment_name", "type", "state", "compute_resources"),
    "aws_batch_job_definition": (
        "name",
        "type",
        "platform_capabilities",
        "retry_strategy",
        "timeout",
        "container_properties",
        "propagate_tags",
    ),
    "aws_batch_job_queue": ("name", "state", "priority", "compute_environment_order"),
    "aws_cloudwatch_event_rule": ("name", "event_pattern", "state"),
    "aws_cloudwatch_event_target": ("target_id",),
    "aws_cloudwatch_log_group": ("name", "retention_in_days"),
    "aws_codebuild_project": ("name", "source", "environment"),
    "aws_codedeploy_deployment_group": ("deployment_config_name", "deployment_style"),
    "aws_codepipeline": ("name", "stage"),
    "aws_ecr_repository": (
        "name",
        "image_tag_mutability",
        "image_scanning_configuration",
        "encryption_configuration",
    ),
    "aws_efs_access_point": ("posix_user", "root_directory"),
    "aws_efs_file_system": ("encrypted", "performance_mode", "throughput_mode"),
    "aws_efs_file_system_policy": ("policy",),
    "aws_efs_mount_target": (),
    "aws_iam_role": ("name", "assume_role_policy"),
    "aws_iam_role_policy": ("name", "policy"),
    "aws_iam_role_policy_attachment": ("policy_arn",),
    "aws_kms_alias": ("name",),
    "aws_kms_key": (
        "enable_key_rotation",
        "key_usage",
        "customer_master_key_spec",
        "deletion_window_in_days",
    ),
    "aws_lambda_function": (
        "function_name",
        "handler",
        "runtime",
        "timeout",
        "memory_size",
        "environment",
        "publish",
    ),
    "aws_s3_bucket": ("bucket", "force_destroy"),
    "aws_s3_bucket_policy": ("policy",),
    "aws_s3_bucket_public_access_block": (
        "block_public_acls",
        "block_public_policy",
        "ignore_public_acls",
        "restrict_public_buckets",
    ),
    "aws_s3_bucket_server_side_encryption_configuration": ("rule",),
    "aws_s3_bucket_versioning": ("versioning_configuration",),
    "aws_security_group": ("name", "ingress", "egress"),
    "aws_sfn_state_machine": ("name", "type", "definition", "logging_configuration"),
    "aws_sns_topic": ("name",),
    "aws_sns_topic_subscription": ("protocol", "raw_message_delivery"),
    "aws_sqs_queue": ("name", "message_retention_seconds", "visibility_timeout_seconds", "redrive_policy"),
    "aws_sqs_queue_policy": ("policy",),
    "aws_sqs_queue_redrive_policy": ("redrive_policy",),
    "aws_vpc_security_group_egress_rule": ("ip_protocol", "from_port", "to_port", "cidr_ipv4"),
    "aws_vpc_security_group_ingress_rule": ("ip_protocol", "from_port", "to_port", "cidr_ipv4"),
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
        attrs = TRACKED.get(resource["type"])
        if attrs is None:
            continue
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
        problems += subset_problems(planned, expected, address)
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
