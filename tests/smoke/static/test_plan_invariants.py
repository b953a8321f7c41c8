"""Rules every env's whole plan must keep, whatever the inventory says: the security baseline of DESIGN.md
section 6 across every module the composition calls (a module added without it fails here). What one module
emits is tested next to that module (modules/<name>/tests)."""

from __future__ import annotations

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


def test_lambdas_run_python_312_from_harness_zips(plan):
    functions = of_type(plan, "aws_lambda_function")
    assert len(functions) == 2
    for address, function in functions.items():
        assert function["runtime"] == "python3.11", address
        assert function["filename"].endswith((".zip",)), address
        assert function["source_code_hash"], f"{address}: the zip hash must be known at plan time"


def test_log_groups_have_retention(plan):
    for address, group in of_type(plan, "aws_cloudwatch_log_group").items():
        assert group.get("retention_in_days"), address
