"""CodePipeline executes the declared pipeline (localcloud/pipeline/codepipeline.py): stages in order, actions
by runOrder, failures, SUPERSEDED, stops, IAM of the pipeline's role, and the API's answers.

In-process moto (mock_aws) with the executor's API patch applied; the CodeCommit source (A's
repos.source_revision) and the CodeBuild builds (B's start_build/wait_build) are stubbed, so each test
decides what a commit holds and how each build ends.
"""

from __future__ import annotations

import io
import json
import re
import threading
import time
import zipfile
from datetime import datetime

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.codepipeline.responses import CodePipelineResponse

from localcloud import config, procs
from localcloud.codecommit import repos
from localcloud.patches import codepipeline as api_patch
from localcloud.pipeline import codebuild

ACCOUNT, REGION = config.ACCOUNT_ID, config.REGION
PIPELINE = "render-farm-pipeline-under-test"  # longer than 20 characters: the artifact prefix is cut
BUCKET = "pipeline-artifacts"
REPOSITORY = "render-farm"
COMMIT = "0123456789abcdef0123456789abcdef01234567"
WAIT_S = 20


def _zip(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


SOURCE_ZIP = _zip({"README.md": "hello\n", "deploy/buildspec-test.yml": "version: 0.2\n"})


class Builds:
    """B's start_build/wait_build stubbed: records each build, and ends it as the test says (SUCCEEDED at
    once unless the project is held or set to fail)."""

    def __init__(self):
        self.started: list[dict] = []
        self.finished: list[str] = []
        self.held: dict[str, threading.Event] = {}
        self.failing: set[str] = set()
        self.lock = threading.Lock()

    def hold(self, project: str) -> threading.Event:
        self.held[project] = threading.Event()
        return self.held[project]

    def start_build(
        self,
        project_name,
        *,
        source,
        initiator,
        source_version=None,
        output_artifacts=None,
        environment_overrides=None,
        account_id=ACCOUNT,
        region=REGION,
    ):
        build_id = f"{project_name}:{len(self.started):04d}-build"
        with self.lock:
            self.started.append(
                {
                    "id": build_id,
                    "project": project_name,
                    "source": source,
                    "initiator": initiator,
                    "source_version": source_version,
                    "output_artifacts": output_artifacts,
                    "environment_overrides": environment_overrides,
                    "at": time.monotonic(),
                }
            )
        return build_id

    def wait_build(self, build_id, timeout_s):
        project = build_id.split(":")[0]
        if project in self.held:
            assert self.held[project].wait(WAIT_S), f"{project} was never released"
        with self.lock:
            self.finished.append(build_id)
        if project in self.failing:
            phase = {
                "phaseType": "BUILD",
                "phaseStatus": "FAILED",
                "contexts": [
                    {
                        "statusCode": "COMMAND_EXECUTION_ERROR",
                        "message": "Error while executing command: pytest. Reason: exit status 1",
                    }
                ],
            }
            ok = {"phaseType": "INSTALL", "phaseStatus": "SUCCEEDED", "contexts": []}
            return {"id": build_id, "buildStatus": "FAILED", "phases": [ok, phase]}
        return {"id": build_id, "buildStatus": "SUCCEEDED", "phases": [], "exportedEnvironmentVariables": []}

    def projects(self) -> list[str]:
        return [b["project"] for b in self.started]


def trust(pipeline_arn: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "codepipeline.amazonaws.com"},
                    "Action": "sts:AssumeRole",
                    "Condition": {
                        "StringEquals": {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": pipeline_arn}
                    },
                }
            ],
        }
    )


