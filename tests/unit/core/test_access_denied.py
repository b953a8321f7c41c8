"""A denial says so: a 403 from S3 is AccessDenied naming the action and the resource (and AWS's own message
when there is one), never SpecNotFound; the Lambdas raise it by that name, which the workflow's failure
message carries. And the cloud path takes s3:// spec URIs only."""

from __future__ import annotations

import argparse

import boto3
import pytest
from botocore.stub import Stubber

from farm import remote
from farm.client import FarmClient
from render_worker import aws, worker
from render_worker.errors import AccessDenied, FarmError, SpecNotFound
from render_worker.publish_results import list_sizes, publish_results
from render_worker.storage import S3Sink, fetch_spec
from render_worker.validate_input import InvalidExecutionInput, validate_input

AWS_MESSAGE = (
    "User: arn:aws:sts::123456789012:assumed-role/farm-publish-results/farm-publish-results is not "
    'authorized to perform: s3:GetObjectVersion on resource: "arn:aws:s3:::specs/catalog.json" because no '
    "identity-based policy allows the s3:GetObjectVersion action"
)


@pytest.fixture
def s3():
    client = boto3.client("s3", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")  # noqa: S106 (Stubber: never sent)
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def _head_forbidden(stubber, get_says: str = "Access Denied", **params):
    # What botocore makes of a HEAD answered 403: no body, so the code is "403" and the message "Forbidden".
    stubber.add_client_error(
        "head_object",
        service_error_code="403",
        service_message="Forbidden",
        http_status_code=403,
        expected_params={"Bucket": "specs", "Key": "catalog.json", **params},
    )
    # storage.py then asks a one-byte GET, whose 403 has a body: AWS's message, or S3's bare "Access Denied".
    stubber.add_client_error(
        "get_object",
        service_error_code="AccessDenied",
        service_message=get_says,
        http_status_code=403,
        expected_params={"Bucket": "specs", "Key": "catalog.json", "Range": "bytes=0-0", **params},
    )


def test_a_403_head_is_access_denied_naming_action_and_resource_not_spec_not_found(s3):
    client, stubber = s3
    _head_forbidden(stubber)
    with pytest.raises(AccessDenied) as caught:
        fetch_spec("s3://specs/catalog.json", 1000, client)
    assert not isinstance(caught.value, SpecNotFound)
    assert (caught.value.action, caught.value.resource) == ("s3:GetObject", "arn:aws:s3:::specs/catalog.json")
    assert str(caught.value).startswith(
        "s3:GetObject on arn:aws:s3:::specs/catalog.json was denied: HTTP 403"
    )


def test_a_denied_versioned_read_names_get_object_version_and_keeps_the_aws_message(s3):
    client, stubber = s3
    stubber.add_client_error(
        "head_object",
        service_error_code="AccessDenied",
        service_message=AWS_MESSAGE,
        http_status_code=403,
        expected_params={"Bucket": "specs", "Key": "catalog.json", "VersionId": "v1"},
    )
    with pytest.raises(AccessDenied) as caught:
        fetch_spec("s3://specs/catalog.json", 1000, client, version_id="v1")
    assert caught.value.action == "s3:GetObjectVersion"
    assert (
        str(caught.value)
        == f"s3:GetObjectVersion on arn:aws:s3:::specs/catalog.json was denied: {AWS_MESSAGE}"
    )


def test_a_denied_get_after_a_granted_head_is_access_denied(s3):
    client, stubber = s3
    stubber.add_response("head_object", {"ContentLength": 2, "VersionId": "v7"})
    stubber.add_client_error(
        "get_object",
        service_error_code="AccessDenied",
        service_message="Access Denied",
        http_status_code=403,
        expected_params={"Bucket": "specs", "Key": "catalog.json", "VersionId": "v7"},
    )
    with pytest.raises(
        AccessDenied,
        match=r"^s3:GetObjectVersion on arn:aws:s3:::specs/catalog.json was denied: HTTP 403 without",
    ):
        fetch_spec("s3://specs/catalog.json", 1000, client)


def test_a_missing_spec_is_still_spec_not_found(s3):
    client, stubber = s3
    stubber.add_client_error(
        "head_object", service_error_code="404", service_message="Not Found", http_status_code=404
    )
    with pytest.raises(SpecNotFound, match=r"cannot be read \(404\)"):
        fetch_spec("s3://specs/catalog.json", 1000, client)


def test_a_denied_put_names_put_object_and_the_full_key(s3):
    client, stubber = s3
    stubber.add_client_error(
        "put_object", service_error_code="AccessDenied", service_message="Access Denied", http_status_code=403
    )
    sink = S3Sink(client, "renders", "run-1/", "arn:aws:kms:us-east-1:123456789012:key/k")
    with pytest.raises(AccessDenied, match=r"^s3:PutObject on arn:aws:s3:::renders/run-1/p/s.svg was denied"):
        sink.put("p/s.svg", b"<svg/>")


def test_a_denied_listing_names_list_bucket_on_the_bucket(s3):
    client, stubber = s3
    stubber.add_client_error(
        "list_objects_v2",
        service_error_code="AccessDenied",
        service_message="Access Denied",
        http_status_code=403,
    )
    with pytest.raises(AccessDenied, match=r"^s3:ListBucket on arn:aws:s3:::renders was denied"):
        list_sizes(client, "renders", "run-1/")


def test_publish_results_raises_access_denied_by_name_when_it_may_not_read_the_spec(s3):
    # The bug this issue found: PublishResults without a grant on the specs bucket. On AWS that read is a 403;
    # the state machine sees errorType "AccessDenied" (the class name), not "SpecNotFound".
    client, stubber = s3
    _head_forbidden(stubber, get_says=AWS_MESSAGE, VersionId="v1")
    event = {
        "run_id": "r",
        "spec_uri": "s3://specs/catalog.json",
        "spec_version_id": "v1",
        "output_uri": "s3://renders/r/",
        "variant_count": 1,
        "variants_per_child": 1,
        "array_size": 1,
    }
    with pytest.raises(AccessDenied) as caught:
        publish_results(event, s3=client, env={"OUTPUT_KMS_KEY_ID": "k"})
    assert type(caught.value).__name__ == "AccessDenied" and isinstance(caught.value, FarmError)
    # The HEAD said nothing; the one-byte GET's answer names the role, the action and the resource.
    assert (
        str(caught.value)
        == f"s3:GetObjectVersion on arn:aws:s3:::specs/catalog.json was denied: {AWS_MESSAGE}"
    )
    assert "s3:GetObjectVersion on arn:aws:s3:::specs/catalog.json" in str(caught.value)


# ---- the cloud path takes s3:// only -------------------------------------------------------------------


def test_validate_input_refuses_a_file_uri_as_invalid_execution_input(tmp_path):
    spec = tmp_path / "catalog.json"
    spec.write_text("{}")
    with pytest.raises(InvalidExecutionInput, match=r"^spec_uri 'file:///.*' is not an s3:// URI"):
        validate_input({"spec_uri": spec.as_uri(), "run_id": "r"}, s3=None, env={"RENDERS_BUCKET": "renders"})


def test_the_worker_refuses_a_file_spec_as_a_batch_job(tmp_path, capsys):
    spec = tmp_path / "catalog.json"
    spec.write_text("{}")
    env = {
        "SPEC_URI": spec.as_uri(),
        "RUN_ID": "r",
        "OUTPUT_URI": "s3://renders/r/",
        "AWS_BATCH_JOB_ID": "j-1",
    }
    with pytest.raises(ValueError, match=r"SPEC_URI 'file:///.*' is not an s3:// URI: a Batch job"):
        worker.WorkerConfig.from_env(env)
    assert worker.run(env) == worker.EXIT_FAILED
    captured = capsys.readouterr()
    assert "is not an s3:// URI" in captured.out + captured.err
    # Offline (no AWS_BATCH_JOB_ID) the same URI is accepted.
    env.pop("AWS_BATCH_JOB_ID")
    assert worker.WorkerConfig.from_env(env).spec_uri == spec.as_uri()


def test_the_worker_names_a_denied_spec_read_and_exits_retryable(s3, tmp_path, monkeypatch, capsys):
    client, stubber = s3
    _head_forbidden(stubber)
    monkeypatch.setattr(aws, "client", lambda service, pool=10: client)
    env = {
        "SPEC_URI": "s3://specs/catalog.json",
        "RUN_ID": "r",
        "OUTPUT_URI": "s3://renders/r/",
        "SCRATCH_DIR": str(tmp_path),
        "AWS_BATCH_JOB_ID": "j-1",
    }
    assert worker.run(env) == worker.EXIT_FAILED  # not EXIT_BAD_SPEC: a denial is no bad spec
    assert (
        "AccessDenied: s3:GetObject on arn:aws:s3:::specs/catalog.json was denied" in capsys.readouterr().err
    )


def test_start_run_refuses_a_file_uri_before_calling_the_cloud():
    with pytest.raises(ValueError, match=r"is not an s3:// URI: the workflow reads specs from S3 only"):
        FarmClient(stack=None).start("file:///tmp/catalog.json", "run-1")


def test_farm_submit_refuses_a_uri_with_a_usage_error(capsys):
    args = argparse.Namespace(spec="file:///tmp/catalog.json", run_id=None, wait=False)
    assert remote._cmd_submit(args) == remote.EXIT_USAGE
    assert "give the path of a local spec file" in capsys.readouterr().err
