"""Requests as botocore really writes them map to the authorisations AWS checks (localcloud/iam/requests.py).

Each request is built by a boto3 client and caught before it is sent, then handed over as a WSGI environ.
"""

from __future__ import annotations

import base64
import urllib.parse

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws
from werkzeug.test import EnvironBuilder

from localcloud.iam import requests
from localcloud.iam.model import Call

ACCOUNT = "123456789012"
ENDPOINT = "http://127.0.0.1:1"
KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"
KEY_ARN = f"arn:aws:kms:us-east-1:{ACCOUNT}:key/{KEY_ID}"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:farm-completion"
QUEUE_URL = f"http://127.0.0.1:4599/{ACCOUNT}/farm-notifications"
QUEUE_ARN = f"arn:aws:sqs:us-east-1:{ACCOUNT}:farm-notifications"
MACHINE = f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:farm-render"
EXECUTION = f"arn:aws:states:us-east-1:{ACCOUNT}:execution:farm-render:run-1"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:farm-validate"
RULE = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/StepFunctionsGetEventsForBatchJobsRule"
LOGS = f"arn:aws:logs:us-east-1:{ACCOUNT}:log-group:/aws/batch/job"


class _Sent(Exception):
    """Raised in place of sending: the request was caught."""


def client(service: str):
    """A boto3 client aimed at nothing, that never retries."""
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="AKIAWORKLOADKEY00001",
        aws_secret_access_key="secret",  # noqa: S106 - never sent
        config=Config(retries={"total_max_attempts": 1}),
    )


def on_send(made, answer) -> None:
    """Hand every request of client `made` to `answer(environ, body)` instead of sending it: what it returns
    (an AWSResponse) is the response. Registered first: before moto's own handler when moto is on."""

    def handle(request, **_kwargs):
        return answer(*to_environ(request))

    made.meta.events.register_first("before-send", handle)


def to_environ(request) -> tuple[dict, bytes]:
    """The WSGI environ and body a server would see for a botocore AWSPreparedRequest."""
    body = request.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    url = urllib.parse.urlsplit(request.url)
    headers = {k: v.decode() if isinstance(v, bytes) else v for k, v in request.headers.items()}
    environ = EnvironBuilder(
        path=url.path,
        base_url=f"{url.scheme}://{url.netloc}",
        query_string=url.query,
        method=request.method,
        headers=headers,
        data=body,
    ).get_environ()
    return environ, body


def captured(service: str, operation: str, **params) -> tuple[dict, bytes]:
    """The WSGI environ and body of the request a boto3 client makes for `operation(**params)`."""
    made, seen = client(service), {}

    def catch(environ, body):
        seen["request"] = (environ, body)
        raise _Sent

    on_send(made, catch)
    with pytest.raises(_Sent):
        getattr(made, operation)(**params)
    return seen["request"]


def signing_name(environ: dict) -> str:
    from localcloud.server import request_service

    return request_service(environ)


def calls_for(service: str, operation: str, **params) -> list[Call] | None:
    environ, body = captured(service, operation, **params)
    return requests.calls(signing_name(environ), environ, body)


def pairs(found: list[Call] | None) -> list[tuple[str, str]]:
    assert found is not None, "operation not modelled"
    return [(c.action, c.resource) for c in found]


def only(found: list[Call] | None) -> Call:
    assert found is not None and len(found) == 1, found
    return found[0]


# --- S3: what the render worker and the Lambdas do ----------------------------------------------------------


def test_get_object_and_head_object_need_get_object_on_the_object():
    key = "specs/catalog ü+?#.json"
    arn = f"arn:aws:s3:::farm-specs/{key}"
    assert pairs(calls_for("s3", "get_object", Bucket="farm-specs", Key=key)) == [("s3:GetObject", arn)]
    assert pairs(calls_for("s3", "head_object", Bucket="farm-specs", Key=key)) == [("s3:GetObject", arn)]


