"""Rules every env's plan must keep, whatever the inventory says: the security baseline of DESIGN.md section 6
and the wiring the workflow depends on. Checked on values known at plan time."""

from __future__ import annotations

import json

import pytest

from tests.smoke.static import plans
from tests.smoke.static.plans import of_type

KEY_FAMILIES = {"storage", "scratch", "logs", "messaging", "functions", "registry"}


@pytest.fixture(scope="module", params=plans.ENVS)
def plan(request, plan_of):
    return plan_of(request.param)


def _per_bucket(plan, resource_type):
    buckets = of_type(plan, "aws_s3_bucket")
    configs = of_type(plan, resource_type)
    assert len(configs) == len(buckets) >= 3, f"{len(configs)} {resource_type} for {len(buckets)} buckets"
    return configs


def test_six_customer_managed_keys_with_rotation(plan):
    keys = of_type(plan, "aws_kms_key")
    assert len(keys) == 6
    assert all(k["enable_key_rotation"] is True for k in keys.values())
    aliases = {a["name"] for a in of_type(plan, "aws_kms_alias").values()}
    assert {alias.rsplit("-", 1)[-1] for alias in aliases} == KEY_FAMILIES


def test_key_policies_name_service_principals(plan):
    for address, key in of_type(plan, "aws_kms_key").items():
        policy = json.loads(key["policy"])
        text = json.dumps(policy)
        assert "kms:ViaService" in text or "Service" in text, f"{address}: no service named in its key policy"


def test_every_bucket_uses_sse_kms_with_bucket_keys(plan):
    for address, config in _per_bucket(plan, "aws_s3_bucket_server_side_encryption_configuration").items():
        (rule,) = config["rule"]
        assert rule["bucket_key_enabled"] is True, address
        assert rule["apply_server_side_encryption_by_default"][0]["sse_algorithm"] == "aws:kms", address


def test_every_bucket_is_versioned(plan):
    for address, config in _per_bucket(plan, "aws_s3_bucket_versioning").items():
        assert config["versioning_configuration"][0]["status"] == "Enabled", address


def test_every_bucket_blocks_public_access(plan):
    flags = ("block_public_acls", "block_public_policy", "ignore_public_acls", "restrict_public_buckets")
    for address, config in _per_bucket(plan, "aws_s3_bucket_public_access_block").items():
        assert all(config[f] is True for f in flags), address


def test_every_bucket_has_a_policy(plan):
    _per_bucket(plan, "aws_s3_bucket_policy")


def test_scratch_file_system_is_encrypted_and_mounted_through_an_access_point(plan):
    (fs,) = of_type(plan, "aws_efs_file_system").values()
    assert fs["encrypted"] is True
    (access_point,) = of_type(plan, "aws_efs_access_point").values()
    assert access_point["posix_user"] and access_point["root_directory"]
    assert len(of_type(plan, "aws_efs_mount_target")) >= 2
    assert len(of_type(plan, "aws_efs_file_system_policy")) == 1


def test_job_definition_never_retries_a_bad_spec(plan):
    (definition,) = of_type(plan, "aws_batch_job_definition").values()
    (strategy,) = definition["retry_strategy"]
    rules = strategy["evaluate_on_exit"]
    assert rules[0]["action"].lower() == "exit" and rules[0]["on_exit_code"] == "65"
    assert rules[-1]["action"].lower() == "exit", "the last rule must exit on anything else"
    assert any(r["action"].lower() == "retry" for r in rules)
    assert definition["timeout"][0]["attempt_duration_seconds"] > 0


def test_notifications_queue_has_a_redrive_to_its_dlq(plan):
    names = {q["name"] for q in of_type(plan, "aws_sqs_queue").values()}
    assert {"farm-notifications", "farm-notifications-dlq"} <= names or any(n.endswith("-dlq") for n in names)
    assert (
        len(of_type(plan, "aws_sqs_queue_redrive_policy"))
        + sum(1 for q in of_type(plan, "aws_sqs_queue").values() if q.get("redrive_policy"))
        >= 1
    )


def test_queue_and_topic_policies_exist(plan):
    assert len(of_type(plan, "aws_sqs_queue_policy")) >= 2
    assert len(of_type(plan, "aws_sns_topic_policy")) + len(of_type(plan, "aws_sns_topic")) >= 2


def test_lambdas_run_python_312_from_harness_zips(plan):
    functions = of_type(plan, "aws_lambda_function")
    assert len(functions) == 2
    for address, function in functions.items():
        assert function["runtime"] == "python3.12", address
        assert function["filename"].endswith((".zip",)), address
        assert function["source_code_hash"], f"{address}: the zip hash must be known at plan time"


def test_log_groups_have_retention(plan):
    for address, group in of_type(plan, "aws_cloudwatch_log_group").items():
        assert group.get("retention_in_days"), address


def test_events_rule_matches_batch_job_state_changes(plan):
    rules = {a: r for a, r in of_type(plan, "aws_cloudwatch_event_rule").items() if ".module.events." in a}
    assert len(rules) == 1, f"expected one rule in the events module, found {sorted(rules)}"
    (rule,) = rules.values()
    if rule.get("event_pattern"):  # the queue ARN inside may be unknown, making the whole pattern unknown
        pattern = json.loads(rule["event_pattern"])
        assert pattern["detail-type"] == ["Batch Job State Change"]
        assert pattern["source"] == ["aws.batch"]
