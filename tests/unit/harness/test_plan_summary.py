"""The plan review summary, from a fixture `terraform show -json` plan."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness import plan_summary

FIXTURE = Path(__file__).parent / "fixtures" / "plan.json"


@pytest.fixture(scope="module")
def plan() -> dict:
    return json.loads(FIXTURE.read_text())


@pytest.fixture(scope="module")
def summary(plan) -> str:
    return plan_summary.summarize(plan, "local", note="Planned against the local cloud.")


def section(summary: str, title: str) -> str:
    start = summary.index(f"## {title}")
    end = summary.find("\n## ", start + 1)
    return summary[start : end if end != -1 else None]


def test_totals_count_managed_resources_by_action(plan):
    counts = plan_summary.totals(plan)
    assert counts == {"create": 7, "update": 2, "replace": 1, "delete": 1, "no-op": 1}


def test_header_names_env_and_note(summary):
    assert summary.startswith("# Terraform plan review: envs/local")
    assert "> Planned against the local cloud." in summary
    assert "**7 to create, 2 to update, 1 to replace, 1 to delete.**" in summary


def test_replacements_and_deletions_come_before_everything_else(summary):
    destructive = section(summary, "Replacements and deletions")
    assert summary.index("## Replacements and deletions") < summary.index("## Security-relevant changes")
    assert summary.index("## Security-relevant changes") < summary.index("## Changes per module")
    assert (
        '**replace** `module.stack.module.storage.aws_s3_bucket.this["renders"]` forced by `bucket`'
        in destructive
    )
    assert "removed from the configuration" in destructive
    assert "aws_kms_key" not in destructive


def test_iam_section_reads_principals_and_attachments(summary):
    security = section(summary, "Security-relevant changes")
    assert "Allow principals `Service:ecs-tasks.amazonaws.com` actions `sts:AssumeRole`" in security
    assert (
        "attaches `arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy` to role" in security
    )
    assert "policy: (known after apply)" in security
    assert "[ReadSpecs] Allow actions `s3:GetObject` on (known after apply)" in security


def test_kms_section_shows_rotation_and_key_policy(summary):
    security = section(summary, "Security-relevant changes")
    assert "rotation on, description `render farm storage`, deletion window 7 days" in security
    assert "[AllowS3] Allow principals `Service:s3.amazonaws.com` actions `kms:Decrypt`" in security
    assert "`alias/farm-storage` -> `(known after apply)`" in security


def test_resource_policies_and_public_access_are_called_out(summary):
    security = section(summary, "Security-relevant changes")
    assert 'when `ArnEquals aws:SourceArn="arn:aws:sns:us-east-1:123456789012:farm-completion"`' in security
    assert "public access NOT blocked: block_public_policy" in security


def test_security_group_changes_show_ports_and_peers(summary):
    security = section(summary, "Security-relevant changes")
    assert "egress + tcp/443 with `0.0.0.0/0`" in security
    assert "egress - tcp/443 with `10.0.0.0/16`" in security
    assert "ingress: tcp/2049 with a peer known after apply" in security


def test_changes_grouped_per_module_and_action(summary):
    modules = section(summary, "Changes per module")
    assert "### `module.stack.module.storage` (1 replace, 1 update)" in modules
    assert "### `module.stack.module.kms` (2 create)" in modules
    assert '- create: `aws_kms_key.this["storage"]`' in modules
    assert "module.stack.module.ecr" not in modules  # unchanged resources are not listed


def test_outputs_section_lists_only_changed_outputs(summary):
    outputs = section(summary, "Outputs")
    assert "- update: `renders_bucket`" in outputs
    assert "region" not in outputs


def test_empty_plan_says_no_changes():
    text = plan_summary.summarize({"resource_changes": [], "terraform_version": "1.11.4"}, "aws")
    assert "**No changes.**" in text
    assert "None: nothing is destroyed or re-created." in text


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        (["create"], "create"),
        (["delete", "create"], "replace"),
        (["create", "delete"], "replace"),
        ([], "no-op"),
    ],
)
def test_action_of(actions, expected):
    assert plan_summary.action_of({"actions": actions}) == expected


def test_describe_policy_handles_not_action_and_plain_principal():
    doc = {
        "Statement": [{"Effect": "Deny", "Principal": "*", "NotAction": "s3:Get*", "Resource": ["a", "b"]}]
    }
    assert plan_summary.describe_policy(doc) == [
        "Deny principals `*` all actions except `s3:Get*` on `a`, `b`"
    ]


def test_unknown_values_are_explained_from_the_configuration():
    change = {"actions": ["create"], "before": None, "after_unknown": {"policy": True}}
    rule_change = {
        "actions": ["create"],
        "before": None,
        "after": {"ip_protocol": "tcp", "from_port": 2049, "to_port": 2049},
        "after_unknown": {"referenced_security_group_id": True},
    }
    plan = {
        "resource_changes": [
            {"address": 'module.m.aws_s3_bucket_policy.this["a"]', "module_address": "module.m",
             "mode": "managed", "type": "aws_s3_bucket_policy", "name": "this",
             "change": {**change, "after": {}}},
            {"address": "module.m.aws_vpc_security_group_ingress_rule.nfs", "module_address": "module.m",
             "mode": "managed", "type": "aws_vpc_security_group_ingress_rule", "name": "nfs",
             "change": rule_change},
        ],
        "configuration": {"root_module": {"module_calls": {"m": {"module": {"resources": [
            {"address": "aws_s3_bucket_policy.this",
             "expressions": {"policy": {"references": ["data.aws_iam_policy_document.bucket", "each.key"]}}},
            {"address": "aws_vpc_security_group_ingress_rule.nfs",
             "expressions": {"referenced_security_group_id": {"references": ["aws_security_group.jobs.id"]},
                             "security_group_id": {"references": ["aws_security_group.efs.id"]}}},
        ]}}}}},
    }  # fmt: skip
    text = plan_summary.summarize(plan, "local")
    assert "built from `module.m.data.aws_iam_policy_document.bucket`" in text
    assert "ingress on `aws_security_group.efs`: tcp/2049 with `aws_security_group.jobs`" in text


def test_policy_update_shows_added_and_removed_statements():
    def doc(*sids):
        return json.dumps(
            {"Statement": [{"Sid": s, "Effect": "Allow", "Action": "x:Y", "Resource": "*"} for s in sids]}
        )

    rc = {
        "address": "aws_iam_role_policy.p", "mode": "managed", "type": "aws_iam_role_policy", "name": "p",
        "change": {"actions": ["update"], "before": {"policy": doc("Keep", "Old")},
                   "after": {"policy": doc("Keep", "New"), "role": "r"}, "after_unknown": {}},
    }  # fmt: skip
    text = plan_summary.summarize({"resource_changes": [rc]}, "local")
    assert "policy changes:" in text
    assert "added: [New] Allow actions `x:Y` on `*`" in text
    assert "REMOVED: [Old] Allow actions `x:Y` on `*`" in text
    assert "[Keep]" not in text


# ---- fixed monthly cost at rest ----------------------------------------------------------------------------

PRICES = {
    "currency": "USD", "date": "2026-11-30", "source": ["https://aws.amazon.com/kms/pricing/"],
    "note": "test", "fargate_minimum_billed_s": 60, "hours_per_month": 730,
    "regions": {"eu-west-1": {
        "fargate": {"vcpu_hour": 0.04, "gb_hour": 0.004},
        "fargate_spot": {"vcpu_hour": 0.01, "gb_hour": 0.001},
        "kms_key_month": 1.0, "interface_endpoint_az_hour": 0.01, "nat_gateway_hour": 0.05,
        "efs_standard_gb_month": 0.3, "logs_ingest_gb": 0.5, "logs_storage_gb_month": 0.03,
        "s3_standard_gb_month": 0.023,
    }},
}  # fmt: skip


def _rc(address: str, kind: str, actions: list[str], before=None, after=None, module=None, **change) -> dict:
    rc = {
        "address": address, "mode": "managed", "type": kind, "name": address.split(".")[-1].split("[")[0],
        "change": {"actions": actions, "before": before, "after": after, "after_unknown": {}, **change},
    }  # fmt: skip
    if module:
        rc["module_address"] = module
    return rc


def _cost_plan(*resource_changes, region="eu-west-1") -> dict:
    return {
        "resource_changes": list(resource_changes),
        "configuration": {"provider_config": {"aws": {"name": "aws", "expressions": {
            "region": {"constant_value": region}}}}},
    }  # fmt: skip


def test_fixed_cost_counts_keys_and_endpoint_azs_before_and_after():
    plan = _cost_plan(
        _rc('aws_kms_key.this["a"]', "aws_kms_key", ["create"], after={"enable_key_rotation": True}),
        _rc('aws_kms_key.this["b"]', "aws_kms_key", ["create"], after={"enable_key_rotation": True}),
        _rc("aws_vpc_endpoint.interface", "aws_vpc_endpoint", ["create"],
            after={"vpc_endpoint_type": "Interface", "subnet_ids": ["subnet-a", "subnet-b"]}),
        _rc("aws_vpc_endpoint.s3", "aws_vpc_endpoint", ["create"], after={"vpc_endpoint_type": "Gateway"}),
        _rc("aws_s3_bucket.renders", "aws_s3_bucket", ["no-op"],
            before={"bucket": "r"}, after={"bucket": "r"}),
    )  # fmt: skip
    counts = plan_summary.fixed_counts(plan)
    assert counts["before"] == {"s3_buckets": 1}
    assert counts["after"] == {"kms_keys": 2, "interface_endpoint_azs": 2, "s3_buckets": 1}
    assert counts["endpoints"] == (0, 1)
    text = section(plan_summary.summarize(plan, "aws", prices=PRICES), "Fixed monthly cost at rest")
    # 2 keys x $1 + 1 endpoint x 2 AZs x $0.01 x 730 h = $2 + $14.60
    assert "| customer-managed KMS keys | 0 -> 2 | $1.00 per key-month | $0.00 -> $2.00 |" in text
    assert (
        "| interface VPC endpoints (per endpoint per AZ) | 0 -> 2 (0 -> 1 endpoints) | $0.01 per "
        "endpoint-AZ-hour ($7.30 a month) | $0.00 -> $14.60 |"
    ) in text
    assert "| S3 buckets | 1 -> 1 | $0.023 per GB-month stored (Standard) | $0.00 -> $0.00 |" in text
    assert "| **total** | | | **$0.00 -> $16.60** |" in text
    assert "Change: **+$16.60** a month" in text
    assert "- created: `aws_vpc_endpoint.interface`" in text
    assert "aws_vpc_endpoint.s3" not in text  # a gateway endpoint costs nothing
    assert "Fargate compute is billed per run" in text
    assert "Prices: eu-west-1 (the plan's provider configuration), USD, price table of 2026-11-30" in text


def test_fixed_cost_change_of_a_deleted_key_and_nat_gateway():
    plan = _cost_plan(
        _rc("aws_kms_key.old", "aws_kms_key", ["delete"], before={"enable_key_rotation": True}),
        _rc("aws_kms_key.kept", "aws_kms_key", ["no-op"], before={}, after={}),
        _rc("aws_nat_gateway.this", "aws_nat_gateway", ["create"], after={}),
    )
    text = section(plan_summary.summarize(plan, "aws", prices=PRICES), "Fixed monthly cost at rest")
    assert "| **total** | | | **$2.00 -> $37.50** |" in text  # 1 key + 730 h x $0.05
    assert "Change: **+$35.50** a month" in text
    assert "- deleted: `aws_kms_key.old`" in text


def test_endpoint_subnets_known_after_apply_are_counted_from_the_configuration():
    subnet = {"vpc_id": None}
    endpoint = _rc("module.net.aws_vpc_endpoint.interface", "aws_vpc_endpoint", ["create"],
                   module="module.net", after={"vpc_endpoint_type": "Interface"},
                   after_unknown={"subnet_ids": True})  # fmt: skip
    net = "module.net"
    subnets = [
        _rc(f'{net}.aws_subnet.private["{az}"]', "aws_subnet", ["create"], after=subnet, module=net)
        for az in "abc"
    ]
    plan = _cost_plan(endpoint, *subnets)
    plan["configuration"]["root_module"] = {"module_calls": {"net": {"module": {"resources": [
        {"address": "aws_vpc_endpoint.interface",
         "expressions": {"subnet_ids": {"references": ["aws_subnet.private"]}}},
    ]}}}}  # fmt: skip
    text = section(plan_summary.summarize(plan, "aws", prices=PRICES), "Fixed monthly cost at rest")
    assert "0 -> 3 (0 -> 1 endpoints)" in text
    assert "subnets known after apply: 3 planned `module.net.aws_subnet.private`" in text

    del plan["configuration"]["root_module"]  # nothing to count them from: one AZ, a lower bound
    text = section(plan_summary.summarize(plan, "aws", prices=PRICES), "Fixed monthly cost at rest")
    assert "0 -> 1 (0 -> 1 endpoints)" in text
    assert "**$0.00 -> at least $7.30**" in text
    assert "subnets unknown: counted as one AZ, so this is a lower bound" in text


def test_fixed_cost_region_comes_from_the_plan_then_the_caller_then_the_default():
    region = {"region": {"references": ["var.region"]}}
    by_variable = {
        "configuration": {"provider_config": {"aws": {"expressions": region}}},
        "variables": {"region": {"value": "eu-west-1"}},
    }
    assert plan_summary.plan_region(by_variable)[0] == "eu-west-1"
    assert "variable `region`" in plan_summary.plan_region(by_variable)[1]
    assert plan_summary.plan_region({}, "eu-west-1") == (
        "eu-west-1", "given to the summary (the plan's provider configuration names none)"
    )  # fmt: skip
    assert plan_summary.plan_region({})[0] == "us-east-1"
    text = section(plan_summary.summarize(_cost_plan(region="ap-south-9"), "aws", prices=PRICES), "Fixed")
    assert "Not computed for ap-south-9 (the plan's provider configuration)" in text
    assert "config/prices.json has no region 'ap-south-9'" in text


def test_fixed_cost_defaults_to_the_repository_price_table(summary):
    text = section(summary, "Fixed monthly cost at rest")
    assert summary.index("## Security-relevant changes") < summary.index("## Fixed monthly cost at rest")
    assert summary.index("## Fixed monthly cost at rest") < summary.index("## Changes per module")
    table = json.loads(plan_summary.PRICES_PATH.read_text())
    assert f"price table of {table['date']}" in text
    assert "https://aws.amazon.com/kms/pricing/" in text
    assert "| customer-managed KMS keys | 0 -> 1 |" in text  # the fixture creates one key
    assert "| CloudWatch log groups | 1 -> 0 |" in text  # and deletes a log group


def test_a_deploy_role_without_a_deployer_policy_is_called_out():
    role = _rc(
        'module.stack.module.pipeline[0].aws_iam_role.build["deploy"]',
        "aws_iam_role",
        ["create"],
        after={"name": "farm-build-deploy"},
    )
    attached = _rc(
        'module.stack.module.pipeline[0].aws_iam_role_policy_attachment.deploy["0"]',
        "aws_iam_role_policy_attachment",
        ["create"],
        after={"role": "farm-build-deploy"},
    )
    note = plan_summary.deployer_note([role])
    assert note[0] == "### The pipeline's deploy role has no deployer policy"
    assert "farm-build-deploy" in note[2] and "pipeline_deploy_policy_arns" in note[2]
    assert plan_summary.deployer_note([role, attached]) == []  # envs/local attaches its own
    assert plan_summary.deployer_note([attached]) == []  # no pipeline role, nothing to say
    assert note[0] in plan_summary.summarize(_cost_plan(role, region="us-east-1"), "aws")
