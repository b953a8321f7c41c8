"""CodeBuild builds that run (localcloud/pipeline/codebuild.py, buildspec.py, patches/codebuild.py): phases
and their transitions, one shell per build, environment precedence, the service role's identity, logs, S3
source and artifacts, reports, timeout, StopBuild, malformed buildspecs."""

from __future__ import annotations

import io
import json
import os
import textwrap
import zipfile

import pytest

from localcloud import config, containers, lifecycle
from localcloud.pipeline import buildspec
from tests.unit.localcloud.conftest import allow, start_cloud, unique, wait_for

MINUTE_S = 1  # a timeout minute lasts a second in this cloud (codebuild.MINUTE_ENV)
REGION, ACCOUNT = config.REGION, config.ACCOUNT_ID


@pytest.fixture(scope="module")
def cb_cloud(tmp_path_factory):
    env = {"LOCALCLOUD_RUNTIME": "process", "LOCALCLOUD_CODEBUILD_MINUTE_S": str(MINUTE_S)}
    for cloud in start_cloud(tmp_path_factory, "codebuild", env):
        yield cloud
        assert lifecycle.errors(port=cloud.port)["recent"] == [], "the server reported errors"


def project_arn(name: str) -> str:
    return f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/{name}"


def build_role(cloud, project: str, *statements: dict) -> str:
    """A service role as modules/pipeline makes them: codebuild.amazonaws.com for this project only."""
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "codebuild.amazonaws.com"},
                "Action": "sts:AssumeRole",
                "Condition": {
                    "StringEquals": {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": project_arn(project)}
                },
            }
        ],
    }
    iam = cloud.client("iam")
    name = unique("build-role")
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    if statements:
        document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
        iam.put_role_policy(RoleName=name, PolicyName="build", PolicyDocument=document)
    return role


def logs_grant(project: str) -> dict:
    group = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/codebuild/{project}"
    return allow(["logs:CreateLogStream", "logs:PutLogEvents"], f"{group}:*")


def make_project(
    cloud,
    name: str,
    role: str,
    *,
    spec: str | None = None,
    source=None,
    artifacts=None,
    timeout: int = 30,
    variables: dict | None = None,
    **extra,
) -> None:
    cloud.client("logs").create_log_group(logGroupName=f"/aws/codebuild/{name}")
    source = source or {"type": "NO_SOURCE", "buildspec": spec}
    cloud.client("codebuild").create_project(
        name=name,
        source=source,
        artifacts=artifacts or {"type": "NO_ARTIFACTS"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
            "environmentVariables": [
                {"name": k, "value": v, "type": "PLAINTEXT"} for k, v in (variables or {}).items()
            ],
        },
        serviceRole=role,
        timeoutInMinutes=timeout,
        **extra,
    )


def finished(cloud, build_id: str, timeout: float = 40.0) -> dict:
    client = cloud.client("codebuild")
    return wait_for(
        lambda: (b := client.batch_get_builds(ids=[build_id])["builds"][0])["buildComplete"] and b,
        timeout,
        0.2,
    )


def phases(build: dict) -> list[tuple[str, str | None]]:
    return [(p["phaseType"], p.get("phaseStatus")) for p in build["phases"]]


def log_text(cloud, build: dict) -> str:
    logs = build["logs"]
    events = cloud.client("logs").get_log_events(
        logGroupName=logs["groupName"], logStreamName=logs["streamName"]
    )
    return "\n".join(e["message"] for e in events["events"])


def context(build: dict, phase: str) -> dict:
    return next(p for p in build["phases"] if p["phaseType"] == phase)["contexts"][0]


SPEC_OK = textwrap.dedent(
    """\
    version: 0.2
    env:
      variables:
        SPEC_ONLY: spec
        SPEC_AND_PROJECT: spec
      exported-variables:
        - CARRIED
    phases:
      install:
        runtime-versions:
          python: "3.11"
        commands:
          - export CARRIED=from-install
          - mkdir -p sub && cd sub
      pre_build:
        commands:
          - test "$CARRIED" = from-install
          - test "$(basename "$PWD")" = sub
      build:
        commands:
          - echo "vars $SPEC_ONLY $SPEC_AND_PROJECT $PROJECT_AND_OVERRIDE"
          - echo "key $AWS_ACCESS_KEY_ID token ${#AWS_SESSION_TOKEN} endpoint $AWS_ENDPOINT_URL"
          - echo "number $CODEBUILD_BUILD_NUMBER initiator $CODEBUILD_INITIATOR src $CODEBUILD_SRC_DIR"
          - test "$CODEBUILD_SRC_DIR" = "$(cd .. && pwd)"
      post_build:
        commands:
          - echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"
    """
)


