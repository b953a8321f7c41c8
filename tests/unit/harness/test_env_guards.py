"""envs/local can only ever reach the local cloud: its provider refuses any other account (the provider asks
STS GetCallerIdentity and compares), so a shell whose AWS_ENDPOINT_URL went missing cannot plan or apply the
local env, with its force-destroyed buckets and test hooks, against a real account. (That the plan still works
against the local cloud, whose STS answers with its account, is the static suite's env plan.)"""

from __future__ import annotations

from harness import terraform
from harness.tfdocs import blocks, literal
from localcloud import config


def test_envs_local_allows_only_the_local_cloud_account():
    provider = blocks(terraform.ENVS_DIR / "local", "provider")["aws"]
    allowed = [literal(v) for v in provider.get("allowed_account_ids", [])]
    assert allowed == [config.ACCOUNT_ID], (
        f'envs/local\'s provider must set allowed_account_ids = ["{config.ACCOUNT_ID}"], found {allowed}'
    )
    assert "forbidden_account_ids" not in provider
