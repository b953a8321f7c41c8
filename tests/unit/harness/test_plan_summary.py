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
