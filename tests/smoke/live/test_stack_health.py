"""Live smoke: every deployed resource is present, healthy and encrypted with the key of its family.

Targets come only from the stack outputs (tests/conftest.py `stack`), so this runs against local and aws.
"""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.live

KEY_FAMILIES = {"storage", "scratch", "logs", "messaging", "functions", "registry"}


@pytest.fixture(scope="module")
def key_arn(stack):
    """Resolve any key reference a service reports (ARN, id or alias) to the key's ARN."""
    kms = stack.client("kms")
    cache: dict[str, str] = {}

    def resolve(reference: str) -> str:
        if reference not in cache:
            cache[reference] = kms.describe_key(KeyId=reference)["KeyMetadata"]["Arn"]
        return cache[reference]

    return resolve


@pytest.fixture(scope="module")
def keys(stack):
    return stack["kms_key_arns"]


def test_six_customer_keys_enabled_with_rotation(stack, keys):
    kms = stack.client("kms")
    assert set(keys) == KEY_FAMILIES
    assert len(set(keys.values())) == 6, "each family has its own key"
    for family, arn in keys.items():
        metadata = kms.describe_key(KeyId=arn)["KeyMetadata"]
        assert metadata["Enabled"], family
        assert metadata["KeyState"] == "Enabled", family
        assert metadata["KeyManager"] == "CUSTOMER", family
        assert kms.get_key_rotation_status(KeyId=arn)["KeyRotationEnabled"], f"{family} key rotation is off"


def test_compute_environments_valid_and_enabled(stack):
    arns = stack["compute_environment_arns"]
    assert arns, "no compute environments in the outputs"
    described = stack.client("batch").describe_compute_environments(computeEnvironments=arns)
    found = {env["computeEnvironmentArn"]: env for env in described["computeEnvironments"]}
    assert set(found) == set(arns)
    for arn, env in found.items():
        assert env["state"] == "ENABLED", arn
        assert env["status"] == "VALID", f"{arn}: {env.get('statusReason')}"


def test_job_queues_valid_enabled_and_backed_by_our_environments(stack):
    queues = stack["job_queue_arns"]
    assert set(queues) == {"bulk", "urgent"} and queues["bulk"] == stack["job_queue_arn"]
    described = stack.client("batch").describe_job_queues(jobQueues=list(queues.values()))
    found = {queue["jobQueueArn"]: queue for queue in described["jobQueues"]}
    assert set(found) == set(queues.values())
    for queue in found.values():
        assert queue["state"] == "ENABLED"
        assert queue["status"] == "VALID", queue.get("statusReason")
        order = {entry["computeEnvironment"] for entry in queue["computeEnvironmentOrder"]}
        assert order == set(stack["compute_environment_arns"])
        # No job waits in RUNNABLE forever: each blocked reason has a CANCEL action (read back as applied).
        actions = queue["jobStateTimeLimitActions"]
        assert {a["reason"] for a in actions} == {
            "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY",
            "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE",
            "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT",
        }
        assert all(a["state"] == "RUNNABLE" and a["action"] == "CANCEL" for a in actions), actions
        assert all(600 <= a["maxTimeSeconds"] <= 86400 for a in actions), actions
    assert found[queues["urgent"]]["priority"] > found[queues["bulk"]]["priority"], "urgent goes first"


def test_job_definition_active_with_scratch_volume(stack):
    described = stack.client("batch").describe_job_definitions(jobDefinitions=[stack["job_definition_arn"]])
    (definition,) = described["jobDefinitions"]
    assert definition["status"] == "ACTIVE"
    container = definition["containerProperties"]
    volumes = [
        v["efsVolumeConfiguration"] for v in container.get("volumes", []) if "efsVolumeConfiguration" in v
    ]
    assert [v["fileSystemId"] for v in volumes] == [stack["efs_file_system_id"]]
    assert volumes[0].get("transitEncryption") == "ENABLED"
    mounts = [m["containerPath"] for m in container.get("mountPoints", [])]
    assert stack["scratch_mount_path"] in mounts
    environment = {e["name"]: e["value"] for e in container.get("environment", [])}
    if not stack["test_hooks_enabled"]:
        assert "FARM_TEST_HOOKS" not in environment, "test hooks must never reach a real account"


def test_state_machine_active(stack):
    described = stack.client("stepfunctions").describe_state_machine(
        stateMachineArn=stack["state_machine_arn"]
    )
    assert described["status"] == "ACTIVE"
    definition = json.loads(described["definition"])
    assert definition["States"], "empty state machine"


def test_lambdas_present_with_functions_key(stack, keys, key_arn):
    lam = stack.client("lambda")
    names = stack["lambda_function_names"]
    assert set(names) == {"validate_input", "publish_results"}
    for name in names.values():
        configuration = lam.get_function_configuration(FunctionName=name)
        assert configuration.get("KMSKeyArn"), f"{name}: environment not encrypted with a customer key"
        assert key_arn(configuration["KMSKeyArn"]) == keys["functions"], name


def test_topics_encrypted_with_messaging_key(stack, keys, key_arn):
    sns = stack.client("sns")
    for output in ("completion_topic_arn", "failure_topic_arn"):
        attributes = sns.get_topic_attributes(TopicArn=stack[output])["Attributes"]
        assert attributes.get("KmsMasterKeyId"), f"{output} is not encrypted"
        assert key_arn(attributes["KmsMasterKeyId"]) == keys["messaging"], output


