"""CodeDeploy for Lambda moves the alias as the deployment group's role: hooks, failures, rollback, API."""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime

import pytest
from botocore.exceptions import ClientError

from localcloud import config, lifecycle
from localcloud.pipeline import codedeploy as engine
from tests.unit.localcloud.conftest import (
    LAMBDA_LOGS,
    allow,
    raw_body,
    start_cloud,
    unique,
    wait_for,
    workload_role,
)

HOOK_TIMEOUT_S = 3
APP_SOURCE = "def handler(event, context):\n    return 'ok'\n"
# A hook reports what its environment says (Succeeded, Failed, or nothing at all).
HOOK_SOURCE = """
import os
import boto3


def handler(event, context):
    status = os.environ["HOOK_STATUS"]
    if status != "silent":
        boto3.client("codedeploy").put_lifecycle_event_hook_execution_status(
            deploymentId=event["DeploymentId"],
            lifecycleEventHookExecutionId=event["LifecycleEventHookExecutionId"],
            status=status,
        )
"""
APPSPEC = """version: 0.0
Resources:
  - Fn:
      Type: AWS::Lambda::Function
      Properties:
        Name: "{name}"
        Alias: "live"
        CurrentVersion: "{current}"
        TargetVersion: "{target}"
"""


def _load_shift_aliases():
    from harness import aliases

    return aliases


@pytest.fixture(scope="module")
def cloud(tmp_path_factory):
    env = {
        "LOCALCLOUD_RUNTIME": "process",
        "LOCALCLOUD_BATCH_CONCURRENCY": "2",
        engine.HOOK_TIMEOUT_ENV: str(HOOK_TIMEOUT_S),
    }
    clouds = start_cloud(tmp_path_factory, "codedeploy", env)
    started = next(clouds)
    try:
        yield started
        # Every deployment thread ended in a status: nothing reached the server's error counter.
        errors = lifecycle.errors(started.port)
        assert errors["count"] == 0, errors["recent"]
    finally:
        next(clouds, None)


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("main.py", source)
    return buffer.getvalue()


def _trust_codedeploy(group_arn: str) -> str:
    condition = {
        "StringEquals": {"aws:SourceAccount": config.ACCOUNT_ID},
        "ArnLike": {"aws:SourceArn": group_arn},
    }
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "codedeploy.amazonaws.com"},
        "Action": "sts:AssumeRole",
        "Condition": condition,
    }
    return json.dumps({"Version": "2012-10-17", "Statement": [statement]})