def role_policy(
    key_arn: str, *, codebuild_actions=("codebuild:StartBuild", "codebuild:BatchGetBuilds")
) -> dict:
    """What modules/pipeline/iam.tf grants the pipeline role."""
    statements = [
        {
            "Effect": "Allow",
            "Action": ["s3:GetObject", "s3:PutObject"],
            "Resource": f"arn:aws:s3:::{BUCKET}/*",
        },
        {"Effect": "Allow", "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": key_arn},
        {
            "Effect": "Allow",
            "Action": [
                "codecommit:GetBranch",
                "codecommit:GetCommit",
                "codecommit:UploadArchive",
                "codecommit:GetUploadArchiveStatus",
            ],
            "Resource": f"arn:aws:codecommit:{REGION}:{ACCOUNT}:{REPOSITORY}",
        },
    ]
    if codebuild_actions:
        statements.append(
            {
                "Effect": "Allow",
                "Action": list(codebuild_actions),
                "Resource": f"arn:aws:codebuild:{REGION}:{ACCOUNT}:project/*",
            }
        )
    return {"Version": "2012-10-17", "Statement": statements}


def source_stage() -> dict:
    return {
        "name": "Source",
        "actions": [
            {
                "name": "Source",
                "actionTypeId": {
                    "category": "Source",
                    "owner": "AWS",
                    "provider": "CodeCommit",
                    "version": "1",
                },
                "outputArtifacts": [{"name": "source"}],
                "configuration": {
                    "RepositoryName": REPOSITORY,
                    "BranchName": "main",
                    "PollForSourceChanges": "false",
                },
                "namespace": "SourceVariables",
            }
        ],
    }


def build_action(name: str, project: str, run_order: int = 1, **extra) -> dict:
    return {
        "name": name,
        "actionTypeId": {"category": "Build", "owner": "AWS", "provider": "CodeBuild", "version": "1"},
        "inputArtifacts": [{"name": "source"}],
        "configuration": {"ProjectName": project, **extra.pop("configuration", {})},
        "runOrder": run_order,
        **extra,
    }


def farm_stages() -> list[dict]:
    """The module's pipeline: Source -> Build (LintAndUnitTests) -> Deploy (ApplyAndShiftAliases)."""
    return [
        source_stage(),
        {"name": "Build", "actions": [build_action("LintAndUnitTests", "farm-test")]},
        {"name": "Deploy", "actions": [build_action("ApplyAndShiftAliases", "farm-deploy")]},
    ]


class World:
    def __init__(self, builds: Builds):
        self.builds = builds
        self.iam = boto3.client("iam", region_name=REGION)
        self.s3 = boto3.client("s3", region_name=REGION)
        self.kms = boto3.client("kms", region_name=REGION)
        self.client = boto3.client("codepipeline", region_name=REGION)
        self.key_arn = self.kms.create_key()["KeyMetadata"]["Arn"]
        self.s3.create_bucket(Bucket=BUCKET)

    def pipeline(
        self, stages: list[dict], *, name: str = PIPELINE, policy: dict | None = None, **extra
    ) -> str:
        pipeline_arn = f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:{name}"
        role = self.iam.create_role(
            RoleName=f"{name}-role", AssumeRolePolicyDocument=extra.pop("trust", None) or trust(pipeline_arn)
        )
        document = policy or role_policy(self.key_arn)
        self.iam.put_role_policy(
            RoleName=f"{name}-role", PolicyName="pipeline", PolicyDocument=json.dumps(document)
        )
        self.client.create_pipeline(
            pipeline={
                "name": name,
                "roleArn": role["Role"]["Arn"],
                "artifactStore": {
                    "type": "S3",
                    "location": BUCKET,
                    "encryptionKey": {"id": self.key_arn, "type": "KMS"},
                },
                "stages": stages,
                **extra,
            }
        )
        return name

    def start(self, name: str = PIPELINE) -> str:
        return self.client.start_pipeline_execution(name=name)["pipelineExecutionId"]

    def execution(self, execution_id: str, name: str = PIPELINE) -> dict:
        return self.client.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id)[
            "pipelineExecution"
        ]

    def wait(self, execution_id: str, *statuses: str, name: str = PIPELINE) -> dict:
        statuses = statuses or ("Succeeded", "Failed", "Stopped", "Superseded")
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            found = self.execution(execution_id, name)
            if found["status"] in statuses:
                return found
            time.sleep(0.05)
        raise AssertionError(f"{execution_id} never reached {statuses}: {self.execution(execution_id, name)}")

    def actions(self, execution_id: str, name: str = PIPELINE) -> dict[str, dict]:
        details = self.client.list_action_executions(
            pipelineName=name, filter={"pipelineExecutionId": execution_id}
        )["actionExecutionDetails"]
        return {d["actionName"]: d for d in details}

    def stage_states(self, name: str = PIPELINE) -> dict[str, dict]:
        return {s["stageName"]: s for s in self.client.get_pipeline_state(name=name)["stageStates"]}

    def until(self, predicate, what: str):
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            value = predicate()
            if value:
                return value
            time.sleep(0.05)
        raise AssertionError(f"never: {what}")