def test_a_versioned_read_needs_get_object_version():
    for operation in ("get_object", "head_object"):
        call = only(calls_for("s3", operation, Bucket="farm-specs", Key="a.json", VersionId="v-1"))
        assert (call.action, call.resource) == ("s3:GetObjectVersion", "arn:aws:s3:::farm-specs/a.json")
        assert call.context == {"s3:versionid": ["v-1"]}


def test_an_encoded_slash_stays_part_of_the_key():
    call = only(calls_for("s3", "get_object", Bucket="b", Key="a%2Fb"))
    assert call.resource == "arn:aws:s3:::b/a%2Fb"


def test_put_object_carries_its_encryption_headers_as_condition_keys():
    call = only(
        calls_for(
            "s3",
            "put_object",
            Bucket="farm-renders",
            Key="run-1/p/sku.svg",
            Body=b"<svg/>",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=KEY_ARN,
        )
    )
    assert (call.action, call.resource) == ("s3:PutObject", "arn:aws:s3:::farm-renders/run-1/p/sku.svg")
    assert call.context["s3:x-amz-server-side-encryption"] == ["aws:kms"]
    assert call.context["s3:x-amz-server-side-encryption-aws-kms-key-id"] == [KEY_ARN]


def test_put_object_without_encryption_headers_has_no_encryption_keys():
    call = only(calls_for("s3", "put_object", Bucket="b", Key="k", Body=b"x"))
    assert call.action == "s3:PutObject"
    assert "s3:x-amz-server-side-encryption" not in call.context


def test_listing_needs_list_bucket_on_the_bucket_with_prefix_and_max_keys():
    for operation in ("list_objects_v2", "list_objects"):
        call = only(calls_for("s3", operation, Bucket="farm-renders", Prefix="run-1/_parts/", MaxKeys=50))
        assert (call.action, call.resource) == ("s3:ListBucket", "arn:aws:s3:::farm-renders")
        assert call.context["s3:prefix"] == ["run-1/_parts/"]
        assert call.context["s3:max-keys"] == ["50"]


def test_listing_versions_needs_list_bucket_versions():
    call = only(calls_for("s3", "list_object_versions", Bucket="farm-specs", Prefix="a"))
    assert (call.action, call.resource) == ("s3:ListBucketVersions", "arn:aws:s3:::farm-specs")


def test_the_paginator_request_of_publish_results_is_a_listing():
    environ, body = captured("s3", "list_objects_v2", Bucket="r", Prefix="run/", ContinuationToken="t")
    assert requests.parse("s3", environ, body).operation == "ListObjectsV2"


def test_deletes_need_delete_object_or_delete_object_version():
    assert pairs(calls_for("s3", "delete_object", Bucket="b", Key="k")) == [
        ("s3:DeleteObject", "arn:aws:s3:::b/k")
    ]
    assert pairs(calls_for("s3", "delete_object", Bucket="b", Key="k", VersionId="v")) == [
        ("s3:DeleteObjectVersion", "arn:aws:s3:::b/k")
    ]
    objects = [{"Key": "a"}, {"Key": "b&c", "VersionId": "v2"}]
    assert pairs(calls_for("s3", "delete_objects", Bucket="b", Delete={"Objects": objects})) == [
        ("s3:DeleteObject", "arn:aws:s3:::b/a"),
        ("s3:DeleteObjectVersion", "arn:aws:s3:::b/b&c"),
    ]


def test_copy_object_writes_the_target_and_reads_the_source():
    source = {"Bucket": "src", "Key": "dir/a b.json", "VersionId": "v9"}
    found = calls_for("s3", "copy_object", Bucket="dst", Key="copy.json", CopySource=source)
    assert pairs(found) == [
        ("s3:PutObject", "arn:aws:s3:::dst/copy.json"),
        ("s3:GetObjectVersion", "arn:aws:s3:::src/dir/a b.json"),
    ]
    assert "s3:x-amz-copy-source" in found[0].context
    unversioned = calls_for("s3", "copy_object", Bucket="dst", Key="c", CopySource="src/k")
    assert pairs(unversioned)[1] == ("s3:GetObject", "arn:aws:s3:::src/k")


