"""envs/local's Terraform state in S3 on the local cloud: the backend files the harness writes, the state
bucket it makes (with the admin keys; never in a build), the state questions read from the S3 object, and the
in-build decision (the build's endpoint and session, no local-cloud lifecycle). The S3 parts run against a
private local cloud (free port, temporary state dir), never the developer's."""

from __future__ import annotations

import json
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace

import boto3
import pytest

from harness import infra, terraform
from harness.target import Target
from localcloud import config, credentials, lifecycle

STATE = terraform.local_cloud_state()
ECR_URL = "127.0.0.1:5000/farm/render-worker"
ECR_STATE = {
    "resources": [
        {
            "module": infra.ECR_MODULE,
            "mode": "managed",
            "type": "aws_ecr_repository",
            "instances": [{"attributes": {"repository_url": ECR_URL}}],
        }
    ]
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((config.HOST, 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def cloud(tmp_path_factory) -> Iterator[SimpleNamespace]:
    """A private local cloud in process mode; `admin` is a boto3 S3 client with the keys it issued."""
    port, state = _free_port(), tmp_path_factory.mktemp("state-backend-cloud")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LOCALCLOUD_RUNTIME", "process")
        endpoint = lifecycle.up(port=port, state_dir=state)
    try:
        keys = credentials.read(state)
        yield SimpleNamespace(
            endpoint=endpoint,
            port=port,
            state_dir=state,
            keys=keys,
            admin=boto3.client("s3", **keys.client_kwargs()),
        )
    finally:
        lifecycle.down(port=port, state_dir=state)


@pytest.fixture(autouse=True)
def _outside_a_build(monkeypatch, tmp_path):
    """Whatever runs these tests (a CodeBuild build included) decides nothing for them."""
    for name in ("CODEBUILD_BUILD_ID", "AWS_ENDPOINT_URL", "FARM_BACKEND_CONFIG", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("FARM_STATE_DIR", str(tmp_path / "farm"))


@pytest.fixture
def fresh_bucket(cloud) -> Iterator[str]:
    """A state location in a bucket of its own (tests share the cloud); emptied and deleted afterwards."""
    bucket = f"farm-tfstate-test-{uuid.uuid4().hex[:8]}"
    yield bucket
    try:
        listed = cloud.admin.list_object_versions(Bucket=bucket)
    except cloud.admin.exceptions.NoSuchBucket:
        return
    for version in [*listed.get("Versions", []), *listed.get("DeleteMarkers", [])]:
        cloud.admin.delete_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"])
    cloud.admin.delete_bucket(Bucket=bucket)


def _local_ws(endpoint: str, bucket: str, **fields) -> terraform.Workspace:
    ws = terraform.workspace("local", endpoint_url=endpoint)
    ws.state = terraform.S3State(bucket=bucket, key=STATE.key, region=STATE.region)
    for name, value in fields.items():
        setattr(ws, name, value)
    return ws


# ---- backend files -----------------------------------------------------------------------------------------


def test_the_default_location_is_the_pipeline_modules_state_bucket():
    expected = ("farm-tfstate-123456789012-us-east-1", "render-farm/local.tfstate", "us-east-1")
    assert (STATE.bucket, STATE.key, STATE.region) == expected


def test_local_backend_files_name_the_bucket_and_the_local_cloud(tmp_path):
    ws = terraform.workspace("local", endpoint_url="http://127.0.0.1:4711")
    args = ws.backend_args()
    assert args == [
        f"-backend-config={tmp_path / 'farm' / 'tf' / 'local' / terraform.STATE_FILE_NAME}",
        f"-backend-config={tmp_path / 'farm' / 'tf' / 'local' / terraform.LOCAL_CLOUD_BACKEND_FILE_NAME}",
    ]
    location, local_cloud = (Path(a.split("=", 1)[1]).read_text() for a in args)
    for line in (
        'bucket       = "farm-tfstate-123456789012-us-east-1"',
        'key          = "render-farm/local.tfstate"',
        'region       = "us-east-1"',
        "encrypt      = true",
        "use_lockfile = true",
    ):
        assert line in location
    for line in (
        'endpoints                   = { s3 = "http://127.0.0.1:4711" }',
        "use_path_style              = true",
        "skip_credentials_validation = true",
        "skip_metadata_api_check     = true",
        "skip_region_validation      = true",
        "skip_requesting_account_id  = true",
    ):
        assert line in local_cloud
    assert "bucket" not in local_cloud


def test_a_given_backend_file_names_the_location_and_the_harness_adds_the_local_cloud(tmp_path, monkeypatch):
    given = tmp_path / "backend.hcl"
    given.write_text(
        'bucket       = "pipeline-state"\nkey          = "render-farm/x.tfstate"\nencrypt = true\n'
    )
    monkeypatch.setenv("FARM_BACKEND_CONFIG", str(given))
    ws = terraform.workspace("local", endpoint_url="http://127.0.0.1:4711")
    assert ws.state == terraform.S3State("pipeline-state", "render-farm/x.tfstate", "us-east-1")
    args = ws.backend_args()
    assert args[0] == f"-backend-config={given}"
    assert args[1].endswith(terraform.LOCAL_CLOUD_BACKEND_FILE_NAME)
    assert not (ws.dir / terraform.STATE_FILE_NAME).exists()  # the location is the given file's alone


def test_a_given_backend_file_without_a_bucket_is_refused(tmp_path, monkeypatch):
    given = tmp_path / "backend.hcl"
    given.write_text('key = "k"\n')
    monkeypatch.setenv("FARM_BACKEND_CONFIG", str(given))
    with pytest.raises(terraform.TerraformError, match="sets no bucket"):
        terraform.workspace("local", endpoint_url="http://127.0.0.1:4711")


def test_init_runs_again_when_a_backend_file_changes(tmp_path, monkeypatch):
    runs: list[tuple[str, ...]] = []

    def run(self, *args, **kwargs):
        runs.append(args)
        self.data_dir.mkdir(parents=True, exist_ok=True)

    monkeypatch.setattr(terraform.Workspace, "run", run)
    monkeypatch.setattr(terraform.Workspace, "ensure_state_bucket", lambda self: False)
    given = tmp_path / "backend.hcl"
    given.write_text('bucket = "one"\nkey = "k"\n')
    monkeypatch.setenv("FARM_BACKEND_CONFIG", str(given))
    ws = terraform.workspace("local", endpoint_url="http://127.0.0.1:4711")
    assert ws.init() and not ws.init()
    given.write_text('bucket = "two"\nkey = "k"\n')  # same path, other content
    assert ws.init()
    ws.endpoint_url = "http://127.0.0.1:4712"  # the harness-written file changes
    assert ws.init()
    assert len(runs) == 3 and all(r[-1] == "-reconfigure" for r in runs)


# ---- the state bucket --------------------------------------------------------------------------------------


def test_the_state_bucket_is_made_once_versioned_encrypted_and_private(cloud, fresh_bucket, capsys):
    ws = _local_ws(cloud.endpoint, fresh_bucket)
    assert ws.ensure_state_bucket() is True
    assert f"created the state bucket {fresh_bucket}" in capsys.readouterr().out
    assert cloud.admin.get_bucket_versioning(Bucket=fresh_bucket)["Status"] == "Enabled"
    (rule,) = cloud.admin.get_bucket_encryption(Bucket=fresh_bucket)["ServerSideEncryptionConfiguration"][
        "Rules"
    ]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    blocked = cloud.admin.get_public_access_block(Bucket=fresh_bucket)["PublicAccessBlockConfiguration"]
    assert all(blocked.values()) and len(blocked) == 4
    assert ws.ensure_state_bucket() is False  # a second call finds it


def test_state_questions_read_the_s3_object(cloud, fresh_bucket):
    ws = _local_ws(cloud.endpoint, fresh_bucket)
    assert not ws.has_state() and infra.state_repository_url(ws) is None  # no bucket yet
    ws.ensure_state_bucket()
    assert not ws.has_state()  # no object yet
    put = {"Bucket": fresh_bucket, "Key": STATE.key}
    cloud.admin.put_object(**put, Body=json.dumps({"version": 4, "resources": []}).encode())
    assert not ws.has_state()  # what `terraform destroy` leaves
    cloud.admin.put_object(**put, Body=json.dumps(ECR_STATE).encode())
    assert ws.has_state()
    assert infra.state_repository_url(ws) == ECR_URL
    assert not ws.state_file.exists()  # nothing on disk


def test_output_json_is_empty_when_the_cloud_holds_no_state(cloud, monkeypatch):
    monkeypatch.setenv("LOCALCLOUD_PORT", str(cloud.port))
    monkeypatch.setattr(
        terraform, "local_cloud_state", lambda: terraform.S3State("no-such-bucket", "k", "us-east-1")
    )
    monkeypatch.setattr(
        terraform.Workspace, "run", lambda self, *a, **k: pytest.fail("no Terraform expected")
    )
    assert terraform.output_json("local") == {}


# ---- inside a build of the local cloud ---------------------------------------------------------------------


def _admin_client(cloud, service: str):
    """A client of `cloud` as its admin (the harness's bootstrap credentials)."""
    return boto3.client(service, **cloud.keys.client_kwargs())


def _build_session(cloud, bucket: str) -> dict[str, str]:
    """The deploy build's environment: a CodeBuild role session allowed the state bucket and object only."""
    iam = _admin_client(cloud, "iam")
    name = f"build-deploy-{uuid.uuid4().hex[:8]}"
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codebuild.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    grants = [
        {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"},
        {"Effect": "Allow", "Action": ["s3:GetObject"], "Resource": f"arn:aws:s3:::{bucket}/{STATE.key}"},
    ]
    policy = json.dumps({"Version": "2012-10-17", "Statement": grants})
    iam.put_role_policy(RoleName=name, PolicyName="state", PolicyDocument=policy)
    session = _admin_client(cloud, "sts").assume_role(RoleArn=role, RoleSessionName="build")["Credentials"]
    return {
        "CODEBUILD_BUILD_ID": "farm-deploy:0b5e",
        "AWS_ENDPOINT_URL": cloud.endpoint,
        "AWS_ACCESS_KEY_ID": session["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": session["SecretAccessKey"],
        "AWS_SESSION_TOKEN": session["SessionToken"],
    }


@pytest.fixture
def in_build(cloud, fresh_bucket, monkeypatch):
    """This process as `cloud`'s deploy build: its variables set, the lifecycle and admin keys poisoned."""
    for name, value in _build_session(cloud, fresh_bucket).items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("LOCALCLOUD_PORT", "1")  # whatever the harness's own cloud would be, it is not used

    def refuse(*args, **kwargs):
        raise AssertionError("a build must not start, stop or read the keys of a local cloud")

    monkeypatch.setattr(lifecycle, "up", refuse)
    monkeypatch.setattr(lifecycle, "down", refuse)
    monkeypatch.setattr(credentials, "read", refuse)  # the admin keys file
    return SimpleNamespace(bucket=fresh_bucket)


def test_the_build_decision_needs_both_variables(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:4711")
    assert Target.of("local").build_endpoint is None and Target.of("local").manages_local_cloud
    monkeypatch.setenv("CODEBUILD_BUILD_ID", "farm-deploy:1")
    assert Target.of("local").build_endpoint == "http://127.0.0.1:4711"
    assert not Target.of("local").manages_local_cloud
    assert Target.of("aws").build_endpoint is None  # the account's pipeline builds are no local cloud's


def test_in_a_build_the_workspace_uses_the_builds_cloud_and_session(cloud, in_build):
    ws, boot_id = infra.local_workspace()
    assert ws.endpoint_url == cloud.endpoint and ws.ambient_credentials
    assert boot_id == lifecycle.health(cloud.port)["boot_id"] and ws.runtime == "process"
    env = ws.environment()
    assert env["AWS_ACCESS_KEY_ID"].startswith("ASIA") and env["AWS_SESSION_TOKEN"]
    assert env["AWS_ACCESS_KEY_ID"] != cloud.keys.access_key_id
    assert env["AWS_ENDPOINT_URL"] == env["TF_VAR_endpoint_url"] == cloud.endpoint


def test_in_a_build_the_state_bucket_must_exist(cloud, in_build):
    ws, _ = infra.local_workspace()
    ws.state = terraform.S3State(in_build.bucket, STATE.key, STATE.region)
    with pytest.raises(terraform.TerraformError, match="a build never creates it"):
        ws.ensure_state_bucket()
    with pytest.raises(cloud.admin.exceptions.ClientError):
        cloud.admin.head_bucket(Bucket=in_build.bucket)  # not made behind the error


def test_in_a_build_state_questions_read_the_s3_object_with_the_session(cloud, in_build):
    ws, _ = infra.local_workspace()
    ws.state = terraform.S3State(in_build.bucket, STATE.key, STATE.region)
    cloud.admin.create_bucket(Bucket=in_build.bucket)
    assert ws.ensure_state_bucket() is False
    cloud.admin.put_object(Bucket=in_build.bucket, Key=STATE.key, Body=json.dumps(ECR_STATE).encode())
    assert ws.has_state() and infra.state_repository_url(ws) == ECR_URL


def test_in_a_build_a_failed_apply_is_not_retried_on_a_restarted_cloud(cloud, in_build, monkeypatch):
    ws, boot_id = infra.local_workspace()

    def apply(env, workspace, boot):
        raise terraform.TerraformError("terraform apply failed in envs/local (exit 1)\nalready exists")

    monkeypatch.setattr(infra, "_apply", apply)
    with pytest.raises(terraform.TerraformError, match="already exists"):
        infra._deploy_locked("local", ws, boot_id)  # lifecycle.down/up would raise AssertionError