def test_phases_environment_and_logs(cb_cloud):
    name = unique("cb-ok")
    role = build_role(cb_cloud, name, logs_grant(name))
    make_project(
        cb_cloud,
        name,
        role,
        spec=SPEC_OK,
        variables={"SPEC_AND_PROJECT": "project", "PROJECT_AND_OVERRIDE": "project"},
    )
    client = cb_cloud.client("codebuild")
    started = client.start_build(
        projectName=name, environmentVariablesOverride=[{"name": "PROJECT_AND_OVERRIDE", "value": "override"}]
    )["build"]
    assert started["buildStatus"] == "IN_PROGRESS" and started["buildNumber"] == 1
    build = finished(cb_cloud, started["id"])
    assert build["buildStatus"] == "SUCCEEDED", build["phases"]
    assert phases(build) == [
        ("SUBMITTED", "SUCCEEDED"),
        ("QUEUED", "SUCCEEDED"),
        ("PROVISIONING", "SUCCEEDED"),
        ("DOWNLOAD_SOURCE", "SUCCEEDED"),
        ("INSTALL", "SUCCEEDED"),
        ("PRE_BUILD", "SUCCEEDED"),
        ("BUILD", "SUCCEEDED"),
        ("POST_BUILD", "SUCCEEDED"),
        ("UPLOAD_ARTIFACTS", "SUCCEEDED"),
        ("FINALIZING", "SUCCEEDED"),
        ("COMPLETED", None),
    ]
    assert build["currentPhase"] == "COMPLETED" and build["endTime"] >= build["startTime"]
    assert build["logs"]["groupName"] == f"/aws/codebuild/{name}"
    assert build["logs"]["streamName"] == started["id"].split(":")[1]
    text = log_text(cb_cloud, build)
    assert "vars spec project override" in text  # buildspec < project < StartBuild override
    assert "Running command echo" in text and "Phase complete: BUILD State: SUCCEEDED" in text
    assert "succeeding=1" in text
    key = next(line for line in text.splitlines() if line.startswith("key "))
    assert key.split()[1] != cb_cloud.credentials.access_key_id and int(key.split()[3]) > 0
    assert f"endpoint {cb_cloud.endpoint}" in key
    assert "initiator root" in text and "number 1 " in text
    assert build["exportedEnvironmentVariables"] == [{"name": "CARRIED", "value": "from-install"}]
    second = client.start_build(projectName=name)["build"]
    assert second["buildNumber"] == 2
    finished(cb_cloud, second["id"])
    assert client.list_builds_for_project(projectName=name)["ids"] == [second["id"], started["id"]]
    assert started["id"] in client.list_builds()["ids"]


SPEC_BUILD_FAILS = textwrap.dedent(
    """\
    version: 0.2
    phases:
      pre_build:
        on-failure: CONTINUE
        commands:
          - "false"
          - echo pre-build-went-on
      build:
        commands:
          - echo building
          - exit_code_3() { return 3; }; exit_code_3
          - echo never-here
        finally:
          - echo finally-ran
      post_build:
        commands:
          - echo "succeeding=$CODEBUILD_BUILD_SUCCEEDING"
    """
)


def test_build_failure_still_runs_post_build(cb_cloud):
    name = unique("cb-fail")
    make_project(cb_cloud, name, build_role(cb_cloud, name, logs_grant(name)), spec=SPEC_BUILD_FAILS)
    build = finished(cb_cloud, cb_cloud.client("codebuild").start_build(projectName=name)["build"]["id"])
    assert build["buildStatus"] == "FAILED"
    assert [p for p in phases(build) if p[0] in ("PRE_BUILD", "BUILD", "POST_BUILD", "UPLOAD_ARTIFACTS")] == [
        ("PRE_BUILD", "FAILED"),
        ("BUILD", "FAILED"),
        ("POST_BUILD", "SUCCEEDED"),
        ("UPLOAD_ARTIFACTS", "SUCCEEDED"),
    ]
    assert context(build, "BUILD") == {
        "statusCode": "COMMAND_EXECUTION_ERROR",
        "message": "Error while executing command: exit_code_3() { return 3; }; exit_code_3. "
        "Reason: exit status 3",
    }
    text = log_text(cb_cloud, build)
    assert "pre-build-went-on" in text and "finally-ran" in text and "never-here" not in text
    assert "succeeding=0" in text and "Phase complete: BUILD State: FAILED" in text


