"""IAM as enforced on the deployed stack: negative tests that would catch a wrong policy, and a missing grant
made on purpose that fails a run with an AccessDenied naming the role, the action and the resource.

Each negative test calls AWS as the stack's real role through an STS session named `iam-probe-<test>` (the
harness's admin credentials may assume any role): the local cloud records those calls apart, so the IAM report
can say "0 denied calls" about the stack's workloads while these are denied on purpose. Every assertion names
botocore's error code and checks that AWS's message names the role session, the action and the resource.

The last test changes the PublishResults role's policy (PutRolePolicy), which any run in flight would also
see: it refuses to run beside other xdist workers (the integration session runs serially) and waits for the
executions already running to end before it changes anything.
"""

from __future__ import annotations

import json
import os
import re
import time
import uuid
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from harness import iam_report
from harness.paths import REPO
from tests.conftest import LIVE_TIMEOUT
from tests.integration import checks

pytestmark = [pytest.mark.live, pytest.mark.xdist_group("iam-enforced")]


EXAMPLE = REPO / "examples" / "catalog.example.json"
PROBE_PREFIX = "iam-probe-"  # localcloud/iam/record.py keeps these sessions' calls apart
IAM_PROPAGATION_SECONDS = 15  # AWS applies a policy change within seconds; the local cloud at once
EXPLICIT_RESOURCE_DENY = "explicit deny in a resource-based policy"


# ---- acting as a role ------------------------------------------------------------------------------------


@dataclass
class RoleSession:
    """STS credentials of one role, and clients made with them (aimed where the stack's clients are)."""

    stack: Any
    role_arn: str
    arn: str  # arn:aws:sts::<account>:assumed-role/<role>/<session>: what AWS names in a denial
    credentials: dict[str, Any]

    def client(self, service: str):
        kwargs: dict[str, Any] = {
            "region_name": self.stack["region"],
            "aws_access_key_id": self.credentials["AccessKeyId"],
            "aws_secret_access_key": self.credentials["SecretAccessKey"],
            "aws_session_token": self.credentials["SessionToken"],
            # One attempt: a denial is final, and retries would only repeat it in the record.
            "config": Config(retries={"max_attempts": 1, "mode": "standard"}),
        }
        if self.stack.is_local:
            kwargs["endpoint_url"] = self.stack["endpoint_url"]
        return boto3.client(service, **kwargs)


def probe_session_name(request) -> str:
    """`iam-probe-<test>`, within STS's rules for a session name (2-64 of [\\w+=,.@-])."""
    name = re.sub(r"[^\w+=,.@-]+", "-", request.node.name).strip("-")
    return (PROBE_PREFIX + name)[:64]


def assume(stack, role_arn: str, session_name: str) -> RoleSession:
    response = stack.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session_name)
    return RoleSession(stack, role_arn, response["AssumedRoleUser"]["Arn"], response["Credentials"])


def assert_refused(
    error: ClientError,
    code: str,
    session: RoleSession,
    action: str,
    resource: str,
    because: str | None = None,
) -> str:
    """botocore's error code is `code`; AWS's message names the session, the action and the resource."""
    found = error.response.get("Error", {})
    message = str(found.get("Message") or "")
    assert found.get("Code") == code, f"want {code}, got {error.response}"
    assert session.arn in message, f"the message does not name the session {session.arn}: {message!r}"
    assert action.lower() in message.lower(), f"the message does not name {action}: {message!r}"
    assert resource in message, f"the message does not name {resource}: {message!r}"
    if because:
        assert because in message, f"want {because!r} in {message!r}"
    print(f"\n{session.arn}: {code}: {message}")
    return message


def job_role_arn(stack) -> str:
    definition = stack.client("batch").describe_job_definitions(jobDefinitions=[stack["job_definition_arn"]])
    return definition["jobDefinitions"][0]["containerProperties"]["jobRoleArn"]


def function_role_arn(stack, function: str) -> str:
    name = stack["lambda_function_names"][function]
    return stack.client("lambda").get_function_configuration(FunctionName=name)["Role"]


