"""Fault injection (localcloud/faults.py): the control route and its counters, S3 503 SlowDown on PutObject,
Fargate Spot reclaims of Batch attempts, Lambda throttling of Step Functions' lambda:invoke; none by default.

Every test scopes its faults to names it made up (`scope`), so other tests sharing this cloud are unaffected.
"""

from __future__ import annotations

import io
import json
import urllib.error
import urllib.request
import zipfile

import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from localcloud import config, faults, lifecycle
from tests.unit.localcloud.conftest import LAMBDA_LOGS, allow, fargate_queue, unique, wait_for, workload_role

SPOT_REASON = "Your Spot Task was interrupted."
# The render job definition's rules (modules/batch/main.tf): only the status reason makes a reclaim retried.
RENDER_RETRY = {
    "attempts": 3,
    "evaluateOnExit": [
        {"onExitCode": "65", "action": "EXIT"},
        {"onStatusReason": "Your Spot Task was interrupted*", "action": "RETRY"},
        {"onStatusReason": "Host EC2*", "action": "RETRY"},
        {"onExitCode": "1", "action": "RETRY"},
        {"onReason": "*", "action": "EXIT"},
    ],
}


def _client(cloud, service: str, attempts: int):
    """A client making at most `attempts` tries in all (botocore's `max_attempts` counts retries only)."""
    return cloud.client(service, config=Config(retries={"mode": "standard", "total_max_attempts": attempts}))


def _bucket(cloud) -> str:
    name = unique("faults")
    cloud.client("s3").create_bucket(Bucket=name)
    return name


# ---- the route ---------------------------------------------------------------------------------------------


def test_the_route_sets_reads_and_clears_faults(cloud):
    before = faults.get(cloud.endpoint)
    assert before["active"] is False
    with faults.set(
        cloud.endpoint, s3_put_slowdown=0.5, lambda_throttle=0.25, seed=7, scope="nothing-x"
    ) as f:
        state = f.get()
        assert state["active"] is True
        assert state["settings"]["s3_put_slowdown"] == 0.5 and state["settings"]["seed"] == 7
        assert state["settings"]["spot_reclaim"] == 0.0 and state["settings"]["max_repeats"] == 2
        assert state["injected"] == {"spot_reclaim": 0, "s3_put_slowdown": 0, "lambda_throttle": 0}
    after = faults.get(cloud.endpoint)
    assert after["active"] is False and after["settings"]["s3_put_slowdown"] == 0.0


def test_the_context_manager_clears_even_when_the_body_fails(cloud):
    with pytest.raises(RuntimeError), faults.set(cloud.endpoint, spot_reclaim=1.0, scope="nothing-y"):
        raise RuntimeError("test body failed")
    assert faults.get(cloud.endpoint)["active"] is False


@pytest.mark.parametrize(
    "settings",
    [{"s3_put_slowdown": 1.5}, {"spot_reclaim": "often"}, {"nonsense": 1}, {"max_repeats": 0}, {"seed": "x"}],
)
def test_bad_settings_are_refused_with_400(cloud, settings):
    with pytest.raises(ValueError, match="HTTP 400"):
        faults.set(cloud.endpoint, **settings)
    assert faults.get(cloud.endpoint)["active"] is False


def test_nothing_is_injected_without_faults(cloud, batch_setup):
    faults.set(cloud.endpoint).clear()  # counters from zero, every fault off (as after boot)
    errors_before = lifecycle.errors(cloud.port)
    bucket = _bucket(cloud)
    s3 = _client(cloud, "s3", attempts=1)  # no retries: any SlowDown would raise
    for i in range(20):
        s3.put_object(Bucket=bucket, Key=f"k/{i}", Body=b"x")
    script = batch_setup.script("ok", "print('ok')")
    job = batch_setup.wait_done(batch_setup.submit(batch_setup.job_definition(["python", str(script)])))
    assert job["status"] == "SUCCEEDED" and len(job["attempts"]) == 1
    state = faults.get(cloud.endpoint)
    assert state["active"] is False
    assert state["seen"] == {"spot_reclaim": 0, "s3_put_slowdown": 0, "lambda_throttle": 0}
    assert lifecycle.errors(cloud.port)["injected"] == errors_before["injected"]


# ---- S3 SlowDown ---------------------------------------------------------------------------------------