def test_install_failure_goes_to_finalizing(cb_cloud):
    name = unique("cb-install")
    spec = "version: 0.2\nphases:\n  install:\n    commands:\n      - exit 2\n  build:\n    commands:\n"
    make_project(cb_cloud, name, build_role(cb_cloud, name), spec=spec + "      - echo no\n")
    build = finished(cb_cloud, cb_cloud.client("codebuild").start_build(projectName=name)["build"]["id"])
    assert build["buildStatus"] == "FAILED"
    assert [p[0] for p in phases(build)][4:] == ["INSTALL", "FINALIZING", "COMPLETED"]
    assert context(build, "INSTALL")["message"].endswith("Reason: exit status 2")
    # The role may not write logs (no logs:CreateLogStream / PutLogEvents): the build has none, as on AWS.
    logs = cb_cloud.client("logs")
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        log_text(cb_cloud, build)


def test_malformed_buildspec_fails_download_source(cb_cloud):
    name = unique("cb-yaml")
    spec = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo: [not, a, string]\n"
    make_project(cb_cloud, name, build_role(cb_cloud, name), spec=spec)
    build = finished(cb_cloud, cb_cloud.client("codebuild").start_build(projectName=name)["build"]["id"])
    assert build["buildStatus"] == "FAILED"
    assert phases(build)[3:] == [
        ("DOWNLOAD_SOURCE", "FAILED"),
        ("FINALIZING", "SUCCEEDED"),
        ("COMPLETED", None),
    ]
    assert context(build, "DOWNLOAD_SOURCE") == {
        "statusCode": "YAML_FILE_ERROR",
        "message": "Expected phases/build/commands[0] to be of string type: found subkeys instead",
    }


def source_zip() -> bytes:
    spec = textwrap.dedent(
        """\
        version: 0.2
        phases:
          build:
            commands:
              - ./tool.sh > out/result.txt
              - mkdir -p out/deep reports && echo deep > out/deep/file.txt
              - cp junit.xml reports/
        artifacts:
          files:
            - "**/*"
          base-directory: out
        reports:
          unit:
            files:
              - reports/*.xml
        """
    )
    junit = (
        '<testsuites><testsuite name="suite"><testcase classname="m" name="ok" time="0.5"/>'
        '<testcase classname="m" name="bad" time="1"><failure message="boom">trace</failure></testcase>'
        "</testsuite></testsuites>"
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("buildspec.yml", spec)
        archive.writestr("junit.xml", junit)
        archive.writestr("out/.keep", "")
        tool = zipfile.ZipInfo("tool.sh")
        tool.external_attr = 0o100755 << 16
        archive.writestr(tool, "#!/bin/sh\necho tool-ran\n")
    return buffer.getvalue()


def s3_setup(cloud, name: str) -> tuple[str, str, str]:
    s3, kms = cloud.client("s3"), cloud.client("kms")
    bucket = unique("cb-bucket")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="src/source.zip", Body=source_zip())
    key = kms.create_key(Description=name)["KeyMetadata"]["Arn"]
    return bucket, "src/source.zip", key


def test_s3_source_artifacts_and_reports(cb_cloud):
    name = unique("cb-s3")
    bucket, key, kms_key = s3_setup(cb_cloud, name)
    group_arn = f"arn:aws:codebuild:{REGION}:{ACCOUNT}:report-group/{name}-unit"
    role = build_role(
        cb_cloud,
        name,
        logs_grant(name),
        allow("s3:GetObject", f"arn:aws:s3:::{bucket}/src/*"),
        allow("s3:PutObject", f"arn:aws:s3:::{bucket}/out/*"),
        allow(["kms:GenerateDataKey", "kms:Decrypt"], kms_key),
        allow(
            [
                f"codebuild:{a}"
                for a in ("CreateReportGroup", "CreateReport", "UpdateReport", "BatchPutTestCases")
            ],
            group_arn,
        ),
    )
    make_project(
        cb_cloud,
        name,
        role,
        source={"type": "S3", "location": f"{bucket}/{key}"},
        artifacts={"type": "S3", "location": bucket, "path": "out", "name": "result.zip", "packaging": "ZIP"},
        encryptionKey=kms_key,
    )
    build = finished(cb_cloud, cb_cloud.client("codebuild").start_build(projectName=name)["build"]["id"])
    assert build["buildStatus"] == "SUCCEEDED", (build["phases"], log_text(cb_cloud, build))
    s3 = cb_cloud.client("s3")
    head = s3.head_object(Bucket=bucket, Key="out/result.zip")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"].endswith(kms_key.split("/")[-1])
    archive = zipfile.ZipFile(io.BytesIO(s3.get_object(Bucket=bucket, Key="out/result.zip")["Body"].read()))
    assert sorted(archive.namelist()) == [".keep", "deep/file.txt", "result.txt"]
    assert archive.read("result.txt") == b"tool-ran\n"  # tool.sh kept its executable mode
    client = cb_cloud.client("codebuild")
    [report_arn] = build["reportArns"]
    report = client.batch_get_reports(reportArns=[report_arn])["reports"][0]
    assert report["reportGroupArn"] == group_arn and report["status"] == "FAILED"
    assert report["testSummary"]["total"] == 2 and report["testSummary"]["statusCounts"]["FAILED"] == 1
    cases = client.describe_test_cases(reportArn=report_arn)["testCases"]
    assert {(c["name"], c["status"]) for c in cases} == {("ok", "SUCCEEDED"), ("bad", "FAILED")}
    assert client.list_reports_for_report_group(reportGroupArn=group_arn)["reports"] == [report_arn]