def test_multipart_uploads_are_put_object_and_their_own_actions():
    obj = "arn:aws:s3:::b/big.bin"
    upload = {"Bucket": "b", "Key": "big.bin", "UploadId": "u1"}
    created = only(
        calls_for("s3", "create_multipart_upload", Bucket="b", Key="big.bin", ServerSideEncryption="aws:kms")
    )
    assert (created.action, created.resource) == ("s3:PutObject", obj)
    assert created.context["s3:x-amz-server-side-encryption"] == ["aws:kms"]
    assert pairs(calls_for("s3", "upload_part", PartNumber=1, Body=b"x", **upload)) == [("s3:PutObject", obj)]
    assert pairs(calls_for("s3", "upload_part_copy", PartNumber=1, CopySource="src/k", **upload)) == [
        ("s3:PutObject", obj),
        ("s3:GetObject", "arn:aws:s3:::src/k"),
    ]
    parts = {"Parts": [{"ETag": "e", "PartNumber": 1}]}
    assert pairs(calls_for("s3", "complete_multipart_upload", MultipartUpload=parts, **upload)) == [
        ("s3:PutObject", obj)
    ]
    assert pairs(calls_for("s3", "abort_multipart_upload", **upload)) == [("s3:AbortMultipartUpload", obj)]
    assert pairs(calls_for("s3", "list_parts", **upload)) == [("s3:ListMultipartUploadParts", obj)]
    assert pairs(calls_for("s3", "list_multipart_uploads", Bucket="b")) == [
        ("s3:ListBucketMultipartUploads", "arn:aws:s3:::b")
    ]


def test_bucket_operations_name_the_bucket():
    assert pairs(calls_for("s3", "get_bucket_location", Bucket="b")) == [
        ("s3:GetBucketLocation", "arn:aws:s3:::b")
    ]
    assert pairs(calls_for("s3", "head_bucket", Bucket="b")) == [("s3:ListBucket", "arn:aws:s3:::b")]
    assert pairs(calls_for("s3", "get_bucket_versioning", Bucket="b")) == [
        ("s3:GetBucketVersioning", "arn:aws:s3:::b")
    ]
    assert pairs(calls_for("s3", "get_object_tagging", Bucket="b", Key="k")) == [
        ("s3:GetObjectTagging", "arn:aws:s3:::b/k")
    ]
    assert pairs(calls_for("s3", "list_buckets")) == [("s3:ListAllMyBuckets", "*")]


def test_virtual_hosted_style_finds_the_bucket_in_the_host():
    environ = EnvironBuilder(
        path="/run-1/a.svg", base_url="http://farm-renders.s3.us-east-1.amazonaws.com"
    ).get_environ()
    call = only(requests.calls("s3", environ, b""))
    assert (call.action, call.resource) == ("s3:GetObject", "arn:aws:s3:::farm-renders/run-1/a.svg")


# --- Step Functions integrations ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "resource"),
    [
        ({"FunctionName": "farm-validate"}, FUNCTION),
        ({"FunctionName": "farm-validate", "Qualifier": "live"}, f"{FUNCTION}:live"),
        ({"FunctionName": "farm-validate:live"}, f"{FUNCTION}:live"),
        ({"FunctionName": f"{FUNCTION}:live"}, f"{FUNCTION}:live"),
        ({"FunctionName": FUNCTION, "Qualifier": "3"}, f"{FUNCTION}:3"),
        ({"FunctionName": f"{ACCOUNT}:function:farm-validate"}, FUNCTION),
    ],
)
def test_lambda_invoke_needs_invoke_function_on_the_qualified_function(params, resource):
    assert pairs(calls_for("lambda", "invoke", Payload=b"{}", **params)) == [
        ("lambda:InvokeFunction", resource)
    ]