@pytest.fixture
def world(monkeypatch):
    builds = Builds()
    revision = repos.SourceRevision(
        COMMIT, "Make the tile Lambda say hello", "Dev <dev@example.com>", SOURCE_ZIP
    )
    calls = []

    def source_revision(repository_name, branch):
        calls.append((repository_name, branch))
        if repository_name != REPOSITORY:
            raise repos.NotFound(f"{repository_name} does not exist")
        return revision

    monkeypatch.setattr(repos, "source_revision", source_revision)
    monkeypatch.setattr(codebuild, "start_build", builds.start_build)
    monkeypatch.setattr(codebuild, "wait_build", builds.wait_build)
    monkeypatch.setattr(procs, "endpoint", lambda: None)  # boto3's default endpoint: mock_aws answers
    for name in (
        "call_action",
        "start_pipeline_execution",
        "get_pipeline_execution",
        "list_pipeline_executions",
    ):
        monkeypatch.setattr(CodePipelineResponse, name, getattr(CodePipelineResponse, name))
    for name in ("get_pipeline_state", "list_action_executions", "stop_pipeline_execution"):
        monkeypatch.setattr(CodePipelineResponse, name, None, raising=False)
    api_patch.apply()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "admin")  # mock_aws takes any
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield World(builds)
        for held in builds.held.values():
            held.set()  # no build thread is left waiting after the test


# --- order ----------------------------------------------------------------------------------------------


def test_the_farm_pipeline_runs_source_build_deploy(world):
    world.pipeline(farm_stages())
    execution_id = world.start()
    done = world.wait(execution_id)
    assert done["status"] == "Succeeded"
    assert world.builds.projects() == ["farm-test", "farm-deploy"]
    test_build, deploy_build = world.builds.started
    assert test_build["initiator"] == f"codepipeline/{PIPELINE}"
    assert test_build["source_version"] == COMMIT
    assert deploy_build["source"] == test_build["source"]  # both build the source artifact
    assert test_build["output_artifacts"] is None  # no output artifacts declared
    assert {s: state["latestExecution"]["status"] for s, state in world.stage_states().items()} == {
        "Source": "Succeeded",
        "Build": "Succeeded",
        "Deploy": "Succeeded",
    }


def test_stages_in_order_and_run_order_groups(world, monkeypatch):
    both_running = threading.Barrier(2, timeout=WAIT_S)

    original_wait = world.builds.wait_build

    def wait_build(build_id, timeout_s):
        if build_id.split(":")[0] in ("lint", "unit"):
            both_running.wait()  # only passes when lint and unit run at the same time
        return original_wait(build_id, timeout_s)

    monkeypatch.setattr(codebuild, "wait_build", wait_build)
    stages = [
        source_stage(),
        {
            "name": "Build",
            "actions": [
                build_action("Lint", "lint", 1),
                build_action("Unit", "unit", 1),
                build_action("Package", "package", 2),
            ],
        },
        {"name": "Deploy", "actions": [build_action("Apply", "apply", 1)]},
    ]
    world.pipeline(stages)
    assert world.wait(world.start())["status"] == "Succeeded"
    projects = world.builds.projects()
    assert sorted(projects[:2]) == ["lint", "unit"] and projects[2:] == ["package", "apply"]
    finished = world.builds.finished
    # runOrder 2 starts only once both of runOrder 1 finished; the next stage after the whole stage
    assert finished.index("package:0002-build") > max(finished.index(b) for b in finished[:2])
    starts = {b["project"]: b["at"] for b in world.builds.started}
    assert starts["apply"] >= starts["package"]