class Setup:
    """A function with versions 1 and 2 and alias live -> 1; a Lambda application and a deployment group whose
    service role is what modules/pipeline gives CodeDeploy (plus invoking the hooks); hook functions."""

    def __init__(
        self, cloud, *, update_alias: bool = True, config_name: str = "CodeDeployDefault.LambdaAllAtOnce"
    ):
        self.cloud = cloud
        self.lam, self.cd, iam = cloud.client("lambda"), cloud.client("codedeploy"), cloud.client("iam")
        self.function = unique("fn")
        self.application, self.group = unique("app"), unique("group")
        prefix = f"arn:aws:codedeploy:{config.REGION}:{config.ACCOUNT_ID}"
        self.group_arn = f"{prefix}:deploymentgroup:{self.application}/{self.group}"
        fn_role = workload_role(cloud, "lambda.amazonaws.com", LAMBDA_LOGS)
        self.lam.create_function(
            FunctionName=self.function,
            Runtime="python3.11",
            Role=fn_role,
            Handler="main.handler",
            Code={"ZipFile": _zip(APP_SOURCE)},
        )
        self.lam.publish_version(FunctionName=self.function, Description="one")
        self.lam.update_function_code(FunctionName=self.function, ZipFile=_zip(APP_SOURCE + "# two\n"))
        self.lam.publish_version(FunctionName=self.function, Description="two")
        self.lam.create_alias(FunctionName=self.function, Name="live", FunctionVersion="1")
        function_arn = f"arn:aws:lambda:{config.REGION}:{config.ACCOUNT_ID}:function:{self.function}"
        alias_actions = ["lambda:GetAlias", "lambda:GetProvisionedConcurrencyConfig"]
        alias_actions += ["lambda:UpdateAlias"] if update_alias else []
        hook_arns = f"arn:aws:lambda:{config.REGION}:{config.ACCOUNT_ID}:function:hook-*"
        policy = {
            "Version": "2012-10-17",
            "Statement": [
                allow(alias_actions, [function_arn, f"{function_arn}:*"]),
                allow("lambda:InvokeFunction", [hook_arns, f"{hook_arns}:*"]),
                allow("s3:GetObject", "arn:aws:s3:::*/*"),
            ],
        }
        role_name = unique("codedeploy")
        self.role = iam.create_role(
            RoleName=role_name, AssumeRolePolicyDocument=_trust_codedeploy(self.group_arn)
        )["Role"]["Arn"]
        iam.put_role_policy(RoleName=role_name, PolicyName="shift-aliases", PolicyDocument=json.dumps(policy))
        self.cd.create_application(applicationName=self.application, computePlatform="Lambda")
        self.cd.create_deployment_group(
            applicationName=self.application,
            deploymentGroupName=self.group,
            serviceRoleArn=self.role,
            deploymentConfigName=config_name,
            deploymentStyle={"deploymentType": "BLUE_GREEN", "deploymentOption": "WITH_TRAFFIC_CONTROL"},
            autoRollbackConfiguration={
                "enabled": True,
                "events": ["DEPLOYMENT_FAILURE", "DEPLOYMENT_STOP_ON_REQUEST"],
            },
        )

    def hook(self, status: str) -> str:
        """A hook function reporting `status` ("silent": never reports), as a role that may report."""
        role = workload_role(
            self.cloud,
            "lambda.amazonaws.com",
            LAMBDA_LOGS,
            allow("codedeploy:PutLifecycleEventHookExecutionStatus", self.group_arn),
        )
        name = unique("hook")
        self.lam.create_function(
            FunctionName=name,
            Runtime="python3.11",
            Role=role,
            Handler="main.handler",
            Code={"ZipFile": _zip(HOOK_SOURCE)},
            Timeout=30,
            Environment={"Variables": {"HOOK_STATUS": status}},
        )
        return name

    def deploy(
        self, current: str = "1", target: str = "2", hooks: dict[str, str] | None = None, **extra
    ) -> str:
        content = APPSPEC.format(name=self.function, current=current, target=target)
        if hooks:
            content += "Hooks:\n" + "".join(f"  - {event}: {fn}\n" for event, fn in hooks.items())
        revision = {"revisionType": "AppSpecContent", "appSpecContent": {"content": content}}
        return self.create(revision, **extra)

    def create(self, revision: dict, **extra) -> str:
        return self.cd.create_deployment(
            applicationName=self.application, deploymentGroupName=self.group, revision=revision, **extra
        )["deploymentId"]

    def wait(self, deployment_id: str, timeout: float = 30) -> dict:
        def done():
            info = self.cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
            return info if info["status"] in ("Succeeded", "Failed", "Stopped") else None

        return wait_for(done, timeout=timeout, interval=0.2)

    def alias_version(self) -> str:
        return self.lam.get_alias(FunctionName=self.function, Name="live")["FunctionVersion"]