def test_lambda_alias_operations_name_the_alias():
    assert pairs(calls_for("lambda", "get_alias", FunctionName="farm-validate", Name="live")) == [
        ("lambda:GetAlias", f"{FUNCTION}:live")
    ]
    assert pairs(
        calls_for("lambda", "update_alias", FunctionName="farm-validate", Name="live", FunctionVersion="2")
    ) == [("lambda:UpdateAlias", f"{FUNCTION}:live")]
    assert pairs(calls_for("lambda", "list_versions_by_function", FunctionName="farm-validate")) == [
        ("lambda:ListVersionsByFunction", FUNCTION)
    ]
    assert pairs(
        calls_for(
            "lambda", "get_provisioned_concurrency_config", FunctionName="farm-validate", Qualifier="live"
        )
    ) == [("lambda:GetProvisionedConcurrencyConfig", f"{FUNCTION}:live")]


def test_submit_job_needs_the_queue_and_the_job_definition_revision():
    queue = f"arn:aws:batch:us-east-1:{ACCOUNT}:job-queue/farm-render"
    definition = f"arn:aws:batch:us-east-1:{ACCOUNT}:job-definition/farm-worker:3"
    by_name = calls_for(
        "batch", "submit_job", jobName="run-1", jobQueue="farm-render", jobDefinition="farm-worker:3"
    )
    by_arn = calls_for("batch", "submit_job", jobName="run-1", jobQueue=queue, jobDefinition=definition)
    assert pairs(by_name) == pairs(by_arn) == [("batch:SubmitJob", queue), ("batch:SubmitJob", definition)]


@mock_aws
def test_a_job_definition_without_revision_is_checked_at_its_latest_revision():
    batch = boto3.client("batch", region_name="us-east-1")
    for _ in range(2):
        batch.register_job_definition(
            jobDefinitionName="farm-worker",
            type="container",
            containerProperties={"image": "worker", "command": ["x"], "memory": 128, "vcpus": 1},
        )
    found = calls_for("batch", "submit_job", jobName="r", jobQueue="q", jobDefinition="farm-worker")
    assert pairs(found)[1] == (
        "batch:SubmitJob",
        f"arn:aws:batch:us-east-1:{ACCOUNT}:job-definition/farm-worker:2",
    )


def test_following_and_stopping_batch_jobs():
    assert pairs(calls_for("batch", "describe_jobs", jobs=["j-1"])) == [("batch:DescribeJobs", "*")]
    assert pairs(calls_for("batch", "list_jobs", jobQueue="q")) == [("batch:ListJobs", "*")]
    assert pairs(calls_for("batch", "terminate_job", jobId="j-1", reason="stopped")) == [
        ("batch:TerminateJob", f"arn:aws:batch:us-east-1:{ACCOUNT}:job/j-1")
    ]


def test_sns_publish_names_the_topic_or_target():
    assert pairs(calls_for("sns", "publish", TopicArn=TOPIC, Message="m")) == [("sns:Publish", TOPIC)]
    assert pairs(calls_for("sns", "publish", TargetArn=TOPIC, Message="m")) == [("sns:Publish", TOPIC)]


def test_the_batch_sync_rule_operations_name_the_rule():
    name = "StepFunctionsGetEventsForBatchJobsRule"
    assert pairs(calls_for("events", "put_rule", Name=name, EventPattern="{}")) == [("events:PutRule", RULE)]
    assert pairs(calls_for("events", "describe_rule", Name=name)) == [("events:DescribeRule", RULE)]
    targets = [{"Id": "1", "Arn": "arn:aws:states:us-east-1:123456789012:stateMachine:x"}]
    assert pairs(calls_for("events", "put_targets", Rule=name, Targets=targets)) == [
        ("events:PutTargets", RULE)
    ]
    on_bus = calls_for("events", "put_rule", Name="r", EventBusName="farm", EventPattern="{}")
    assert pairs(on_bus) == [("events:PutRule", f"arn:aws:events:us-east-1:{ACCOUNT}:rule/farm/r")]