def test_role_without_get_object_fails_download_source(cb_cloud):
    name = unique("cb-denied")
    bucket, key, _ = s3_setup(cb_cloud, name)
    make_project(
        cb_cloud,
        name,
        build_role(cb_cloud, name, logs_grant(name)),
        source={"type": "S3", "location": f"{bucket}/{key}"},
    )
    build = finished(cb_cloud, cb_cloud.client("codebuild").start_build(projectName=name)["build"]["id"])
    assert build["buildStatus"] == "FAILED"
    found = context(build, "DOWNLOAD_SOURCE")
    assert found["statusCode"] == "CLIENT_ERROR"
    assert "AccessDenied" in found["message"] and "s3:GetObject" in found["message"]
    assert [p[0] for p in phases(build)][3:] == ["DOWNLOAD_SOURCE", "FINALIZING", "COMPLETED"]


def test_role_the_service_may_not_assume_fails_provisioning(cb_cloud):
    name = unique("cb-trust")
    role = build_role(cb_cloud, "another-project")  # aws:SourceArn names another project
    make_project(cb_cloud, name, role, spec="version: 0.2\nphases:\n  build:\n    commands:\n      - echo\n")
    build = finished(cb_cloud, cb_cloud.client("codebuild").start_build(projectName=name)["build"]["id"])
    assert build["buildStatus"] == "FAILED"
    assert phases(build)[2] == ("PROVISIONING", "FAILED")
    assert role in context(build, "PROVISIONING")["message"]


SPEC_SLEEP = "version: 0.2\nphases:\n  build:\n    commands:\n      - echo sleeping\n      - sleep 60\n"


def test_timeout_ends_timed_out(cb_cloud):
    name = unique("cb-timeout")
    make_project(cb_cloud, name, build_role(cb_cloud, name), spec=SPEC_SLEEP, timeout=5)
    build = finished(cb_cloud, cb_cloud.client("codebuild").start_build(projectName=name)["build"]["id"])
    assert build["buildStatus"] == "TIMED_OUT"
    assert ("BUILD", "TIMED_OUT") in phases(build)
    assert (build["endTime"] - build["startTime"]).total_seconds() < 5 * MINUTE_S + 10


def test_stop_build(cb_cloud):
    name = unique("cb-stop")
    make_project(cb_cloud, name, build_role(cb_cloud, name, logs_grant(name)), spec=SPEC_SLEEP)
    client = cb_cloud.client("codebuild")
    started = client.start_build(projectName=name)["build"]
    build_id = started["id"]
    # The log is shipped while the build runs, not only at its end.
    wait_for(lambda: _has_log_line(cb_cloud, started, "sleeping"), 20, 0.5)
    assert client.batch_get_builds(ids=[build_id])["builds"][0]["currentPhase"] == "BUILD"
    client.stop_build(id=build_id)
    build = finished(cb_cloud, build_id, 15)
    assert build["buildStatus"] == "STOPPED"
    assert ("BUILD", "STOPPED") in phases(build)


def _has_log_line(cloud, build: dict, line: str) -> bool:
    try:
        return line in log_text(cloud, build).splitlines()
    except cloud.client("logs").exceptions.ResourceNotFoundException:
        return False


def test_api_refusals(cb_cloud):
    client = cb_cloud.client("codebuild")
    with pytest.raises(client.exceptions.ResourceNotFoundException, match="Project cannot be found"):
        client.start_build(projectName="no-such-project")
    name = unique("cb-pipeline")
    make_project(
        cb_cloud,
        name,
        build_role(cb_cloud, name),
        source={"type": "CODEPIPELINE"},
        artifacts={"type": "CODEPIPELINE"},
    )
    with pytest.raises(client.exceptions.InvalidInputException, match="CODEPIPELINE"):
        client.start_build(projectName=name)
    answer = client.batch_get_builds(ids=[f"{name}:00000000-0000-0000-0000-000000000000"])
    assert answer["builds"] == [] and len(answer["buildsNotFound"]) == 1


