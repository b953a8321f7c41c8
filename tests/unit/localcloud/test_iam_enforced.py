"""The local cloud enforces IAM (localcloud/iam/authorizer.py, localcloud/runtime.py): workloads call as their
own role, requests are authorised with identity, resource and key policies, service deliveries as the
service principal, and every decision is recorded (GET /_localcloud/iam/calls)."""

from __future__ import annotations

import io
import json
import uuid
import zipfile

import boto3
import pytest
import requests
from botocore.config import Config
from botocore.exceptions import ClientError, NoCredentialsError

from localcloud import config
from tests.unit.localcloud.conftest import unique, wait_for

ACCOUNT = config.ACCOUNT_ID


def trust(service: str) -> str:
    """A trust policy admitting `service` for this account only (the stack's confused-deputy guard)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
                }
            ],
        }
    )


def make_role(cloud, service: str, *statements: dict, name: str | None = None) -> str:
    iam = cloud.client("iam")
    name = name or unique("role")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(service))["Role"]["Arn"]
    if statements:
        document = {"Version": "2012-10-17", "Statement": list(statements)}
        iam.put_role_policy(RoleName=name, PolicyName="grants", PolicyDocument=json.dumps(document))
    return arn


def allow(actions, resources) -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


def session_client(cloud, role_arn: str, service: str, name: str = "tester"):
    """A client with credentials of an STS session of the role (assumed by the admin)."""
    creds = cloud.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=name)["Credentials"]
    return boto3.client(
        service,
        endpoint_url=cloud.endpoint,
        region_name=config.REGION,
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        config=Config(retries={"max_attempts": 1}),
    )


def recorded(cloud) -> list[dict]:
    return requests.get(f"{cloud.endpoint}/_localcloud/iam/calls", timeout=10).json()["calls"]


def denied(caught: pytest.ExceptionInfo) -> tuple[str, str]:
    error = caught.value.response["Error"]
    return error["Code"], error.get("Message", "")


@pytest.fixture(scope="module")
def buckets(cloud):
    s3 = cloud.client("s3")
    names = [f"iam-{uuid.uuid4().hex[:10]}" for _ in range(2)]
    for name in names:
        s3.create_bucket(Bucket=name)
        s3.put_object(Bucket=name, Key="spec.json", Body=b"{}")
    return names


# ---- identity, resource and key policies -----------------------------------------------------------------


def test_a_role_reads_only_the_bucket_its_policy_names(cloud, buckets):
    mine, other = buckets
    role = make_role(cloud, "ecs-tasks.amazonaws.com", allow("s3:GetObject", f"arn:aws:s3:::{mine}/*"))
    s3 = session_client(cloud, role, "s3", name="reader")
    assert s3.get_object(Bucket=mine, Key="spec.json")["Body"].read() == b"{}"
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=other, Key="spec.json")
    code, message = denied(caught)
    assert code == "AccessDenied"
    session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.split('/')[-1]}/reader"
    assert message.startswith(f"User: {session} is not authorized to perform: s3:GetObject")
    assert f"arn:aws:s3:::{other}/spec.json" in message


def test_an_explicit_deny_in_the_bucket_policy_wins(cloud, buckets):
    mine, _ = buckets
    role = make_role(cloud, "ecs-tasks.amazonaws.com", allow("s3:*", "*"))
    s3 = session_client(cloud, role, "s3")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": {"AWS": role},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{mine}/*",
            }
        ],
    }
    cloud.client("s3").put_bucket_policy(Bucket=mine, Policy=json.dumps(policy))
    try:
        with pytest.raises(ClientError) as caught:
            s3.get_object(Bucket=mine, Key="spec.json")
        code, message = denied(caught)
        assert code == "AccessDenied" and "explicit deny in a resource-based policy" in message
    finally:
        cloud.client("s3").delete_bucket_policy(Bucket=mine)
    assert s3.get_object(Bucket=mine, Key="spec.json")["Body"].read() == b"{}"


def test_put_with_sse_kms_needs_generate_data_key_and_the_key_policy(cloud, buckets):
    mine, _ = buckets
    kms = cloud.client("kms")
    key = kms.create_key()["KeyMetadata"]["Arn"]  # default key policy: the account root, so IAM decides
    put = allow("s3:PutObject", f"arn:aws:s3:::{mine}/*")
    without = session_client(cloud, make_role(cloud, "ecs-tasks.amazonaws.com", put), "s3")
    with pytest.raises(ClientError) as caught:
        without.put_object(
            Bucket=mine, Key="a.svg", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key
        )
    code, message = denied(caught)
    assert code == "AccessDenied" and "kms:GenerateDataKey" in message and key in message

    role = make_role(cloud, "ecs-tasks.amazonaws.com", put, allow("kms:GenerateDataKey", key))
    granted = session_client(cloud, role, "s3")
    granted.put_object(Bucket=mine, Key="a.svg", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key)

    # A key policy that does not delegate to the account: the identity grant no longer counts.
    other = f"arn:aws:iam::{ACCOUNT}:role/someone-else"
    cloud.client("iam").create_role(
        RoleName="someone-else", AssumeRolePolicyDocument=trust("ec2.amazonaws.com")
    )
    closed = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": other}, "Action": "kms:*", "Resource": "*"}],
    }
    kms.put_key_policy(KeyId=key, PolicyName="default", Policy=json.dumps(closed))
    with pytest.raises(ClientError) as caught:
        granted.put_object(
            Bucket=mine, Key="b.svg", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key
        )
    assert denied(caught)[0] == "AccessDenied"


def test_reading_an_sse_kms_object_needs_decrypt(cloud, buckets):
    mine, _ = buckets
    key = cloud.client("kms").create_key()["KeyMetadata"]["Arn"]
    cloud.client("s3").put_object(
        Bucket=mine, Key="secret.json", Body=b"{}", ServerSideEncryption="aws:kms", SSEKMSKeyId=key
    )
    get = allow("s3:GetObject", f"arn:aws:s3:::{mine}/*")
    s3 = session_client(cloud, make_role(cloud, "ecs-tasks.amazonaws.com", get), "s3")
    with pytest.raises(ClientError) as caught:
        s3.get_object(Bucket=mine, Key="secret.json")
    assert "kms:Decrypt" in denied(caught)[1]
    s3 = session_client(
        cloud, make_role(cloud, "ecs-tasks.amazonaws.com", get, allow("kms:Decrypt", key)), "s3"
    )
    assert s3.get_object(Bucket=mine, Key="secret.json")["Body"].read() == b"{}"


def test_the_admin_keys_are_bound_by_an_explicit_deny_of_a_bucket_policy(cloud, buckets):
    _, other = buckets
    s3 = cloud.client("s3")
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:PutObject",
                "Resource": f"arn:aws:s3:::{other}/*",
                "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
            }
        ],
    }
    s3.put_bucket_policy(Bucket=other, Policy=json.dumps(policy))
    try:
        with pytest.raises(ClientError) as caught:
            s3.put_object(Bucket=other, Key="plain.svg", Body=b"x")
        assert denied(caught)[0] == "AccessDenied"  # S3's XML error, not an empty 403
    finally:
        s3.delete_bucket_policy(Bucket=other)


# ---- credentials -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["AKIAUNKNOWNKEY000000", config.ACCESS_KEY_ID], ids=["unknown", "test"])
def test_keys_the_cloud_did_not_issue_are_refused(cloud, key):
    sqs = boto3.client(
        "sqs",
        endpoint_url=cloud.endpoint,
        region_name=config.REGION,
        aws_access_key_id=key,
        aws_secret_access_key="test",  # noqa: S106 - a wrong secret on purpose
        config=Config(retries={"max_attempts": 1}),
    )
    with pytest.raises(ClientError) as caught:
        sqs.list_queues()
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] in (400, 403)


def test_an_iam_user_key_is_evaluated_with_the_users_policies(cloud):
    iam = cloud.client("iam")
    name = unique("user")
    iam.create_user(UserName=name)
    iam.put_user_policy(
        UserName=name,
        PolicyName="list",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [allow("sqs:ListQueues", "*")]}),
    )
    key = iam.create_access_key(UserName=name)["AccessKey"]
    sqs, sns = (
        boto3.client(
            service,
            endpoint_url=cloud.endpoint,
            region_name=config.REGION,
            aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"],
        )
        for service in ("sqs", "sns")
    )
    sqs.list_queues()
    with pytest.raises(ClientError) as caught:
        sns.list_topics()
    assert f"user/{name} is not authorized to perform: sns:ListTopics" in denied(caught)[1]


# ---- service principals ----------------------------------------------------------------------------------


def _topic_and_queue(cloud, admits: bool) -> tuple[str, str, str]:
    sns, sqs = cloud.client("sns"), cloud.client("sqs")
    topic = sns.create_topic(Name=unique("t"))["TopicArn"]
    url = sqs.create_queue(QueueName=unique("q"))["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic if admits else topic + "-other"}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue)
    return topic, url, queue


def test_sns_delivers_only_where_the_queue_policy_admits_the_topic(cloud):
    sns, sqs = cloud.client("sns"), cloud.client("sqs")
    topic, url, _ = _topic_and_queue(cloud, admits=True)
    sns.publish(TopicArn=topic, Message="hello")
    assert wait_for(lambda: sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages"), 10)

    topic, url, queue = _topic_and_queue(cloud, admits=False)
    sns.publish(TopicArn=topic, Message="hello")
    assert not sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages")
    refused = [
        c
        for c in recorded(cloud)
        if c["principal"] == "sns.amazonaws.com" and c["resource"] == queue and c["decision"] == "deny"
    ]
    assert refused and refused[0]["action"] == "sqs:SendMessage" and refused[0]["principal_kind"] == "service"


# ---- workloads -------------------------------------------------------------------------------------------

IDENTITY_SCRIPT = """
import os, sys
import boto3, botocore.exceptions
try:
    arn = boto3.client("sts").get_caller_identity()["Arn"]