# --- failure --------------------------------------------------------------------------------------------


def test_a_failed_build_fails_the_stage_and_the_execution(world):
    world.builds.failing.add("farm-test")
    world.pipeline(farm_stages())
    execution_id = world.start()
    done = world.wait(execution_id)
    assert done["status"] == "Failed"
    assert "LintAndUnitTests" in done["statusSummary"]
    assert world.builds.projects() == ["farm-test"]  # Deploy never started
    states = world.stage_states()
    assert states["Build"]["latestExecution"] == {"pipelineExecutionId": execution_id, "status": "Failed"}
    assert "latestExecution" not in states["Deploy"]
    action = states["Build"]["actionStates"][0]["latestExecution"]
    assert action["status"] == "Failed"
    assert action["externalExecutionId"] == "farm-test:0000-build"
    assert action["errorDetails"] == {
        "code": "JobFailed",
        "message": "Build terminated with state: FAILED. Phase: BUILD, Code: COMMAND_EXECUTION_ERROR, "
        "Message: Error while executing command: pytest. Reason: exit status 1",
    }
    assert set(world.actions(execution_id)) == {"Source", "LintAndUnitTests"}


def test_a_role_without_codebuild_start_build_fails_the_action_naming_it(world):
    world.pipeline(
        farm_stages(), policy=role_policy(world.key_arn, codebuild_actions=("codebuild:BatchGetBuilds",))
    )
    execution_id = world.start()
    assert world.wait(execution_id)["status"] == "Failed"
    assert world.builds.started == []
    error = world.actions(execution_id)["LintAndUnitTests"]["output"]["executionResult"]["errorDetails"]
    role_session = f"arn:aws:sts::{ACCOUNT}:assumed-role/{PIPELINE}-role/{execution_id}"
    assert error["message"].startswith(
        f"Error calling startBuild: User: {role_session} is not authorized to perform: codebuild:StartBuild "
        f"on resource: arn:aws:codebuild:{REGION}:{ACCOUNT}:project/farm-test"
    )


def test_a_role_without_codecommit_fails_the_source_action(world):
    policy = role_policy(world.key_arn)
    policy["Statement"] = [s for s in policy["Statement"] if "codecommit:GetBranch" not in s["Action"]]
    world.pipeline(farm_stages(), policy=policy)
    execution_id = world.start()
    assert world.wait(execution_id)["status"] == "Failed"
    error = world.actions(execution_id)["Source"]["output"]["executionResult"]["errorDetails"]
    assert error["code"] == "PermissionError"
    assert f"CodeCommit repository named {REPOSITORY}" in error["message"]
    assert "is not authorized to perform: codecommit:GetBranch" in error["message"]


def test_a_trust_policy_for_another_pipeline_fails_the_execution(world):
    other = f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:another-pipeline"
    world.pipeline(farm_stages(), trust=trust(other))
    execution_id = world.start()
    assert world.wait(execution_id)["status"] == "Failed"
    error = world.actions(execution_id)["Source"]["output"]["executionResult"]["errorDetails"]
    assert error["message"].startswith(
        f"CodePipeline is not authorized to perform AssumeRole on role arn:aws:iam::{ACCOUNT}:role/"
    )


