"""A local cloud per test session (per xdist worker): free port, temporary state dir, stopped at the end."""

from __future__ import annotations

import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import boto3
import pytest
from botocore import xform_name
from botocore.config import Config

from localcloud import config, credentials, lifecycle

CONCURRENCY = 2  # run slots of the test cloud: the machine has 2 cores and other suites share them


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((config.HOST, 0))
        return sock.getsockname()[1]


class Cloud:
    def __init__(self, endpoint: str, port: int, state_dir: Path):
        self.endpoint = endpoint
        self.port = port
        self.state_dir = state_dir
        self._clients: dict[str, object] = {}

    @property
    def credentials(self) -> credentials.Credentials:
        """The admin keys this boot issued (<state>/credentials), as the harness reads them."""
        return credentials.read(self.state_dir)

    def client(self, service: str, **extra):
        """A boto3 client as the cloud's admin; `extra` (e.g. config=...) makes a fresh, uncached one."""
        if extra:
            return boto3.client(service, **self.credentials.client_kwargs(), **extra)
        if service not in self._clients:
            self._clients[service] = boto3.client(
                service,
                **self.credentials.client_kwargs(),
                config=Config(retries={"max_attempts": 2}, read_timeout=120),
            )
        return self._clients[service]


def start_cloud(
    tmp_path_factory: pytest.TempPathFactory, name: str, server_env: dict[str, str | None]
) -> Iterator[Cloud]:
    """A local cloud on a free port with a temporary state dir, stopped when the generator ends. The server
    inherits `server_env` (None: unset), set only while it starts."""
    port = free_port()
    state = tmp_path_factory.mktemp(name)
    saved = {key: os.environ.get(key) for key in server_env}
    for key, value in server_env.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    try:
        endpoint = lifecycle.up(port=port, state_dir=state)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    try:
        yield Cloud(endpoint, port, state)
    finally:
        lifecycle.down(port=port, state_dir=state)


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    # Process mode: these tests run host scripts as jobs and Lambdas; the container path has its own clouds
    # (test_*_containers.py) and the live suites.
    server_env = {"LOCALCLOUD_BATCH_CONCURRENCY": str(CONCURRENCY), "LOCALCLOUD_RUNTIME": "process"}
    yield from start_cloud(tmp_path_factory, "localcloud", server_env)


def trust(service: str) -> str:
    """A trust policy admitting `service` for this account only, as the stack's roles have (the local cloud
    checks it before a job, Lambda or state machine gets the role's credentials)."""
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Effect": "Allow",
                    "Principal": {"Service": service},
                    "Action": "sts:AssumeRole",
                    "Condition": {"StringEquals": {"aws:SourceAccount": config.ACCOUNT_ID}},
                }
            ],
        }
    )


def workload_role(cloud: Cloud, service: str, *statements: dict) -> str:
    """A role `service` may assume, with `statements` as its inline policy (the local cloud enforces IAM)."""
    iam = cloud.client("iam")
    name = unique("role")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(service))["Role"]["Arn"]
    if statements:
        document = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
        iam.put_role_policy(RoleName=name, PolicyName="grants", PolicyDocument=document)
    return arn


def allow(actions: str | list[str], resources: str | list[str] = "*") -> dict:
    return {"Effect": "Allow", "Action": actions, "Resource": resources}