def test_shift_aliases_moves_the_alias_and_get_deployment_answers_aws_shapes(cloud):
    setup = Setup(cloud)
    shift_aliases = _load_shift_aliases()
    lam, cd = cloud.client("lambda"), cloud.client("codedeploy")
    said = shift_aliases.shift(lam, cd, setup.application, setup.group, setup.function, "live")
    assert said.startswith(f"{setup.function}:live 1 -> 2 (d-")
    assert setup.alias_version() == "2"
    assert shift_aliases.shift(lam, cd, setup.application, setup.group, setup.function, "live").endswith(
        "already at version 2"
    )

    deployment_id = said.rsplit("(", 1)[1].rstrip(")")
    info = cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
    assert info["status"] == "Succeeded" and info["creator"] == "user" and info["computePlatform"] == "Lambda"
    assert info["deploymentConfigName"] == "CodeDeployDefault.LambdaAllAtOnce"
    assert (info["applicationName"], info["deploymentGroupName"]) == (setup.application, setup.group)
    assert info["description"] == f"{setup.function}:live 1 -> 2"
    assert (
        info["revision"]["revisionType"] == "AppSpecContent"
        and len(info["revision"]["appSpecContent"]["sha256"]) == 64
    )
    assert info["deploymentOverview"] == {
        "Pending": 0,
        "InProgress": 0,
        "Succeeded": 1,
        "Failed": 0,
        "Skipped": 0,
        "Ready": 0,
    }
    assert all(isinstance(info[k], datetime) for k in ("createTime", "startTime", "completeTime"))
    raw = raw_body(cd, "GetDeployment", deploymentId=deployment_id)["deploymentInfo"]
    assert all(
        isinstance(raw[k], float) for k in ("createTime", "startTime", "completeTime")
    )  # epoch seconds
    assert "errorInformation" not in info
    assert (
        cd.batch_get_deployments(deploymentIds=[deployment_id])["deploymentsInfo"][0]["deploymentId"]
        == deployment_id
    )
    listed = cd.list_deployments(
        applicationName=setup.application, deploymentGroupName=setup.group, includeOnlyStatuses=["Succeeded"]
    )
    assert listed["deployments"] == [deployment_id]

    (target_id,) = cd.list_deployment_targets(deploymentId=deployment_id)["targetIds"]
    assert target_id == f"{setup.function}:live"
    target = cd.get_deployment_target(deploymentId=deployment_id, targetId=target_id)["deploymentTarget"]
    assert target["deploymentTargetType"] == "LambdaTarget"
    events = {e["lifecycleEventName"]: e["status"] for e in target["lambdaTarget"]["lifecycleEvents"]}
    assert events == {
        "BeforeAllowTraffic": "Skipped",
        "AllowTraffic": "Succeeded",
        "AfterAllowTraffic": "Skipped",
    }
    assert target["lambdaTarget"]["lambdaFunctionInfo"]["targetVersion"] == "2"


def test_a_before_hook_reporting_failed_fails_the_deployment_and_leaves_the_alias(cloud):
    setup = Setup(cloud)
    ok, failing = setup.hook("Succeeded"), setup.hook("Failed")
    info = setup.wait(setup.deploy(hooks={"BeforeAllowTraffic": failing, "AfterAllowTraffic": ok}))
    assert info["status"] == "Failed"
    assert info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    assert (
        failing in info["errorInformation"]["message"]
        and "reported Failed" in info["errorInformation"]["message"]
    )
    assert setup.alias_version() == "1"


def test_hooks_that_succeed_let_the_deployment_through(cloud):
    setup = Setup(cloud)
    ok = setup.hook("Succeeded")
    deployment_id = setup.deploy(hooks={"BeforeAllowTraffic": ok, "AfterAllowTraffic": ok})
    assert setup.wait(deployment_id)["status"] == "Succeeded"
    assert setup.alias_version() == "2"
    target = setup.cd.get_deployment_target(deploymentId=deployment_id, targetId=f"{setup.function}:live")
    events = [
        (e["lifecycleEventName"], e["status"])
        for e in target["deploymentTarget"]["lambdaTarget"]["lifecycleEvents"]
    ]
    assert events == [
        ("BeforeAllowTraffic", "Succeeded"),
        ("AllowTraffic", "Succeeded"),
        ("AfterAllowTraffic", "Succeeded"),
    ]


def test_a_hook_that_never_reports_fails_after_the_timeout_and_holds_the_group_meanwhile(cloud):
    setup = Setup(cloud)
    silent = setup.hook("silent")
    deployment_id = setup.deploy(hooks={"BeforeAllowTraffic": silent})
    with pytest.raises(ClientError) as refused:
        setup.deploy()
    assert refused.value.response["Error"]["Code"] == "DeploymentLimitExceededException"
    assert deployment_id in refused.value.response["Error"]["Message"]
    info = setup.wait(deployment_id, timeout=HOOK_TIMEOUT_S + 30)
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    assert f"did not report a status within {HOOK_TIMEOUT_S} s" in info["errorInformation"]["message"]
    assert setup.alias_version() == "1"


def test_a_failing_after_hook_rolls_the_alias_back(cloud):
    setup = Setup(cloud)
    info = setup.wait(setup.deploy(hooks={"AfterAllowTraffic": setup.hook("Failed")}))
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "HOOK_EXECUTION_FAILURE"
    assert "rollbackMessage" in info["rollbackInfo"]
    assert setup.alias_version() == "1"


def test_a_role_without_update_alias_fails_naming_the_action(cloud):
    setup = Setup(cloud, update_alias=False)
    info = setup.wait(setup.deploy())
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "IAM_ROLE_PERMISSIONS"
    message = info["errorInformation"]["message"]
    assert setup.role in message and "AWSLambda" in message and "lambda:UpdateAlias" in message
    assert setup.alias_version() == "1"