def _queue_attributes(stack, output: str) -> dict:
    return stack.client("sqs").get_queue_attributes(QueueUrl=stack[output], AttributeNames=["All"])[
        "Attributes"
    ]


@pytest.mark.parametrize(
    "output", ["notifications_queue_url", "notifications_dlq_url", "failure_queue_url", "events_queue_url"]
)
def test_queues_encrypted_with_messaging_key(stack, keys, key_arn, output):
    attributes = _queue_attributes(stack, output)
    assert attributes.get("KmsMasterKeyId"), f"{output} is not encrypted with a customer key"
    assert key_arn(attributes["KmsMasterKeyId"]) == keys["messaging"], output


def test_notifications_queue_redrives_to_dlq_after_three_receives(stack):
    dlq_arn = _queue_attributes(stack, "notifications_dlq_url")["QueueArn"]
    redrive = json.loads(_queue_attributes(stack, "notifications_queue_url")["RedrivePolicy"])
    assert redrive["deadLetterTargetArn"] == dlq_arn
    assert int(redrive["maxReceiveCount"]) == 3


def test_topics_deliver_to_their_queues(stack):
    sns = stack.client("sns")
    wiring = {"completion_topic_arn": "notifications_queue_url", "failure_topic_arn": "failure_queue_url"}
    for topic_output, queue_output in wiring.items():
        queue_arn = _queue_attributes(stack, queue_output)["QueueArn"]
        subscriptions = sns.list_subscriptions_by_topic(TopicArn=stack[topic_output])["Subscriptions"]
        endpoints = {s["Endpoint"] for s in subscriptions if s["Protocol"] == "sqs"}
        assert queue_arn in endpoints, f"{topic_output} does not deliver to {queue_output}"


@pytest.mark.parametrize("output", ["specs_bucket", "renders_bucket", "artifacts_bucket"])
def test_buckets_sse_kms_with_storage_key(stack, keys, key_arn, output):
    s3 = stack.client("s3")
    bucket = stack[output]
    rules = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"]
    default = rules[0]["ApplyServerSideEncryptionByDefault"]
    assert default["SSEAlgorithm"] == "aws:kms"
    assert key_arn(default["KMSMasterKeyID"]) == keys["storage"]
    assert rules[0].get("BucketKeyEnabled") is True
    assert s3.get_bucket_versioning(Bucket=bucket).get("Status") == "Enabled"
    block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
    assert all(block.values()) and len(block) == 4, block


def test_uploads_are_written_with_the_storage_key(stack, keys, key_arn):
    """An object the CLI uploads lands SSE-KMS with the storage key (the bucket policy admits it)."""
    from farm.client import FarmClient
    from render_worker.uri import new_run_id

    s3 = stack.client("s3")
    uri = FarmClient(stack).upload_spec(b"{}", new_run_id("smoke-enc"), "probe.json")
    bucket, key = uri.removeprefix("s3://").split("/", 1)
    try:
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ServerSideEncryption"] == "aws:kms"
        assert key_arn(head["SSEKMSKeyId"]) == keys["storage"]
    finally:
        s3.delete_object(Bucket=bucket, Key=key)


def test_efs_encrypted_with_scratch_key_and_access_point(stack, keys, key_arn):
    efs = stack.client("efs")
    (file_system,) = efs.describe_file_systems(FileSystemId=stack["efs_file_system_id"])["FileSystems"]
    assert file_system["Encrypted"] is True
    assert key_arn(file_system["KmsKeyId"]) == keys["scratch"]
    points = efs.describe_access_points(AccessPointId=stack["efs_access_point_id"])["AccessPoints"]
    assert points[0]["FileSystemId"] == stack["efs_file_system_id"]


def test_events_rule_targets_log_group_and_queue(stack, keys, key_arn):
    events = stack.client("events")
    rule = events.describe_rule(Name=stack["events_rule_name"])
    assert rule["State"] == "ENABLED"
    pattern = json.loads(rule["EventPattern"])
    assert "Batch Job State Change" in pattern["detail-type"]
    assert sorted(pattern["detail"]["jobQueue"]) == sorted(stack["job_queue_arns"].values()), "our queues"
    targets = {t["Arn"] for t in events.list_targets_by_rule(Rule=stack["events_rule_name"])["Targets"]}
    queue_arn = _queue_attributes(stack, "events_queue_url")["QueueArn"]
    assert queue_arn in targets
    assert any(stack["events_log_group_name"] in arn for arn in targets), targets
    groups = stack.client("logs").describe_log_groups(logGroupNamePrefix=stack["events_log_group_name"])
    (group,) = [g for g in groups["logGroups"] if g["logGroupName"] == stack["events_log_group_name"]]
    assert group.get("kmsKeyId") and key_arn(group["kmsKeyId"]) == keys["logs"]


def test_ecr_repository_encrypted_with_registry_key(stack, keys, key_arn):
    name = stack["ecr_repository_url"].split("/", 1)[1]
    (repository,) = stack.client("ecr").describe_repositories(repositoryNames=[name])["repositories"]
    encryption = repository["encryptionConfiguration"]
    assert encryption["encryptionType"] == "KMS"
    assert key_arn(encryption["kmsKey"]) == keys["registry"]
    assert repository["imageTagMutability"] == "IMMUTABLE"