# ---- the buildspec parser (no cloud) ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("phases: {}", "Missing required field: version"),
        ("version: 0.1\n", "Unsupported buildspec version: 0.1"),
        ("version: 0.2\nphases:\n  compile: {}\n", "Unknown phase: compile"),
        ("version: 0.2\nphases:\n  build:\n    on-failure: RETRY\n", "phases/build/on-failure: RETRY"),
        ("version: 0.2\nenv:\n  variables: [a]\n", "Expected env/variables to be of map type"),
        ("version: 0.2\nphases: [\n", "Invalid buildspec:"),
        ("version: 0.2\nartifacts:\n  name: x\n", "Missing required field: artifacts/files"),
    ],
)
def test_buildspec_refuses(text, message):
    with pytest.raises(buildspec.BuildspecError, match=message.replace("[", r"\[")):
        buildspec.parse(text)


def test_buildspec_artifact_entries(tmp_path):
    (tmp_path / "out" / "a").mkdir(parents=True)
    (tmp_path / "out" / "top.txt").write_text("t")
    (tmp_path / "out" / "a" / "deep.txt").write_text("d")
    spec = buildspec.parse(
        "version: 0.2\nartifacts:\n  files: ['**/*']\n  base-directory: out\n  discard-paths: yes\n"
    )
    assert [name for _, name in buildspec.artifact_entries(tmp_path, spec.artifacts)] == [
        "deep.txt",
        "top.txt",
    ]
    parsed = buildspec.parse("version: 0.2\nphases:\n  install:\n    runtime-versions:\n      nodejs: 20\n")
    assert parsed.notes and "nodejs" in parsed.notes[0]


# ---- container mode ----------------------------------------------------------------------------------------


@pytest.mark.skipif(
    os.environ.get("LOCALCLOUD_RUNTIME") != "container" or not containers.available()[0],
    reason="container mode: LOCALCLOUD_RUNTIME=container as root with podman",
)
def test_container_build(tmp_path_factory):
    env = {"LOCALCLOUD_RUNTIME": "container"}
    for cloud in start_cloud(tmp_path_factory, "codebuild-containers", env):
        name = unique("cb-container")
        spec = (
            "version: 0.2\nphases:\n  build:\n    commands:\n      - export X=carried\n"
            '      - test "$X" = carried && git --version && terraform version && zip -v >/dev/null\n'
            "      - test -f /etc/ssl/certs/ca-certificates.crt && pwd\n"
        )
        make_project(cloud, name, build_role(cloud, name, logs_grant(name)), spec=spec)
        build = finished(cloud, cloud.client("codebuild").start_build(projectName=name)["build"]["id"], 900)
        assert build["buildStatus"] == "SUCCEEDED", (build["phases"], log_text(cloud, build))
        bad = unique("cb-image")
        make_project(cloud, bad, build_role(cloud, bad), spec=spec)
        cloud.client("codebuild").update_project(
            name=bad,
            environment={
                "type": "LINUX_CONTAINER",
                "image": "example.org/nope:1",
                "computeType": "BUILD_GENERAL1_SMALL",
            },
        )
        failed = finished(cloud, cloud.client("codebuild").start_build(projectName=bad)["build"]["id"], 120)
        assert phases(failed)[2] == ("PROVISIONING", "FAILED")
        assert "Unable to pull customer's container image" in context(failed, "PROVISIONING")["message"]
        # LOCAL_CUSTOM_CACHE: cache.paths outlive the build (pip's cache: the next build downloads nothing).
        cached = unique("cb-cache")
        cache_spec = (
            "version: 0.2\nphases:\n  build:\n    commands:\n"
            "      - ls /root/.cache/pip/marker || true\n"
            "      - mkdir -p /root/.cache/pip && touch /root/.cache/pip/marker\n"
            "cache:\n  paths:\n    - /root/.cache/pip/**/*\n"
        )
        make_project(
            cloud,
            cached,
            build_role(cloud, cached, logs_grant(cached)),
            spec=cache_spec,
            cache={"type": "LOCAL", "modes": ["LOCAL_CUSTOM_CACHE"]},
        )
        first, second = (
            finished(cloud, cloud.client("codebuild").start_build(projectName=cached)["build"]["id"], 120)
            for _ in range(2)
        )
        assert "/root/.cache/pip/marker" not in log_text(cloud, first).splitlines()
        assert "/root/.cache/pip/marker" in log_text(cloud, second).splitlines()