def test_current_version_not_the_alias_version_fails(cloud):
    setup = Setup(cloud)
    info = setup.wait(setup.deploy(current="2", target="1"))
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "INVALID_LAMBDA_CONFIGURATION"
    assert "alias version does not match the current version" in info["errorInformation"]["message"]
    assert setup.alias_version() == "1"


def test_bad_revisions(cloud):
    setup = Setup(cloud)
    two = APPSPEC.format(name=setup.function, current="1", target="2")
    two = two + two.split("Resources:\n", 1)[1]  # two function resources
    info = setup.wait(setup.create({"revisionType": "AppSpecContent", "appSpecContent": {"content": two}}))
    assert info["status"] == "Failed" and info["errorInformation"]["code"] == "INVALID_LAMBDA_CONFIGURATION"
    assert "exactly one Lambda function" in info["errorInformation"]["message"]
    with pytest.raises(ClientError) as refused:
        setup.create({"revisionType": "S3", "s3Location": {"bucket": "b", "key": "k", "bundleType": "zip"}})
    assert refused.value.response["Error"]["Code"] == "InvalidRevisionException"
    assert refused.value.response["Error"]["Message"] == "BundleType must be either YAML or JSON"


def test_an_s3_revision_is_read_as_the_service_role(cloud):
    setup = Setup(cloud)
    bucket = unique("revisions")
    cloud.client("s3").create_bucket(Bucket=bucket)
    content = APPSPEC.format(name=setup.function, current="1", target="2")
    cloud.client("s3").put_object(Bucket=bucket, Key="appspec.yml", Body=content.encode())
    location = {"bucket": bucket, "key": "appspec.yml", "bundleType": "YAML"}
    assert setup.wait(setup.create({"revisionType": "S3", "s3Location": location}))["status"] == "Succeeded"
    assert setup.alias_version() == "2"


def test_stop_deployment_stops_and_restores(cloud):
    setup = Setup(cloud)
    deployment_id = setup.deploy(hooks={"BeforeAllowTraffic": setup.hook("silent")})
    wait_for(
        lambda: (
            setup.cd.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["status"] == "InProgress"
        )
    )
    assert setup.cd.stop_deployment(deploymentId=deployment_id)["status"] in ("Pending", "Succeeded")
    info = setup.wait(deployment_id)
    assert info["status"] == "Stopped" and info["errorInformation"]["code"] == "MANUAL_STOP"
    assert setup.alias_version() == "1"
    with pytest.raises(ClientError) as refused:
        setup.cd.stop_deployment(deploymentId=deployment_id)
    assert refused.value.response["Error"]["Code"] == "DeploymentAlreadyCompletedException"


def test_canary_configurations_are_not_executed_locally(cloud):
    setup = Setup(cloud, config_name="CodeDeployDefault.LambdaCanary10Percent5Minutes")
    info = setup.wait(setup.deploy())
    assert info["status"] == "Failed" and "not executed locally" in info["errorInformation"]["message"]
    assert setup.alias_version() == "1"


def test_deployment_configs(cloud):
    cd = cloud.client("codedeploy")
    info = cd.get_deployment_config(deploymentConfigName="CodeDeployDefault.LambdaAllAtOnce")[
        "deploymentConfigInfo"
    ]
    assert info["computePlatform"] == "Lambda" and info["trafficRoutingConfig"] == {"type": "AllAtOnce"}
    assert (
        "CodeDeployDefault.LambdaLinear10PercentEvery1Minute"
        in cd.list_deployment_configs()["deploymentConfigsList"]
    )
    with pytest.raises(ClientError) as refused:
        cd.get_deployment_config(deploymentConfigName="Nope")
    assert refused.value.response["Error"]["Code"] == "DeploymentConfigDoesNotExistException"


def test_a_hook_report_for_an_unknown_execution_is_refused(cloud):
    setup = Setup(cloud)
    deployment_id = setup.deploy()
    setup.wait(deployment_id)
    with pytest.raises(ClientError) as refused:
        setup.cd.put_lifecycle_event_hook_execution_status(
            deploymentId=deployment_id, lifecycleEventHookExecutionId="nope", status="Succeeded"
        )
    assert refused.value.response["Error"]["Code"] == "InvalidLifecycleEventHookExecutionIdException"