def test_put_events_names_the_bus_with_source_and_detail_type():
    entries = [{"Source": "farm.test", "DetailType": "Run", "Detail": "{}"}]
    call = only(calls_for("events", "put_events", Entries=entries))
    assert (call.action, call.resource) == (
        "events:PutEvents",
        f"arn:aws:events:us-east-1:{ACCOUNT}:event-bus/default",
    )
    assert call.context == {"events:source": ["farm.test"], "events:detail-type": ["Run"]}


def test_step_functions_operations_name_the_machine_or_execution():
    assert pairs(calls_for("stepfunctions", "start_execution", stateMachineArn=MACHINE, input="{}")) == [
        ("states:StartExecution", MACHINE)
    ]
    assert pairs(calls_for("stepfunctions", "describe_execution", executionArn=EXECUTION)) == [
        ("states:DescribeExecution", EXECUTION)
    ]
    assert pairs(calls_for("stepfunctions", "stop_execution", executionArn=EXECUTION)) == [
        ("states:StopExecution", EXECUTION)
    ]
    assert pairs(calls_for("stepfunctions", "send_task_success", taskToken="t", output="{}")) == [
        ("states:SendTaskSuccess", "*")
    ]


# --- SQS in both protocols ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("operation", "params", "action"),
    [
        ("send_message", {"MessageBody": "m"}, "sqs:SendMessage"),
        ("receive_message", {}, "sqs:ReceiveMessage"),
        ("delete_message", {"ReceiptHandle": "r"}, "sqs:DeleteMessage"),
        ("get_queue_attributes", {"AttributeNames": ["All"]}, "sqs:GetQueueAttributes"),
        ("send_message_batch", {"Entries": [{"Id": "1", "MessageBody": "m"}]}, "sqs:SendMessage"),
    ],
)
def test_sqs_json_protocol_names_the_queue_from_its_url(operation, params, action):
    environ, _ = captured("sqs", operation, QueueUrl=QUEUE_URL, **params)
    assert environ["HTTP_X_AMZ_TARGET"].startswith("AmazonSQS.")
    assert pairs(calls_for("sqs", operation, QueueUrl=QUEUE_URL, **params)) == [(action, QUEUE_ARN)]


def test_get_queue_url_names_the_queue_by_name():
    assert pairs(calls_for("sqs", "get_queue_url", QueueName="farm-notifications")) == [
        ("sqs:GetQueueUrl", QUEUE_ARN)
    ]


def _form(path: str, **fields) -> tuple[dict, bytes]:
    body = urllib.parse.urlencode(fields).encode()
    environ = EnvironBuilder(
        path=path,
        method="POST",
        base_url="http://127.0.0.1:4599",
        content_type="application/x-www-form-urlencoded",
        data=body,
    ).get_environ()
    return environ, body


def test_sqs_query_protocol_reads_the_action_and_the_queue_url_or_path():
    environ, body = _form("/", Action="SendMessage", QueueUrl=QUEUE_URL, MessageBody="m")
    assert pairs(requests.calls("sqs", environ, body)) == [("sqs:SendMessage", QUEUE_ARN)]
    environ, body = _form(f"/{ACCOUNT}/farm-notifications", Action="ReceiveMessage")
    assert pairs(requests.calls("sqs", environ, body)) == [("sqs:ReceiveMessage", QUEUE_ARN)]


# --- KMS ----------------------------------------------------------------------------------------------------