except botocore.exceptions.NoCredentialsError:
    arn = "none"
print("identity", arn)
sys.exit(0 if arn.startswith(os.environ["EXPECTED"]) else 3)
"""


def test_a_batch_job_calls_as_its_job_role(cloud, batch_setup):
    script = batch_setup.script("identity", IDENTITY_SCRIPT)
    role = make_role(cloud, "ecs-tasks.amazonaws.com")
    definition = batch_setup.job_definition(["python", str(script)], container={"jobRoleArn": role})
    prefix = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.split('/')[-1]}/"
    job_id = batch_setup.submit(
        definition, containerOverrides={"environment": [{"name": "EXPECTED", "value": prefix}]}
    )
    job = batch_setup.wait_done(job_id)
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    # The job's session is named after the job.
    expected = f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.split('/')[-1]}/{job_id}"
    group, stream = "/aws/batch/job", job["container"]["logStreamName"]
    lines = cloud.client("logs").get_log_events(logGroupName=group, logStreamName=stream)["events"]
    assert any(e["message"] == f"identity {expected}" for e in lines), lines


def test_a_job_without_a_job_role_gets_no_credentials(cloud, batch_setup):
    script = batch_setup.script("identity", IDENTITY_SCRIPT)
    definition = batch_setup.job_definition(
        ["python", str(script)], container={"environment": [{"name": "EXPECTED", "value": "none"}]}
    )
    assert batch_setup.wait_done(batch_setup.submit(definition))["status"] == "SUCCEEDED"


def test_a_job_role_that_does_not_trust_ecs_tasks_fails_the_job(cloud, batch_setup):
    role = make_role(cloud, "lambda.amazonaws.com")
    definition = batch_setup.job_definition(["python", "-c", "pass"], container={"jobRoleArn": role})
    job = batch_setup.wait_done(batch_setup.submit(definition))
    assert job["status"] == "FAILED" and role in job["statusReason"]


LAMBDA_SOURCE = """
import boto3