def test_other_providers_fail_the_action(world):
    approval = {
        "name": "Approve",
        "actionTypeId": {"category": "Approval", "owner": "AWS", "provider": "Manual", "version": "1"},
    }
    world.pipeline([source_stage(), {"name": "Gate", "actions": [approval]}])
    execution_id = world.start()
    assert world.wait(execution_id)["status"] == "Failed"
    error = world.actions(execution_id)["Approve"]["output"]["executionResult"]["errorDetails"]
    assert error["message"] == "provider Manual (Approval, AWS) is not executed by the local cloud"


def test_other_execution_modes_are_refused(world):
    world.pipeline(farm_stages(), name="queued-pipeline", pipelineType="V2", executionMode="QUEUED")
    with pytest.raises(ClientError) as refused:
        world.start("queued-pipeline")
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert "QUEUED is not executed by the local cloud" in refused.value.response["Error"]["Message"]


# --- the source artifact --------------------------------------------------------------------------------


def test_the_source_artifact_is_in_the_store_with_sse_kms(world):
    world.pipeline(farm_stages())
    execution_id = world.start()
    world.wait(execution_id)
    source = world.actions(execution_id)["Source"]
    (artifact,) = source["output"]["outputArtifacts"]
    location = artifact["s3location"]
    assert artifact["name"] == "source" and location["bucket"] == BUCKET
    assert re.fullmatch(rf"{PIPELINE[:20]}/source/[A-Za-z0-9]{{7}}", location["key"])
    head = world.s3.head_object(Bucket=BUCKET, Key=location["key"])
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == world.key_arn
    assert world.s3.get_object(Bucket=BUCKET, Key=location["key"])["Body"].read() == SOURCE_ZIP
    assert world.builds.started[0]["source"] == (BUCKET, location["key"])


# --- the API's answers ----------------------------------------------------------------------------------


def test_execution_shapes_and_times(world):
    world.pipeline(farm_stages())
    before = datetime.now().astimezone()
    execution_id = world.start()
    done = world.wait(execution_id)
    assert done["pipelineName"] == PIPELINE and done["pipelineVersion"] == 1
    assert done["trigger"] == {
        "triggerType": "StartPipelineExecution",
        "triggerDetail": f"arn:aws:iam::{ACCOUNT}:root",
    }
    assert done["executionMode"] == "SUPERSEDED"
    (revision,) = done["artifactRevisions"]
    assert revision["name"] == "source" and revision["revisionId"] == COMMIT
    assert revision["revisionSummary"] == "Make the tile Lambda say hello"
    assert revision["created"].timestamp() >= before.timestamp() - 1

    (summary,) = world.client.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"]
    assert summary["pipelineExecutionId"] == execution_id and summary["status"] == "Succeeded"
    assert before.timestamp() - 1 <= summary["startTime"].timestamp() <= summary["lastUpdateTime"].timestamp()
    assert summary["sourceRevisions"] == [
        {
            "actionName": "Source",
            "revisionId": COMMIT,
            "revisionSummary": "Make the tile Lambda say hello",
            "revisionUrl": world.actions(execution_id)["Source"]["output"]["executionResult"][
                "externalExecutionUrl"
            ],
        }
    ]

    actions = world.actions(execution_id)
    source, test = actions["Source"], actions["LintAndUnitTests"]
    assert source["stageName"] == "Source" and source["status"] == "Succeeded"
    assert source["startTime"] <= source["lastUpdateTime"] <= test["startTime"]
    assert source["input"]["actionTypeId"]["provider"] == "CodeCommit"
    assert source["input"]["configuration"]["RepositoryName"] == REPOSITORY
    assert source["input"]["roleArn"] == f"arn:aws:iam::{ACCOUNT}:role/{PIPELINE}-role"
    assert source["input"]["namespace"] == "SourceVariables"
    result = source["output"]["executionResult"]
    assert result["externalExecutionId"] == COMMIT
    assert result["externalExecutionSummary"] == "Make the tile Lambda say hello"
    assert source["output"]["outputVariables"] == {
        "BranchName": "main",
        "CommitId": COMMIT,
        "CommitMessage": "Make the tile Lambda say hello",
        "RepositoryName": REPOSITORY,
    }
    assert test["input"]["inputArtifacts"] == source["output"]["outputArtifacts"]
    assert test["output"]["executionResult"]["externalExecutionId"] == "farm-test:0000-build"

    state = world.client.get_pipeline_state(name=PIPELINE)
    assert state["pipelineName"] == PIPELINE and isinstance(state["created"], datetime)
    stages = {s["stageName"]: s for s in state["stageStates"]}
    assert "inboundTransitionState" not in stages["Source"]
    assert stages["Build"]["inboundTransitionState"]["enabled"] is True
    source_state = stages["Source"]["actionStates"][0]
    assert source_state["currentRevision"]["revisionId"] == COMMIT
    assert source_state["latestExecution"]["summary"] == "Make the tile Lambda say hello"
    assert source_state["latestExecution"]["lastStatusChange"].timestamp() >= before.timestamp() - 1


