"""A fresh deployment of envs/local applies cleanly, re-plans with no changes, keeps the wiring the plan could
not show (values known only after apply), and `destroy` leaves nothing behind.

Runs against its own local cloud (free port, temporary state dirs), never against the developer's deployment.
"""

from __future__ import annotations

import json
import time

import pytest

from farm import stack
from harness import infra, terraform
from tests.smoke.static.plans import free_port


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    from localcloud import lifecycle

    base = tmp_path_factory.mktemp("fresh-deployment")
    port = free_port()
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FARM_STATE_DIR", str(base / "farm"))
        patch.setenv("LOCALCLOUD_PORT", str(port))
        patch.setenv("LOCALCLOUD_STATE_DIR", str(base / "cloud"))
        patch.delenv("FARM_OUTPUTS_JSON", raising=False)
        stack.load.cache_clear()
        try:
            started = time.monotonic()
            outputs = infra.deploy("local")
            print(f"fresh apply of envs/local took {time.monotonic() - started:.1f} s")
            yield stack.unwrap(outputs)
        finally:
            lifecycle.down(port=port, state_dir=base / "cloud")
            stack.load.cache_clear()


def _state_resources(env: str = "local") -> dict[str, dict]:
    ws = terraform.workspace(env)
    ws.stream = False
    shown = json.loads(ws.run("show", "-json", "-no-color", capture=True).stdout or "{}")
    found: dict[str, dict] = {}

    def walk(module: dict) -> None:
        for resource in module.get("resources", []):
            found[resource["address"]] = resource
        for child in module.get("child_modules", []):
            walk(child)

    walk(shown.get("values", {}).get("root_module", {}))
    return found


def _of_type(resources: dict[str, dict], resource_type: str) -> list[dict]:
    return [r["values"] for r in resources.values() if r["type"] == resource_type and r["mode"] == "managed"]


def test_outputs_cover_the_contract(deployment):
    expected = {
        "region", "endpoint_url", "specs_bucket", "renders_bucket", "artifacts_bucket", "state_machine_arn",
        "job_queue_arn", "job_definition_arn", "compute_environment_arns", "completion_topic_arn",
        "failure_topic_arn", "notifications_queue_url", "notifications_dlq_url", "failure_queue_url",
        "events_rule_name", "events_log_group_name", "events_queue_url", "efs_file_system_id",
        "efs_access_point_id", "scratch_mount_path", "kms_key_arns", "lambda_function_names",
        "ecr_repository_url", "test_hooks_enabled", "sizing", "job_queue_arns", "job_resources", "prices",
        "pipeline",
    }  # fmt: skip
    assert expected <= set(deployment)
    assert set(deployment["kms_key_arns"]) == {
        "storage",
        "scratch",
        "logs",
        "messaging",
        "functions",
        "registry",
    }
    assert deployment["test_hooks_enabled"] is True
    # envs/local: one 1-vCPU job in each of the two compute environments, what the local Batch runs at once
    assert set(deployment["sizing"]) == {
        "child_variants_per_s",
        "child_start_s",
        "storage_puts_per_s",
        "max_parallel_children",
    }
    assert deployment["sizing"]["max_parallel_children"] == 2


def test_second_plan_shows_no_changes(deployment):
    assert infra.pending_changes("local") == infra.NO_CHANGES


def test_applied_wiring(deployment):
    resources = _state_resources()
    keys = deployment["kms_key_arns"]

    (machine,) = _of_type(resources, "aws_sfn_state_machine")
    definition = json.loads(machine["definition"])
    resources_used = {s.get("Resource") for s in definition["States"].values()}
    assert "arn:aws:states:::batch:submitJob.sync" in resources_used

    queues = {q["name"]: q for q in _of_type(resources, "aws_sqs_queue")}
    redrives = [json.loads(r["redrive_policy"]) for r in _of_type(resources, "aws_sqs_queue_redrive_policy")]
    redrives += [json.loads(q["redrive_policy"]) for q in queues.values() if q.get("redrive_policy")]
    assert redrives, "no redrive policy in the state"
    assert all(r["maxReceiveCount"] == 3 for r in redrives)
    dlq_arns = {r["deadLetterTargetArn"] for r in redrives}
    assert dlq_arns <= {q["arn"] for q in queues.values()}
    assert all(
        q["kms_master_key_id"] in (keys["messaging"], keys["messaging"].split("/")[-1])
        for q in queues.values()
    )

    for function in _of_type(resources, "aws_lambda_function"):
        assert function["kms_key_arn"] == keys["functions"], function["function_name"]
    (fs,) = _of_type(resources, "aws_efs_file_system")
    assert fs["encrypted"] is True and fs["kms_key_id"] == keys["scratch"]
    for config in _of_type(resources, "aws_s3_bucket_server_side_encryption_configuration"):
        (rule,) = config["rule"]
        assert rule["apply_server_side_encryption_by_default"][0]["kms_master_key_id"] == keys["storage"]