# Lambda writes a function's logs with its execution role.
LAMBDA_LOGS = allow(["logs:CreateLogStream", "logs:PutLogEvents"], "arn:aws:logs:*:*:log-group:/aws/lambda/*")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def wait_for(predicate: Callable[[], object], timeout: float = 60.0, interval: float = 0.25):
    """Poll until predicate returns something truthy; return it (fails the test on timeout)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout} s")


def fargate_queue(cloud: Cloud, cidr_octet: int, environments: list[tuple[str, int]]) -> tuple[str, list]:
    """A job queue over new MANAGED compute environments, in the given order, each (type, maxvCpus) with a
    subnet and security group of a new VPC 10.<cidr_octet>.0.0/16: (the queue's name, each environment as
    CreateComputeEnvironment answered)."""
    ec2, batch, iam = (cloud.client(name) for name in ("ec2", "batch", "iam"))
    vpc = ec2.create_vpc(CidrBlock=f"10.{cidr_octet}.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.{cidr_octet}.1.0/24")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=unique("sg"), Description="jobs", VpcId=vpc)["GroupId"]
    role = iam.create_role(RoleName=unique("batch-service"), AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    network = {"subnets": [subnet], "securityGroupIds": [group]}
    created = [
        batch.create_compute_environment(
            computeEnvironmentName=unique(kind.lower().replace("_", "-")),
            type="MANAGED",
            state="ENABLED",
            serviceRole=role,
            computeResources={"type": kind, "maxvCpus": vcpus, **network},
        )
        for kind, vcpus in environments
    ]
    queue = unique("jq")
    order = [{"order": i, "computeEnvironment": c["computeEnvironmentArn"]} for i, c in enumerate(created, 1)]
    batch.create_job_queue(jobQueueName=queue, state="ENABLED", priority=1, computeEnvironmentOrder=order)
    return queue, created


class BatchSetup:
    """A compute environment and job queue, and a way to register job definitions running Python scripts."""

    def __init__(self, cloud: Cloud, scripts: Path):
        self.cloud = cloud
        self.scripts = scripts
        iam = cloud.client("iam")
        role = iam.create_role(
            RoleName=unique("batch-service"),
            AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}',
        )["Role"]["Arn"]
        batch = cloud.client("batch")
        ce = batch.create_compute_environment(
            computeEnvironmentName=unique("ce"), type="UNMANAGED", state="ENABLED", serviceRole=role
        )
        self.ce_name = ce["computeEnvironmentName"]
        self.queue_name = unique("jq")
        batch.create_job_queue(
            jobQueueName=self.queue_name,
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce["computeEnvironmentArn"]}],
        )

    def script(self, name: str, body: str) -> Path:
        path = self.scripts / f"{name}.py"
        path.write_text(body)
        return path

    def job_definition(self, command: list[str], **extra) -> str:
        container = {
            "image": "local",
            "command": command,
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        }
        container.update(extra.pop("container", {}))
        return self.cloud.client("batch").register_job_definition(
            jobDefinitionName=unique("jd"), type="container", containerProperties=container, **extra
        )["jobDefinitionArn"]

    def submit(self, definition: str, **kwargs) -> str:
        return self.cloud.client("batch").submit_job(
            jobName=unique("job"), jobQueue=self.queue_name, jobDefinition=definition, **kwargs
        )["jobId"]

    def describe(self, job_id: str) -> dict:
        return self.cloud.client("batch").describe_jobs(jobs=[job_id])["jobs"][0]

    def wait_done(self, job_id: str, timeout: float = 60.0) -> dict:
        return wait_for(
            lambda: (job := self.describe(job_id))["status"] in ("SUCCEEDED", "FAILED") and job, timeout
        )


@pytest.fixture(scope="session")
def batch_setup(cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> BatchSetup:
    return BatchSetup(cloud, tmp_path_factory.mktemp("scripts"))


def batch_events_queue(cloud, job_queue: str) -> str:
    """An SQS queue receiving the Batch state-change events of `job_queue` (an EventBridge rule)."""
    sqs, events = cloud.client("sqs"), cloud.client("events")
    url = sqs.create_queue(QueueName=unique("queue-events"))["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = unique("queue-rule")
    pattern = {
        "source": ["aws.batch"],
        "detail-type": ["Batch Job State Change"],
        "detail": {"jobQueue": [f"arn:aws:batch:us-east-1:123456789012:job-queue/{job_queue}"]},
    }
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps(pattern))["RuleArn"]
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": arn}])
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "events.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
            }
        ],
    }
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url


def raw_body(client, operation: str, **kwargs) -> dict:
    """An answer's JSON as the wire carried it (botocore turns epoch numbers and ISO strings alike into
    datetimes): what the Terraform provider parses."""
    captured = {}

    def keep(http_response, **_):
        captured["body"] = json.loads(http_response.content)

    event = f"after-call.{client.meta.service_model.service_id.hyphenize()}.{operation}"
    client.meta.events.register(event, keep)
    try:
        getattr(client, xform_name(operation))(**kwargs)
    finally:
        client.meta.events.unregister(event, keep)
    return captured["body"]