def s3_arn(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def probe_key(request) -> str:
    return f"{PROBE_PREFIX}{uuid.uuid4().hex[:8]}/{request.node.name[:40]}.txt"


def absent(stack, bucket: str, key: str) -> bool:
    try:
        stack.client("s3").head_object(Bucket=bucket, Key=key)
    except ClientError as error:
        return error.response["Error"]["Code"] in ("404", "NoSuchKey", "NotFound")
    return False


# ---- negative tests ---------------------------------------------------------------------------------------


def test_worker_cannot_write_the_specs_bucket(stack, request):
    worker = assume(stack, job_role_arn(stack), probe_session_name(request))
    bucket, key = stack["specs_bucket"], probe_key(request)
    with pytest.raises(ClientError) as refused:
        worker.client(
            "s3"
        ).put_object(  # encrypted as the bucket policy demands: only the role lacks the grant
            Bucket=bucket,
            Key=key,
            Body=b"{}",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=stack["kms_key_arns"]["storage"],
        )
    assert_refused(refused.value, "AccessDenied", worker, "s3:PutObject", s3_arn(bucket, key))
    assert absent(stack, bucket, key)


def test_worker_cannot_publish_to_the_completion_topic(stack, request):
    worker = assume(stack, job_role_arn(stack), probe_session_name(request))
    topic = stack["completion_topic_arn"]
    with pytest.raises(ClientError) as refused:
        worker.client("sns").publish(TopicArn=topic, Message=f"{PROBE_PREFIX}must be refused")
    assert_refused(refused.value, "AuthorizationError", worker, "sns:Publish", topic)


def test_validate_input_cannot_write_renders(stack, request):
    validate = assume(stack, function_role_arn(stack, "validate_input"), probe_session_name(request))
    bucket, key = stack["renders_bucket"], probe_key(request)
    with pytest.raises(ClientError) as refused:
        validate.client("s3").put_object(
            Bucket=bucket,
            Key=key,
            Body=b"<svg/>",
            ServerSideEncryption="aws:kms",
            SSEKMSKeyId=stack["kms_key_arns"]["storage"],
        )
    assert_refused(refused.value, "AccessDenied", validate, "s3:PutObject", s3_arn(bucket, key))
    assert absent(stack, bucket, key)


@pytest.mark.parametrize(
    "encryption",
    [{}, {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "messaging"}],
    ids=["without-sse-kms", "with-another-key"],
)
def test_bucket_policy_refuses_a_put_not_encrypted_with_the_storage_key(stack, request, encryption):
    """The worker may write renders, so only the bucket policy's Deny statements can refuse these puts."""
    worker = assume(stack, job_role_arn(stack), probe_session_name(request))
    bucket, key = stack["renders_bucket"], probe_key(request)
    if "SSEKMSKeyId" in encryption:
        encryption = {**encryption, "SSEKMSKeyId": stack["kms_key_arns"][encryption["SSEKMSKeyId"]]}
    with pytest.raises(ClientError) as refused:
        worker.client("s3").put_object(Bucket=bucket, Key=key, Body=b"<svg/>", **encryption)
    assert_refused(
        refused.value, "AccessDenied", worker, "s3:PutObject", s3_arn(bucket, key), EXPLICIT_RESOURCE_DENY
    )
    assert absent(stack, bucket, key)


@pytest.fixture(scope="module")
def role_without_grants(stack):
    """A role of this account with no policy of its own, deleted afterwards."""
    iam = stack.client("iam")
    account = stack.client("sts").get_caller_identity()["Account"]
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    name = f"{PROBE_PREFIX}no-grants-{uuid.uuid4().hex[:8]}"
    arn = iam.create_role(
        RoleName=name,
        AssumeRolePolicyDocument=json.dumps(trust),
        Description="iam-enforced test: a principal of the account with no grant of its own",
    )["Role"]["Arn"]
    if not stack.is_local:
        time.sleep(IAM_PROPAGATION_SECONDS)  # a new role is not assumable at once on AWS
    try:
        yield arn
    finally:
        iam.delete_role(RoleName=name)


@pytest.mark.parametrize(
    "topic_output", ["completion_topic_arn", "failure_topic_arn"], ids=["completion", "failure"]
)
def test_a_role_without_grants_cannot_publish_to_either_topic(
    stack, request, role_without_grants, topic_output
):
    """The topic policy admits the workflow role by ARN, not every principal of the account."""
    nobody = assume(stack, role_without_grants, probe_session_name(request))
    topic = stack[topic_output]
    with pytest.raises(ClientError) as refused:
        nobody.client("sns").publish(TopicArn=topic, Message=f"{PROBE_PREFIX}must be refused")
    assert_refused(refused.value, "AuthorizationError", nobody, "sns:Publish", topic)


# ---- a missing grant fails a run, and says so -------------------------------------------------------------

SPEC_GRANT_SID = "ReadSpecs"


def _alone_on_the_stack(stack) -> None:
    """No other xdist worker (its runs would see the changed policy), and no execution still running."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT") or 1)
    if workers > 1:
        pytest.fail(
            f"changes the PublishResults role's policy, which {workers - 1} other xdist worker(s) would see: "
            "run it without -n (as `nox -s integration` does), or deselect it with -k"
        )
    sfn = stack.client("stepfunctions")
    deadline = time.monotonic() + LIVE_TIMEOUT
    while True:
        running = sfn.list_executions(stateMachineArn=stack["state_machine_arn"], statusFilter="RUNNING")
        names = [e["name"] for e in running["executions"]]
        if not names:
            return
        assert time.monotonic() < deadline, f"executions still running after {LIVE_TIMEOUT:.0f} s: {names}"
        time.sleep(2)


def _inline_policy_with(iam, role_name: str, sid: str) -> tuple[str, dict]:
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        statements = (
            document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
        )
        if any(s.get("Sid") == sid for s in statements):
            return name, document
    raise AssertionError(f"no inline policy of {role_name} has a statement {sid}")


def _without(document: dict, sid: str) -> dict:
    statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
    return {**document, "Statement": [s for s in statements if s.get("Sid") != sid]}


def _cause_text(cause: str) -> str:
    """A Lambda's cause is {"errorMessage", "errorType", ...}; its message is what the error says."""
    try:
        return json.loads(cause)["errorMessage"]
    except (ValueError, TypeError, KeyError):
        return cause


def test_publish_results_without_its_spec_grant_fails_with_access_denied(farm, stack, notification_validator):
    """Done when: the PublishResults role loses its ReadSpecs statement (PutRolePolicy), a run of the example
    catalog ends in exactly one failure message whose error is AccessDenied naming the role, the action and
    the spec object; with the policy restored, the next run succeeds."""
    _alone_on_the_stack(stack)
    iam = stack.client("iam")
    role_arn = function_role_arn(stack, "publish_results")
    role_name = role_arn.rsplit("/", 1)[-1]
    policy_name, original = _inline_policy_with(iam, role_name, SPEC_GRANT_SID)
    spec = json.loads(EXAMPLE.read_text())
    run_id = farm.new_run_id("iam-denied")
    try:
        iam.put_role_policy(
            RoleName=role_name,
            PolicyName=policy_name,
            PolicyDocument=json.dumps(_without(original, SPEC_GRANT_SID)),
        )
        if not stack.is_local:
            time.sleep(IAM_PROPAGATION_SECONDS)
        spec_uri = farm.upload(run_id, spec)
        spec_arn = s3_arn(stack["specs_bucket"], spec_uri.split("/", 3)[3])
        if stack.is_local:  # the denial is this test's doing: the IAM report lists it apart, not as a failure
            iam_report.expect_denial(
                stack["endpoint_url"],
                role_arn,
                "s3:GetObject*",
                spec_arn,
                f"{__name__}: PublishResults without its {SPEC_GRANT_SID} statement (run {run_id})",
            )
        farm.start(spec_uri, run_id)
        state = farm.wait(run_id)
    finally:
        iam.put_role_policy(RoleName=role_name, PolicyName=policy_name, PolicyDocument=json.dumps(original))

    assert (state.status, state.error) == ("FAILED", "RenderFailed.AccessDenied"), state
    message = checks.only_message(farm, run_id, "FAILED", notification_validator)
    print("\nthe run's one failure message:\n" + json.dumps(message, indent=2))
    out = REPO / "build" / "iam" / "access-denied-run.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(message, indent=2) + "\n")
    assert message["error"] == "AccessDenied", message
    cause = _cause_text(message["cause"])
    assert re.search(r"s3:GetObject(Version)?\b", cause), f"the cause does not name the action: {cause!r}"
    assert spec_arn in cause, f"the cause does not name {spec_arn}: {cause!r}"
    keys = set(farm.keys(run_id))
    assert any(k.endswith(".svg") for k in keys), "the run failed before rendering: not the step under test"
    assert "manifest.json" not in keys and "index.html" not in keys
    if stack.is_local:  # the local cloud recorded the denial, as the role itself (not a probe session)
        recorded = [
            c
            for c in iam_report.fetch_record(stack["endpoint_url"])["calls"]
            if (c["principal"], c["resource"], c["decision"]) == (role_arn, spec_arn, "deny")
        ]
        assert [c["action"] for c in recorded if c["action"].startswith("s3:GetObject")], recorded

    restored = farm.run(spec, "iam-restored")
    assert restored.state.status == "SUCCEEDED", f"{restored.state.error}: {restored.state.cause}"
    checks.only_message(farm, restored.run_id, "SUCCEEDED", notification_validator)
    assert iam.get_role_policy(RoleName=role_name, PolicyName=policy_name)["PolicyDocument"] == original
    # Last, so that everything above is known even while this fails: a body-less 403 (HEAD) names no caller.
    assert role_name in cause, f"the cause does not name the role {role_name}: {cause!r}"