def _raw_put(cloud, bucket: str, key: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    """A PUT as boto3 sends it (signed with SigV4 by the cloud's admin keys), without boto3's retries."""
    admin = cloud.credentials
    signed = AWSRequest(
        method="PUT",
        url=f"{cloud.endpoint}/{bucket}/{key}",
        data=body,
        headers={"Content-Type": "application/octet-stream"},
    )
    keys = Credentials(admin.access_key_id, admin.secret_access_key)
    S3SigV4Auth(keys, "s3", admin.region).add_auth(signed)
    request = urllib.request.Request(  # noqa: S310 - the test cloud
        signed.url, data=body, method="PUT", headers=dict(signed.headers.items())
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def test_a_put_is_answered_slowdown_with_s3s_xml_and_stores_nothing(cloud):
    bucket = _bucket(cloud)
    errors_before = lifecycle.errors(cloud.port)
    with faults.set(cloud.endpoint, s3_put_slowdown=1.0, scope=bucket) as f:
        status, headers, body = _raw_put(cloud, bucket, "a/b.svg", b"<svg/>")
        state = f.get()
    assert status == 503
    text = body.decode()
    assert "<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message>" in text
    assert headers["Content-Type"] == "application/xml"
    assert headers[config.INJECTED_HEADER] == "1" and headers.get("x-amz-request-id")
    assert state["injected"]["s3_put_slowdown"] == 1 and state["seen"]["s3_put_slowdown"] == 1
    with pytest.raises(ClientError) as missing:
        cloud.client("s3").head_object(Bucket=bucket, Key="a/b.svg")
    assert missing.value.response["Error"]["Code"] == "404"
    errors_after = lifecycle.errors(cloud.port)
    assert errors_after["injected"] == errors_before["injected"] + 1  # counted apart, not as a server bug
    assert errors_after["count"] == errors_before["count"]


def test_boto3_sees_slowdown_and_its_standard_retries_get_through(cloud):
    bucket = _bucket(cloud)
    with faults.set(cloud.endpoint, s3_put_slowdown=1.0, scope=bucket, max_repeats=2) as f:
        with pytest.raises(ClientError) as refused:
            _client(cloud, "s3", attempts=1).put_object(Bucket=bucket, Key="once", Body=b"1")
        error = refused.value.response
        assert error["Error"] == {"Code": "SlowDown", "Message": "Please reduce your request rate."}
        assert error["ResponseMetadata"]["HTTPStatusCode"] == 503
        # As the worker's and the Lambdas' clients (standard, max_attempts 5 = 6 tries): 2 SlowDowns, stored.
        retried = _client(cloud, "s3", attempts=6)
        response = retried.put_object(Bucket=bucket, Key="retried", Body=b"2")
        assert response["ResponseMetadata"]["RetryAttempts"] == 2
        assert retried.get_object(Bucket=bucket, Key="retried")["Body"].read() == b"2"
        # Only PutObject: a copy, a multipart upload's parts, a bucket-level PUT are never slowed down.
        retried.copy_object(Bucket=bucket, Key="copied", CopySource={"Bucket": bucket, "Key": "retried"})
        upload = retried.create_multipart_upload(Bucket=bucket, Key="multi")["UploadId"]
        part = retried.upload_part(Bucket=bucket, Key="multi", UploadId=upload, PartNumber=1, Body=b"3")
        assert part["ResponseMetadata"]["RetryAttempts"] == 0
        retried.put_bucket_tagging(Bucket=bucket, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]})
        state = f.get()
    assert state["injected"]["s3_put_slowdown"] == 3  # "once" 1x, "retried" 2x (max_repeats)


# ---- Fargate Spot reclaim ----------------------------------------------------------------------------------

RECLAIMED_ON_FIRST_ATTEMPT = """
import os, pathlib, time
marks = pathlib.Path(os.environ["MARKS"]) / os.environ.get("AWS_BATCH_JOB_ARRAY_INDEX", "plain")
marks.mkdir(parents=True, exist_ok=True)
attempt = os.environ["AWS_BATCH_JOB_ATTEMPT"]
print("attempt", attempt, "found", sorted(p.name for p in marks.iterdir()), flush=True)
(marks / f"attempt-{attempt}").write_text("started")
if attempt == "1":
    time.sleep(float(os.environ["FIRST_SLEEP"]))  # a reclaim comes long before this ends
"""


@pytest.fixture(scope="module")
def spot_queue(cloud, batch_setup) -> str:
    """A job queue whose first compute environment is FARGATE_SPOT, as the farm's is."""
    return fargate_queue(cloud, 9, [("FARGATE_SPOT", 4)])[0]


def _submit(batch_setup, queue: str, name: str, marks, retry: dict, first_sleep: float, **kwargs) -> str:
    script = batch_setup.script("spot", RECLAIMED_ON_FIRST_ATTEMPT)
    environment = {"MARKS": str(marks), "FIRST_SLEEP": str(first_sleep)}
    definition = batch_setup.job_definition(
        ["python", str(script)],
        container={"environment": [{"name": k, "value": v} for k, v in environment.items()]},
        retryStrategy=retry,
    )
    return batch_setup.cloud.client("batch").submit_job(
        jobName=name, jobQueue=queue, jobDefinition=definition, **kwargs
    )["jobId"]