def test_kms_operations_name_the_key_from_id_or_arn():
    assert pairs(calls_for("kms", "encrypt", KeyId=KEY_ID, Plaintext=b"x")) == [("kms:Encrypt", KEY_ARN)]
    assert pairs(calls_for("kms", "generate_data_key", KeyId=KEY_ARN, KeySpec="AES_256")) == [
        ("kms:GenerateDataKey", KEY_ARN)
    ]
    assert pairs(calls_for("kms", "describe_key", KeyId=KEY_ID)) == [("kms:DescribeKey", KEY_ARN)]


def test_decrypt_finds_the_key_in_the_ciphertext_blob():
    blob = KEY_ID.encode() + bytes(28) + b"ciphertext"  # moto's layout: key id, IV, tag, ciphertext
    call = only(calls_for("kms", "decrypt", CiphertextBlob=blob, EncryptionContext={"run": "r-1"}))
    assert (call.action, call.resource) == ("kms:Decrypt", KEY_ARN)
    assert call.context == {"kms:encryptioncontext:run": ["r-1"], "kms:encryptioncontextkeys": ["run"]}


def test_create_grant_carries_its_grant_keys():
    call = only(
        calls_for(
            "kms",
            "create_grant",
            KeyId=KEY_ID,
            GranteePrincipal="arn:aws:iam::123456789012:role/r",
            Operations=["Decrypt", "GenerateDataKey"],
        )
    )
    assert (call.action, call.resource) == ("kms:CreateGrant", KEY_ARN)
    assert call.context["kms:grantoperations"] == ["Decrypt", "GenerateDataKey"]
    assert call.context["kms:granteeprincipal"] == ["arn:aws:iam::123456789012:role/r"]


