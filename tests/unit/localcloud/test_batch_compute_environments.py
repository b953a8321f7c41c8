"""Deleting a compute environment a job queue still uses is refused, as on AWS (localcloud/patches/batch.py).

The provider's create-before-destroy replacement is the sequence these tests walk: create the new environment,
point the queue at it (UpdateJobQueue), disable the old one, delete it.
"""

from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from tests.unit.localcloud.conftest import unique

JOB_QUEUE_RELATIONSHIP = "Cannot delete, found existing JobQueue relationship."


@pytest.fixture(scope="module")
def service_role(cloud) -> str:
    return cloud.client("iam").create_role(
        RoleName=unique("batch-ce-service"),
        AssumeRolePolicyDocument='{"Version":"2012-10-17","Statement":[]}',
    )["Role"]["Arn"]


def _environment(cloud, role: str) -> str:
    return cloud.client("batch").create_compute_environment(
        computeEnvironmentName=unique("ce"), type="UNMANAGED", state="ENABLED", serviceRole=role
    )["computeEnvironmentArn"]


def _queue(cloud, *environments: str) -> str:
    order = [{"order": i, "computeEnvironment": arn} for i, arn in enumerate(environments, start=1)]
    return cloud.client("batch").create_job_queue(
        jobQueueName=unique("jq"), state="ENABLED", priority=1, computeEnvironmentOrder=order
    )["jobQueueArn"]


def _disable_and_delete(cloud, environment: str) -> None:
    """What the provider does to destroy an aws_batch_compute_environment."""
    batch = cloud.client("batch")
    batch.update_compute_environment(computeEnvironment=environment, state="DISABLED")
    batch.delete_compute_environment(computeEnvironment=environment)


def _exists(cloud, environment: str) -> bool:
    found = cloud.client("batch").describe_compute_environments(computeEnvironments=[environment])
    return bool(found["computeEnvironments"])


def test_deleting_an_environment_a_queue_uses_is_refused(cloud, service_role):
    first, second = _environment(cloud, service_role), _environment(cloud, service_role)
    _queue(cloud, first, second)
    batch = cloud.client("batch")
    for environment in (first, second):  # any position in the order counts; by ARN or by name
        name = environment.rsplit("/", 1)[-1]
        for identifier in (environment, name):
            with pytest.raises(ClientError) as refused:
                _disable_and_delete(cloud, identifier)
            response = refused.value.response
            assert response["ResponseMetadata"]["HTTPStatusCode"] == 400
            assert response["Error"]["Code"] == "ClientException"
            assert response["Error"]["Message"] == JOB_QUEUE_RELATIONSHIP
            assert _exists(cloud, environment)
    described = batch.describe_compute_environments(computeEnvironments=[first])["computeEnvironments"]
    assert described[0]["state"] == "DISABLED"


def test_replacement_deletes_the_old_environment_once_the_queue_points_at_the_new_one(cloud, service_role):
    old, other = _environment(cloud, service_role), _environment(cloud, service_role)
    queue = _queue(cloud, old, other)
    new = _environment(cloud, service_role)
    batch = cloud.client("batch")
    batch.update_job_queue(
        jobQueue=queue,
        computeEnvironmentOrder=[
            {"order": 1, "computeEnvironment": new},
            {"order": 2, "computeEnvironment": other},
        ],
    )
    (described,) = batch.describe_job_queues(jobQueues=[queue])["jobQueues"]
    assert {e["computeEnvironment"] for e in described["computeEnvironmentOrder"]} == {new, other}

    _disable_and_delete(cloud, old)
    assert not _exists(cloud, old)
    with pytest.raises(ClientError, match="found existing JobQueue relationship"):
        _disable_and_delete(cloud, new)
    assert _exists(cloud, new) and _exists(cloud, other)


def test_delete_succeeds_after_the_queue_is_deleted(cloud, service_role):
    environment = _environment(cloud, service_role)
    queue = _queue(cloud, environment)
    batch = cloud.client("batch")
    batch.update_job_queue(jobQueue=queue, state="DISABLED")
    batch.delete_job_queue(jobQueue=queue)
    _disable_and_delete(cloud, environment)
    assert not _exists(cloud, environment)


def test_an_environment_no_queue_uses_deletes_and_an_unknown_one_is_a_no_op(cloud, service_role):
    environment = _environment(cloud, service_role)
    _disable_and_delete(cloud, environment)
    assert not _exists(cloud, environment)
    cloud.client("batch").delete_compute_environment(computeEnvironment=unique("never-created"))