SPOT_ENVIRONMENT = 'module.stack.module.batch.aws_batch_compute_environment.this["spot"]'


def _spot_environment(batch, queue_arn: str) -> str:
    """ARN of the Fargate Spot compute environment the job queue lists."""
    (queue,) = batch.describe_job_queues(jobQueues=[queue_arn])["jobQueues"]
    listed = [entry["computeEnvironment"] for entry in queue["computeEnvironmentOrder"]]
    described = batch.describe_compute_environments(computeEnvironments=listed)["computeEnvironments"]
    spot = [e["computeEnvironmentArn"] for e in described if e["computeResources"]["type"] == "FARGATE_SPOT"]
    assert len(spot) == 1, f"the queue lists {listed}, Fargate Spot among them: {spot}"
    return spot[0]


def test_compute_environment_replacement_applies_cleanly(deployment):
    """A change that replaces a compute environment applies in one go: the new environment is created, the
    queue moved to it, and only then the old one deleted. The local cloud, like AWS, refuses to delete an
    environment a queue still uses, so a module that destroys first fails here (terraform-aws-batch #9)."""
    batch = stack.load("local").client("batch")
    queue = deployment["job_queue_arn"]
    before = _spot_environment(batch, queue)

    ws = terraform.workspace("local", endpoint_url=deployment["endpoint_url"])
    ws.lambda_zip_dir = infra.build_zips("local")
    ws.init()
    started = time.monotonic()
    try:
        ws.run("apply", "-input=false", "-auto-approve", f"-replace={SPOT_ENVIRONMENT}")
    except terraform.TerraformError as err:
        pytest.fail(f"replacing {SPOT_ENVIRONMENT} did not apply: {err}")
    finally:
        stack.load.cache_clear()  # the outputs list the new environment (or the apply failed part-way)
    print(f"replacement of the spot compute environment applied in {time.monotonic() - started:.1f} s")

    after = _spot_environment(batch, queue)
    assert after != before, "the queue still lists the old Fargate Spot environment"
    assert batch.describe_compute_environments(computeEnvironments=[before])["computeEnvironments"] == []
    assert stack.load("local")["compute_environment_arns"][0] == after
    assert infra.pending_changes("local") == infra.NO_CHANGES


def test_destroy_removes_everything(deployment):
    infra.destroy("local")
    ws = terraform.workspace("local")
    assert not ws.has_state()
    with pytest.raises(stack.StackNotDeployed):
        stack.load("local")
    local = stack.Stack(
        env="local", outputs={"region": "us-east-1", "endpoint_url": deployment["endpoint_url"]}
    )
    # The state bucket lives outside Terraform (as an account's does): the harness made it, destroy keeps it.
    buckets = [b["Name"] for b in local.client("s3").list_buckets()["Buckets"]]
    assert buckets == [terraform.local_cloud_state().bucket]
    assert local.client("stepfunctions").list_state_machines()["stateMachines"] == []
    assert local.client("sqs").list_queues().get("QueueUrls", []) == []
    assert local.client("sns").list_topics()["Topics"] == []
    assert local.client("lambda").list_functions()["Functions"] == []
    assert local.client("batch").describe_job_queues()["jobQueues"] == []
    assert local.client("efs").describe_file_systems()["FileSystems"] == []
    kms = local.client("kms")
    states = {kms.describe_key(KeyId=k["KeyId"])["KeyMetadata"]["KeyState"] for k in kms.list_keys()["Keys"]}
    assert states <= {"PendingDeletion"}
