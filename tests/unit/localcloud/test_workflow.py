"""Step Functions really execute: Lambda (alias) -> Choice -> array submitJob.sync -> SNS, Retry, Catch."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from localcloud import efs
from tests.unit.localcloud.conftest import LAMBDA_LOGS, allow, unique, wait_for, workload_role

HANDLER = """
import os


class SpecInvalid(Exception):
    pass


class Transient(Exception):
    pass


def handler(event, context):
    marker = os.path.join(os.environ["MARKER_DIR"], event["name"])
    if not os.path.exists(marker):  # the first call of every execution fails, so Retry is exercised
        open(marker, "w").close()
        raise Transient("first call fails")
    if event["size"] < 1:
        raise SpecInvalid("/size: must be >= 1")
    return {"array_size": event["size"], "run_id": event["name"], "function": context.function_name}
"""

CHILD = """
import os, pathlib, sys
index = os.environ["AWS_BATCH_JOB_ARRAY_INDEX"]
run = pathlib.Path(os.environ["SCRATCH_DIR"]) / os.environ["RUN_ID"]
run.mkdir(parents=True, exist_ok=True)
(run / f"child-{index}").write_text(index)
print("child", index, "of", os.environ["AWS_BATCH_JOB_ID"])
sys.exit(3 if index == os.environ["FAIL_INDEX"] else 0)
"""


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", source)
    return buffer.getvalue()


def _definition(function_arn, queue, job_definition, ok_topic, failure_topic) -> str:
    notify_failure = {
        "Type": "Task",
        "Resource": "arn:aws:states:::sns:publish",
        "Parameters": {
            "TopicArn": failure_topic,
            "Message": {
                "run_id.$": "$$.Execution.Name",
                "error.$": "$.error.Error",
                "cause.$": "$.error.Cause",
            },
        },
        "Next": "Failed",
    }
    return json.dumps(
        {
            "StartAt": "Validate",
            "States": {
                "Validate": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::lambda:invoke",
                    "Parameters": {
                        "FunctionName": function_arn,
                        "Payload": {"size.$": "$.size", "name.$": "$$.Execution.Name"},
                    },
                    "ResultSelector": {"array_size.$": "$.Payload.array_size", "status.$": "$.StatusCode"},
                    "ResultPath": "$.validated",
                    "Retry": [{"ErrorEquals": ["Transient"], "IntervalSeconds": 1, "MaxAttempts": 2}],
                    "Catch": [
                        {"ErrorEquals": ["SpecInvalid"], "ResultPath": "$.error", "Next": "NotifyFailure"}
                    ],
                    "Next": "IsArray",
                },
                "IsArray": {
                    "Type": "Choice",
                    "Choices": [
                        {
                            "Variable": "$.validated.array_size",
                            "NumericGreaterThanEquals": 2,
                            "Next": "Render",
                        }
                    ],
                    "Default": "NotifySuccess",
                },
                "Render": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::batch:submitJob.sync",
                    "Parameters": {
                        "JobName.$": "$$.Execution.Name",
                        "JobQueue": queue,
                        "JobDefinition": job_definition,
                        "ArrayProperties": {"Size.$": "$.validated.array_size"},
                        "ContainerOverrides": {
                            "Environment": [
                                {"Name": "RUN_ID", "Value.$": "$$.Execution.Name"},
                                {"Name": "FAIL_INDEX", "Value.$": "States.Format('{}', $.fail_index)"},
                            ]
                        },
                    },
                    "ResultSelector": {"status.$": "$.Status", "job_id.$": "$.JobId"},
                    "ResultPath": "$.render",
                    "Catch": [
                        {"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyFailure"}
                    ],
                    "Next": "NotifySuccess",
                },
                "NotifySuccess": {
                    "Type": "Task",
                    "Resource": "arn:aws:states:::sns:publish",
                    "Parameters": {"TopicArn": ok_topic, "Message.$": "States.JsonToString($.validated)"},
                    "ResultPath": "$.notified",
                    "End": True,
                },
                "NotifyFailure": notify_failure,
                "Failed": {"Type": "Fail", "Error": "RenderFailed"},
            },
        }
    )


class Workflow:
    def __init__(self, cloud, batch_setup, tmp_path):
        self.cloud = cloud
        iam, lam, sns, sqs = (cloud.client(s) for s in ("iam", "lambda", "sns", "sqs"))
        function_role = workload_role(cloud, "lambda.amazonaws.com", LAMBDA_LOGS)
        role = workload_role(
            cloud,
            "states.amazonaws.com",
            allow(["lambda:InvokeFunction", "batch:SubmitJob", "batch:DescribeJobs", "sns:Publish"]),
        )
        markers = tmp_path / "markers"
        markers.mkdir()
        function = lam.create_function(
            FunctionName=unique("validate"),
            Runtime="python3.11",
            Role=function_role,
            Handler="handler.handler",
            Code={"ZipFile": _zip(HANDLER)},
            Timeout=30,
            Environment={"Variables": {"MARKER_DIR": str(markers)}},
        )
        version = lam.publish_version(FunctionName=function["FunctionName"])["Version"]
        alias = lam.create_alias(FunctionName=function["FunctionName"], Name="live", FunctionVersion=version)
        self.function_name = function["FunctionName"]

        efs_client = cloud.client("efs")
        self.fs_id = efs_client.create_file_system(CreationToken=unique("fs"))["FileSystemId"]
        access_point = efs_client.create_access_point(
            FileSystemId=self.fs_id,
            RootDirectory={
                "Path": "/scratch",
                "CreationInfo": {"OwnerUid": 0, "OwnerGid": 0, "Permissions": "750"},
            },
        )["AccessPointId"]
        script = batch_setup.script("wf_child", CHILD)
        job_definition = batch_setup.job_definition(
            ["python", str(script)],
            container={
                "environment": [
                    {"name": "SCRATCH_DIR", "value": "/mnt/scratch"},
                    {"name": "FAIL_INDEX", "value": "-1"},
                ],
                "volumes": [
                    {
                        "name": "scratch",
                        "efsVolumeConfiguration": {
                            "fileSystemId": self.fs_id,
                            "transitEncryption": "ENABLED",
                            "authorizationConfig": {"accessPointId": access_point, "iam": "ENABLED"},
                        },
                    }
                ],
                "mountPoints": [
                    {"sourceVolume": "scratch", "containerPath": "/mnt/scratch", "readOnly": False}
                ],
            },
        )
        self.ok_queue, ok_topic = self._topic_with_queue(sns, sqs, "ok")
        self.failure_queue, failure_topic = self._topic_with_queue(sns, sqs, "failure")
        self.machine = cloud.client("stepfunctions").create_state_machine(
            name=unique("render"),
            roleArn=role,
            definition=_definition(
                alias["AliasArn"], batch_setup.queue_name, job_definition, ok_topic, failure_topic
            ),
        )["stateMachineArn"]

    def _topic_with_queue(self, sns, sqs, name):
        topic = sns.create_topic(Name=unique(name))["TopicArn"]
        url = sqs.create_queue(QueueName=unique(name))["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        admit_topic = {  # SNS delivers as sns.amazonaws.com: the queue policy must admit the topic
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": "sns.amazonaws.com"},
                    "Action": "sqs:SendMessage",
                    "Resource": arn,
                    "Condition": {"ArnEquals": {"aws:SourceArn": topic}},
                }
            ],
        }
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(admit_topic)})
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn)
        return url, topic

    def run(self, size: int, fail_index: int = -1) -> tuple[str, dict]:
        sfn = self.cloud.client("stepfunctions")
        name = unique("run")
        arn = sfn.start_execution(
            stateMachineArn=self.machine,
            name=name,
            input=json.dumps({"size": size, "fail_index": fail_index}),
        )["executionArn"]
        result = wait_for(
            lambda: (d := sfn.describe_execution(executionArn=arn))["status"] != "RUNNING" and d, timeout=90
        )
        return name, result

    def message(self, queue_url: str) -> dict:
        sqs = self.cloud.client("sqs")
        messages = wait_for(
            lambda: sqs.receive_message(QueueUrl=queue_url, WaitTimeSeconds=1).get("Messages"), 20
        )
        return json.loads(json.loads(messages[0]["Body"])["Message"])


@pytest.fixture(scope="module")
def workflow(cloud, batch_setup, tmp_path_factory):
    return Workflow(cloud, batch_setup, tmp_path_factory.mktemp("workflow"))


def test_lambda_then_array_job_then_sns_succeeds(workflow, cloud):
    name, execution = workflow.run(size=3)
    assert execution["status"] == "SUCCEEDED", execution
    assert workflow.message(workflow.ok_queue) == {"array_size": 3, "status": 200}
    scratch = efs.host_path(workflow.fs_id, "/scratch", state_dir=cloud.state_dir) / name
    assert sorted(p.name for p in scratch.iterdir()) == ["child-0", "child-1", "child-2"]
    assert [(scratch / f"child-{i}").read_text() for i in range(3)] == ["0", "1", "2"]
    output = json.loads(execution["output"])
    assert output["render"]["status"] == "SUCCEEDED"
    assert output["render"]["job_id"] and output["notified"]["MessageId"]


def test_failing_child_fails_the_parent_and_catch_notifies(workflow, cloud):
    name, execution = workflow.run(size=3, fail_index=1)
    assert execution["status"] == "FAILED"
    message = workflow.message(workflow.failure_queue)
    assert message["run_id"] == name
    assert message["error"] == "States.TaskFailed"
    assert json.loads(message["cause"])["Status"] == "FAILED"
    job = cloud.client("batch").describe_jobs(jobs=[json.loads(message["cause"])["JobId"]])["jobs"][0]
    assert job["arrayProperties"]["statusSummary"]["FAILED"] == 1


def test_lambda_exception_is_caught_by_name(workflow, cloud):
    name, execution = workflow.run(size=0)
    assert execution["status"] == "FAILED"
    message = workflow.message(workflow.failure_queue)
    assert message["run_id"] == name
    assert message["error"] == "SpecInvalid"
    assert json.loads(message["cause"])["errorMessage"] == "/size: must be >= 1"
    streams = cloud.client("logs").describe_log_streams(logGroupName=f"/aws/lambda/{workflow.function_name}")
    assert streams["logStreams"], "the Lambda wrote no logs"


def test_stopping_an_execution_terminates_its_batch_job(cloud, batch_setup):
    sfn, batch = cloud.client("stepfunctions"), cloud.client("batch")
    role = workload_role(
        cloud, "states.amazonaws.com", allow(["batch:SubmitJob", "batch:DescribeJobs", "batch:TerminateJob"])
    )
    definition = batch_setup.job_definition(["python", "-c", "import time; time.sleep(120)"])
    machine = sfn.create_state_machine(
        name=unique("stop"),
        roleArn=role,
        definition=json.dumps(
            {
                "StartAt": "Render",
                "States": {
                    "Render": {
                        "Type": "Task",
                        "Resource": "arn:aws:states:::batch:submitJob.sync",
                        "Parameters": {
                            "JobName.$": "$$.Execution.Name",
                            "JobQueue": batch_setup.queue_name,
                            "JobDefinition": definition,
                        },
                        "End": True,
                    }
                },
            }
        ),
    )["stateMachineArn"]
    name = unique("stopped")
    execution = sfn.start_execution(stateMachineArn=machine, name=name, input="{}")["executionArn"]

    def running_job():
        jobs = batch.list_jobs(
            jobQueue=batch_setup.queue_name, filters=[{"name": "JOB_NAME", "values": [name]}]
        )
        found = [j for j in jobs["jobSummaryList"] if j["status"] == "RUNNING"]
        return found and found[0]["jobId"]

    job_id = wait_for(running_job, timeout=30)
    sfn.stop_execution(executionArn=execution, error="Operator", cause="stop")
    job = batch_setup.wait_done(job_id, timeout=20)
    assert job["status"] == "FAILED" and job["statusReason"] == "Execution stopped by Step Functions"
    assert sfn.describe_execution(executionArn=execution)["status"] == "ABORTED"