def test_a_reclaimed_child_is_retried_to_succeeded_with_spots_status_reason(
    cloud, batch_setup, spot_queue, tmp_path
):
    name = unique("spot-run")
    with faults.set(
        cloud.endpoint, spot_reclaim=1.0, max_repeats=1, spot_reclaim_after_s=[0.5, 1.0], scope=name
    ) as f:
        job_id = _submit(
            batch_setup, spot_queue, name, tmp_path, RENDER_RETRY, 60, arrayProperties={"size": 2}
        )
        parent = batch_setup.wait_done(job_id, timeout=90)
        state = f.get()
    assert parent["status"] == "SUCCEEDED"
    assert state["injected"]["spot_reclaim"] == 2  # each child once (max_repeats=1)
    batch = cloud.client("batch")
    for index in range(2):
        child = batch.describe_jobs(jobs=[f"{job_id}:{index}"])["jobs"][0]
        assert child["status"] == "SUCCEEDED"
        first, second = child["attempts"]
        assert first["statusReason"] == SPOT_REASON
        assert first["container"]["exitCode"] == 143  # died of SIGTERM, as Docker reports it
        assert second["container"]["exitCode"] == 0 and second["statusReason"] == ""
        # the retry found what the reclaimed attempt left on the shared scratch
        assert sorted(p.name for p in (tmp_path / str(index)).iterdir()) == ["attempt-1", "attempt-2"]


def test_spot_never_reclaims_a_last_attempt_nor_a_job_on_demand(cloud, batch_setup, spot_queue, tmp_path):
    name = unique("spot-last")
    with faults.set(cloud.endpoint, spot_reclaim=1.0, scope=name, spot_reclaim_after_s=[0.0, 0.1]) as f:
        single = {"attempts": 1}  # its only attempt is its last: a reclaim would leave no retry
        on_spot = _submit(batch_setup, spot_queue, name, tmp_path / "spot", single, 2.0)
        on_demand = _submit(batch_setup, batch_setup.queue_name, name, tmp_path / "od", RENDER_RETRY, 2.0)
        jobs = [batch_setup.wait_done(job_id, timeout=30) for job_id in (on_spot, on_demand)]
        state = f.get()
    for job in jobs:
        assert job["status"] == "SUCCEEDED" and len(job["attempts"]) == 1
    assert state["injected"]["spot_reclaim"] == 0


# ---- Lambda throttling of Step Functions' lambda:invoke ----------------------------------------------------

ECHO = "def handler(event, context):\n    return {'echo': event['token']}\n"
THROTTLED = "Lambda.TooManyRequestsException"


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    return buffer.getvalue()


def _machine(cloud, function_arn: str, retry: bool) -> str:
    task = {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke",
        "Parameters": {"FunctionName": function_arn, "Payload": {"token.$": "$.token"}},
        "OutputPath": "$.Payload",
        "End": True,
    }
    if retry:  # as the render workflow retries it (modules/workflow), only faster
        task["Retry"] = [{"ErrorEquals": [THROTTLED], "IntervalSeconds": 1, "MaxAttempts": 3}]
    role = workload_role(cloud, "states.amazonaws.com", allow("lambda:InvokeFunction", function_arn))
    return cloud.client("stepfunctions").create_state_machine(
        name=unique("throttled"),
        roleArn=role,
        definition=json.dumps({"StartAt": "Invoke", "States": {"Invoke": task}}),
    )["stateMachineArn"]


@pytest.fixture(scope="module")
def echo_function(cloud) -> str:
    role = workload_role(cloud, "lambda.amazonaws.com", LAMBDA_LOGS)
    return cloud.client("lambda").create_function(
        FunctionName=unique("echo"),
        Runtime="python3.11",
        Role=role,
        Handler="handler.handler",
        Code={"ZipFile": _zip(ECHO)},
        Timeout=30,
    )["FunctionArn"]


def _execute(cloud, machine: str, token: str) -> tuple[dict, list[dict]]:
    sfn = cloud.client("stepfunctions")
    arn = sfn.start_execution(stateMachineArn=machine, input=json.dumps({"token": token}))["executionArn"]
    done = wait_for(
        lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d, timeout=60
    )
    return done, sfn.get_execution_history(executionArn=arn)["events"]


def test_a_throttled_invoke_is_retried_by_the_state_machine(cloud, echo_function):
    token = unique("throttle-retry")
    with faults.set(cloud.endpoint, lambda_throttle=1.0, max_repeats=1, scope=token) as f:
        done, events = _execute(cloud, _machine(cloud, echo_function, retry=True), token)
        state = f.get()
    assert done["status"] == "SUCCEEDED" and json.loads(done["output"]) == {"echo": token}
    (failed,) = [e["taskFailedEventDetails"] for e in events if e["type"] == "TaskFailed"]
    assert failed["error"] == THROTTLED
    assert failed["cause"].startswith(
        "Rate Exceeded. (Service: AWSLambda; Status Code: 429; Error Code: TooManyRequestsException; "
    )
    assert state["injected"]["lambda_throttle"] == 1


def test_a_throttled_invoke_without_retry_fails_the_execution_with_lambdas_error(cloud, echo_function):
    token = unique("throttle-fail")
    with faults.set(cloud.endpoint, lambda_throttle=1.0, scope=token):
        done, _ = _execute(cloud, _machine(cloud, echo_function, retry=False), token)
    assert done["status"] == "FAILED" and done["error"] == THROTTLED
    direct = cloud.client("lambda").invoke(FunctionName=echo_function, Payload=json.dumps({"token": token}))
    assert json.loads(direct["Payload"].read()) == {"echo": token}  # only Step Functions' calls are throttled