@mock_aws
def test_an_alias_resolves_to_its_key_through_the_local_cloud():
    kms = boto3.client("kms", region_name="us-east-1")
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/farm-storage", TargetKeyId=key["KeyId"])
    for key_id in ("alias/farm-storage", f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/farm-storage"):
        call = only(calls_for("kms", "generate_data_key", KeyId=key_id, KeySpec="AES_256"))
        assert (call.action, call.resource) == ("kms:GenerateDataKey", key["Arn"])
        assert call.context["kms:requestalias"] == ["alias/farm-storage"]
    blob = kms.encrypt(KeyId="alias/farm-storage", Plaintext=b"x")["CiphertextBlob"]
    assert pairs(calls_for("kms", "decrypt", CiphertextBlob=blob)) == [("kms:Decrypt", key["Arn"])]


def test_an_unknown_alias_stays_an_alias_arn():
    call = only(calls_for("kms", "encrypt", KeyId="alias/nowhere", Plaintext=b"x"))
    assert call.resource == f"arn:aws:kms:us-east-1:{ACCOUNT}:alias/nowhere"


# --- Logs, STS, ECR, EFS, CI/CD -----------------------------------------------------------------------------


def test_logs_name_the_group_and_stream():
    assert pairs(calls_for("logs", "create_log_group", logGroupName="/aws/batch/job")) == [
        ("logs:CreateLogGroup", f"{LOGS}:log-stream:")
    ]
    stream = {"logGroupName": "/aws/batch/job", "logStreamName": "farm/default/abc"}
    assert pairs(calls_for("logs", "create_log_stream", **stream)) == [
        ("logs:CreateLogStream", f"{LOGS}:log-stream:farm/default/abc")
    ]
    events = [{"timestamp": 1, "message": "m"}]
    assert pairs(calls_for("logs", "put_log_events", logEvents=events, **stream)) == [
        ("logs:PutLogEvents", f"{LOGS}:log-stream:farm/default/abc")
    ]


def test_sts_get_caller_identity_needs_nothing_and_assume_role_names_the_role():
    assert calls_for("sts", "get_caller_identity") == []
    role = f"arn:aws:iam::{ACCOUNT}:role/farm-worker"
    call = only(calls_for("sts", "assume_role", RoleArn=role, RoleSessionName="job-1"))
    assert (call.action, call.resource, call.context) == (
        "sts:AssumeRole",
        role,
        {"sts:rolesessionname": ["job-1"]},
    )


def test_ecr_pulls_name_the_repository():
    repo = f"arn:aws:ecr:us-east-1:{ACCOUNT}:repository/farm/worker"
    assert pairs(calls_for("ecr", "get_authorization_token")) == [("ecr:GetAuthorizationToken", "*")]
    image = {"repositoryName": "farm/worker", "imageIds": [{"imageTag": "latest"}]}
    assert pairs(calls_for("ecr", "batch_get_image", **image)) == [("ecr:BatchGetImage", repo)]
    layer = {"repositoryName": "farm/worker", "layerDigest": "sha256:" + "0" * 64}
    assert pairs(calls_for("ecr", "get_download_url_for_layer", **layer)) == [
        ("ecr:GetDownloadUrlForLayer", repo)
    ]
    digests = {"repositoryName": "farm/worker", "layerDigests": ["sha256:" + "0" * 64]}
    assert pairs(calls_for("ecr", "batch_check_layer_availability", **digests)) == [
        ("ecr:BatchCheckLayerAvailability", repo)
    ]


def test_efs_descriptions_name_the_file_system_or_access_point():
    base = f"arn:aws:elasticfilesystem:us-east-1:{ACCOUNT}"
    assert pairs(calls_for("efs", "describe_file_systems", FileSystemId="fs-1")) == [
        ("elasticfilesystem:DescribeFileSystems", f"{base}:file-system/fs-1")
    ]
    assert pairs(calls_for("efs", "describe_file_systems")) == [
        ("elasticfilesystem:DescribeFileSystems", "*")
    ]
    assert pairs(calls_for("efs", "describe_access_points", AccessPointId="fsap-1")) == [
        ("elasticfilesystem:DescribeAccessPoints", f"{base}:access-point/fsap-1")
    ]


def test_codebuild_and_codepipeline():
    project = f"arn:aws:codebuild:us-east-1:{ACCOUNT}:project/farm-deploy"
    assert pairs(calls_for("codebuild", "start_build", projectName="farm-deploy")) == [
        ("codebuild:StartBuild", project)
    ]
    assert pairs(calls_for("codebuild", "batch_get_builds", ids=["farm-deploy:0f1e"])) == [
        ("codebuild:BatchGetBuilds", project)
    ]
    assert pairs(calls_for("codepipeline", "put_job_success_result", jobId="j")) == [
        ("codepipeline:PutJobSuccessResult", "*")
    ]


# --- what is not modelled -----------------------------------------------------------------------------------


def test_operations_not_modelled_answer_none():
    assert calls_for("sqs", "create_queue", QueueName="q") is None
    assert calls_for("s3", "get_bucket_analytics_configuration", Bucket="b", Id="i") is None
    environ, body = captured("sqs", "create_queue", QueueName="q")
    assert requests.operation_name("sqs", environ, body) == "CreateQueue"
    assert requests.calls("no-such-service", environ, body) is None


def test_a_request_that_matches_no_operation_answers_none():
    environ = EnvironBuilder(path="/2015-03-31/nothing-here", method="GET").get_environ()
    assert requests.calls("lambda", environ, b"") is None
    garbage = EnvironBuilder(path="/", method="POST", headers={"X-Amz-Target": "TrentService.NoSuchThing"})
    assert requests.calls("kms", garbage.get_environ(), b"{}") is None


def test_every_modelled_operation_exists_in_botocore():
    for service, table in requests.RULES.items():
        model = requests.service_model(service)
        missing = set(table) - set(model.operation_names)
        assert not missing, f"{service}: {sorted(missing)}"


def test_blob_helper_ignores_foreign_ciphertext():
    assert requests._blob_key(base64.b64encode(b"not a moto blob").decode()) is None
    assert requests._blob_key("%%%") is None