def handler(event, context):
    return boto3.client("sts").get_caller_identity()["Arn"]
"""


def _function(cloud, role: str) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("main.py", LAMBDA_SOURCE)
    name = unique("fn")
    cloud.client("lambda").create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="main.handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=30,
    )
    return name


def test_a_lambda_calls_as_its_execution_role(cloud):
    role = make_role(cloud, "lambda.amazonaws.com")
    name = _function(cloud, role)
    response = cloud.client("lambda").invoke(FunctionName=name, Payload=b"{}")
    assert "FunctionError" not in response
    arn = json.loads(response["Payload"].read())
    assert arn == f"arn:aws:sts::{ACCOUNT}:assumed-role/{role.split('/')[-1]}/{name}"


def test_a_lambda_whose_role_does_not_trust_lambda_fails_naming_the_role(cloud):
    role = make_role(cloud, "ecs-tasks.amazonaws.com")
    response = cloud.client("lambda").invoke(FunctionName=_function(cloud, role), Payload=b"{}")
    assert response.get("FunctionError")
    assert role in json.loads(response["Payload"].read())["errorMessage"]


def test_state_machine_integrations_call_as_its_role(cloud):
    sns, sfn = cloud.client("sns"), cloud.client("stepfunctions")
    topic = sns.create_topic(Name=unique("done"))["TopicArn"]
    forbidden = sns.create_topic(Name=unique("other"))["TopicArn"]
    role = make_role(cloud, "states.amazonaws.com", allow("sns:Publish", topic))

    def run(target: str) -> dict:
        definition = {
            "StartAt": "Notify",
            "States": {
                "Notify": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sns:publish",
                    "Parameters": {"TopicArn": target, "Message": "done"},
                    "End": True,
                }
            },
        }
        machine = sfn.create_state_machine(name=unique("m"), roleArn=role, definition=json.dumps(definition))
        execution = sfn.start_execution(stateMachineArn=machine["stateMachineArn"], name=unique("run"))
        arn = execution["executionArn"]
        return wait_for(
            lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d, 60
        )

    assert run(topic)["status"] == "SUCCEEDED"
    assert run(forbidden)["status"] == "FAILED"
    calls = {(c["action"], c["resource"], c["decision"]) for c in recorded(cloud) if c["principal"] == role}
    assert ("sns:Publish", topic, "allow") in calls
    assert ("sns:Publish", forbidden, "deny") in calls


# ---- the record ------------------------------------------------------------------------------------------


def test_the_record_is_served_and_cleared(cloud, buckets):
    mine, _ = buckets
    role = make_role(cloud, "ecs-tasks.amazonaws.com", allow("s3:GetObject", f"arn:aws:s3:::{mine}/*"))
    session_client(cloud, role, "s3").get_object(Bucket=mine, Key="spec.json")
    doc = requests.get(f"{cloud.endpoint}/_localcloud/iam/calls", timeout=10).json()
    assert doc["boot_id"]
    [entry] = [c for c in doc["calls"] if c["principal"] == role]
    assert entry["action"] == "s3:GetObject" and entry["decision"] == "allow" and entry["count"] == 1
    assert entry["allowed_by"] == [{"source": f"identity:{role}:grants", "index": 0, "sid": None}]
    assert requests.delete(f"{cloud.endpoint}/_localcloud/iam/calls", timeout=10).ok
    assert not [c for c in recorded(cloud) if c["principal"] == role]


def test_no_credentials_at_all_are_refused(cloud):
    answer = requests.get(f"{cloud.endpoint}/", timeout=10)  # an anonymous S3 ListBuckets
    assert answer.status_code == 403


def test_boto3_without_credentials_finds_none_in_a_job_environment(monkeypatch):
    from localcloud import runtime

    for name, value in runtime.workload_env("http://127.0.0.1:1", None).items():
        monkeypatch.setenv(name, value)
    for name in runtime.CREDENTIAL_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(NoCredentialsError):
        boto3.Session().client("sts").get_caller_identity()


def test_an_unmodelled_operation_is_allowed_only_under_a_whole_service_grant(cloud):
    # EC2 has no table in iam/requests.py: only a grant of every EC2 action on every resource decides it.
    narrow = session_client(cloud, make_role(cloud, "ec2.amazonaws.com", allow("ec2:Describe*", "*")), "ec2")
    with pytest.raises(ClientError) as caught:
        narrow.describe_availability_zones()
    assert "ec2:DescribeAvailabilityZones is not modelled" in denied(caught)[1]

    deployer = make_role(cloud, "ec2.amazonaws.com", allow("ec2:*", "*"))
    assert session_client(cloud, deployer, "ec2").describe_availability_zones()["AvailabilityZones"]
    decision = next(
        c
        for c in recorded(cloud)
        if c["principal"] == deployer and c["action"] == "ec2:DescribeAvailabilityZones"
    )
    assert decision["decision"] == "allow" and "ec2:* on *" in decision["reason"], decision