def test_resolved_configuration_uses_earlier_output_variables(world):
    variables = json.dumps([{"name": "COMMIT", "value": "#{SourceVariables.CommitId}"}])
    stages = [
        source_stage(),
        {
            "name": "Build",
            "actions": [build_action("Test", "farm-test", configuration={"EnvironmentVariables": variables})],
        },
    ]
    world.pipeline(stages)
    execution_id = world.start()
    world.wait(execution_id)
    test = world.actions(execution_id)["Test"]
    assert test["input"]["configuration"]["EnvironmentVariables"] == variables
    resolved = json.loads(test["input"]["resolvedConfiguration"]["EnvironmentVariables"])
    assert resolved == [{"name": "COMMIT", "value": COMMIT}]
    assert world.builds.started[0]["environment_overrides"] == [
        {"type": "PLAINTEXT", "name": "COMMIT", "value": COMMIT}
    ]


def test_list_pipeline_executions_pages_newest_first(world):
    world.pipeline(farm_stages())
    ids = []
    for _ in range(3):
        ids.append(world.start())
        world.wait(ids[-1])
    first = world.client.list_pipeline_executions(pipelineName=PIPELINE, maxResults=2)
    assert [s["pipelineExecutionId"] for s in first["pipelineExecutionSummaries"]] == ids[::-1][:2]
    rest = world.client.list_pipeline_executions(
        pipelineName=PIPELINE, maxResults=2, nextToken=first["nextToken"]
    )
    assert [s["pipelineExecutionId"] for s in rest["pipelineExecutionSummaries"]] == ids[:1]
    assert "nextToken" not in rest
    with pytest.raises(ClientError) as bad:
        world.client.list_pipeline_executions(pipelineName=PIPELINE, nextToken="bm90LWEtdG9rZW4=")
    assert bad.value.response["Error"]["Code"] == "InvalidNextTokenException"
    everything = world.client.list_action_executions(pipelineName=PIPELINE)["actionExecutionDetails"]
    assert len(everything) == 9 and everything[0]["pipelineExecutionId"] == ids[-1]


def test_unknown_pipeline_and_execution(world):
    with pytest.raises(ClientError) as missing:
        world.client.get_pipeline_state(name="nothing-here")
    assert missing.value.response["Error"]["Code"] == "PipelineNotFoundException"
    world.pipeline(farm_stages())
    with pytest.raises(ClientError) as unknown:
        world.execution("00000000-0000-0000-0000-000000000000")
    assert unknown.value.response["Error"]["Code"] == "PipelineExecutionNotFoundException"


# --- SUPERSEDED -----------------------------------------------------------------------------------------


def test_a_newer_execution_supersedes_one_waiting_for_a_stage(world):
    release = world.builds.hold("farm-test")
    world.pipeline(farm_stages())
    first = world.start()
    world.until(lambda: "farm-test" in world.builds.projects(), "the first build started")
    second = world.start()
    world.until(lambda: world.stage_states()["Build"].get("inboundExecution"), "the second waits for Build")
    inbound = world.stage_states()["Build"]["inboundExecution"]
    assert inbound == {"pipelineExecutionId": second, "status": "InProgress"}
    assert world.execution(second)["status"] == "InProgress"
    third = world.start()
    assert world.wait(second, "Superseded")["status"] == "Superseded"
    world.until(
        lambda: world.stage_states()["Build"].get("inboundExecution", {}).get("pipelineExecutionId") == third,
        "the third waits for Build",
    )
    release.set()
    assert world.wait(first)["status"] == "Succeeded"
    assert world.wait(third)["status"] == "Succeeded"
    assert set(world.actions(second)) == {"Source"}  # it never entered Build
    # the first goes on to Deploy as the third enters Build: two builds of each project, none of the second
    assert sorted(world.builds.projects()) == ["farm-deploy", "farm-deploy", "farm-test", "farm-test"]


# --- StopPipelineExecution ------------------------------------------------------------------------------


def test_stop_and_abandon(world):
    world.builds.hold("farm-test")
    world.pipeline(farm_stages())
    execution_id = world.start()
    world.until(lambda: "farm-test" in world.builds.projects(), "the build started")
    world.client.stop_pipeline_execution(
        pipelineName=PIPELINE, pipelineExecutionId=execution_id, abandon=True, reason="hotfix"
    )
    done = world.wait(execution_id)
    assert done["status"] == "Stopped"
    assert world.actions(execution_id)["LintAndUnitTests"]["status"] == "Abandoned"
    assert world.stage_states()["Build"]["latestExecution"]["status"] == "Stopped"
    (summary,) = world.client.list_pipeline_executions(pipelineName=PIPELINE)["pipelineExecutionSummaries"]
    assert summary["stopTrigger"] == {"reason": "hotfix"}
    with pytest.raises(ClientError) as again:
        world.client.stop_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution_id)
    assert again.value.response["Error"]["Code"] == "PipelineExecutionNotStoppableException"


def test_stop_and_wait(world):
    release = world.builds.hold("farm-test")
    world.pipeline(farm_stages())
    execution_id = world.start()
    world.until(lambda: "farm-test" in world.builds.projects(), "the build started")
    world.client.stop_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution_id)
    assert world.execution(execution_id)["status"] == "Stopping"
    with pytest.raises(ClientError) as duplicate:
        world.client.stop_pipeline_execution(pipelineName=PIPELINE, pipelineExecutionId=execution_id)
    assert duplicate.value.response["Error"]["Code"] == "DuplicatedStopRequestException"
    release.set()
    assert world.wait(execution_id)["status"] == "Stopped"
    assert world.actions(execution_id)["LintAndUnitTests"]["status"] == "Succeeded"  # it was let finish
    assert world.builds.projects() == ["farm-test"]  # Deploy never started


# --- against a real local cloud: A's git, B's builds, the IAM layer ------------------------------------

BUILDSPEC = """version: 0.2
phases:
  build:
    commands:
      - test -f README.md
      - grep -q hello README.md
"""


def test_a_push_runs_through_a_real_pipeline(cloud, tmp_path):
    from localcloud import lifecycle
    from tests.unit.localcloud.conftest import allow, unique, wait_for
    from tests.unit.localcloud.test_codecommit_git import git

    mark = lifecycle.error_mark(cloud.port, cloud.state_dir)
    iam, s3, kms = cloud.client("iam"), cloud.client("s3"), cloud.client("kms")
    key_arn = kms.create_key()["KeyMetadata"]["Arn"]
    bucket = unique("artifacts")
    s3.create_bucket(Bucket=bucket)
    repository = cloud.client("codecommit").create_repository(repositoryName=unique("repo"))[
        "repositoryMetadata"
    ]
    work = tmp_path / "work"
    work.mkdir()
    git("init", "-q", cwd=work)
    (work / "README.md").write_text("hello\n")
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", "say hello", cwd=work)
    commit = git("rev-parse", "HEAD", cwd=work).stdout.strip()
    keys = cloud.credentials
    git(
        "push",
        "-q",
        repository["cloneUrlHttp"],
        "HEAD:main",
        cwd=work,
        user=keys.access_key_id,
        password=keys.secret_access_key,
    )

    project = unique("project")
    build_role = iam.create_role(
        RoleName=unique("build"),
        AssumeRolePolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Principal": {"Service": "codebuild.amazonaws.com"},
                        "Action": "sts:AssumeRole",
                    }
                ],
            }
        ),
    )["Role"]
    build_grants = [
        allow(["s3:GetObject"], f"arn:aws:s3:::{bucket}/*"),
        allow(["kms:Decrypt"], key_arn),
        allow(["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"], "*"),
    ]
    iam.put_role_policy(
        RoleName=build_role["RoleName"],
        PolicyName="build",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": build_grants}),
    )
    cloud.client("codebuild").create_project(
        name=project,
        source={"type": "CODEPIPELINE", "buildspec": BUILDSPEC},
        artifacts={"type": "CODEPIPELINE"},
        environment={
            "type": "LINUX_CONTAINER",
            "image": "aws/codebuild/standard:7.0",
            "computeType": "BUILD_GENERAL1_SMALL",
        },
        serviceRole=build_role["Arn"],
    )
    name = unique("pipeline")
    pipeline_role = iam.create_role(
        RoleName=f"{name}-role",
        AssumeRolePolicyDocument=trust(f"arn:aws:codepipeline:{REGION}:{ACCOUNT}:{name}"),
    )["Role"]
    grants = role_policy(key_arn)
    for statement in grants["Statement"]:
        statement["Resource"] = (
            statement["Resource"]
            .replace(BUCKET, bucket)
            .replace(f":{REPOSITORY}", f":{repository['repositoryName']}")
        )
    iam.put_role_policy(
        RoleName=pipeline_role["RoleName"], PolicyName="pipeline", PolicyDocument=json.dumps(grants)
    )
    stages = [source_stage(), {"name": "Build", "actions": [build_action("Test", project)]}]
    stages[0]["actions"][0]["configuration"]["RepositoryName"] = repository["repositoryName"]
    client = cloud.client("codepipeline")
    client.create_pipeline(
        pipeline={
            "name": name,
            "roleArn": pipeline_role["Arn"],
            "artifactStore": {
                "type": "S3",
                "location": bucket,
                "encryptionKey": {"id": key_arn, "type": "KMS"},
            },
            "stages": stages,
        }
    )
    execution_id = client.start_pipeline_execution(name=name)["pipelineExecutionId"]

    def ended():
        found = client.get_pipeline_execution(pipelineName=name, pipelineExecutionId=execution_id)
        return found["pipelineExecution"]["status"] != "InProgress" and found["pipelineExecution"]

    done = wait_for(ended, timeout=180)
    details = {
        d["actionName"]: d
        for d in client.list_action_executions(
            pipelineName=name, filter={"pipelineExecutionId": execution_id}
        )["actionExecutionDetails"]
    }
    assert done["status"] == "Succeeded", details
    assert done["artifactRevisions"][0]["revisionId"] == commit
    location = details["Source"]["output"]["outputArtifacts"][0]["s3location"]
    head = s3.head_object(Bucket=bucket, Key=location["key"])
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn
    build_id = details["Test"]["output"]["executionResult"]["externalExecutionId"]
    (build,) = cloud.client("codebuild").batch_get_builds(ids=[build_id])["builds"]
    assert build["buildStatus"] == "SUCCEEDED" and build["initiator"] == f"codepipeline/{name}"
    assert lifecycle.new_errors(mark, cloud.port, cloud.state_dir) == []
