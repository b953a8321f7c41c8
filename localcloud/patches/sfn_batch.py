"""Step Functions `batch:submitJob(.sync)`: convert the state's PascalCase parameters to the Batch API's
camelCase (and the responses back) with botocore's operation model, as AWS does.

moto's StateTaskServiceBatch inherits no-op `_normalise_parameters` / `_normalise_response`, so `JobName`
reached boto3 unconverted. The .sync result is DescribeJobs' job in PascalCase, as on AWS.
Stopping the execution terminates the job the task waits for.

moto checks a .sync job every 0.5 s, which adds a quarter of a second on average to every Batch step (the
fixed overhead of a small run, issue 13). Here the check between two DescribeJobs waits on the job's end
instead (batch_events.watch), at most SYNC_CHECK_S: the task sees the end at once, with no more calls.
"""

from __future__ import annotations

from functools import cache

import botocore.session
from botocore import xform_name
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
    state_task_service_callback,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch import (
    StateTaskServiceBatch,
)

from localcloud import batch_events

SYNC_CHECK_S = 0.5  # the longest wait between two DescribeJobs of a .sync task (moto's fixed interval)


@cache
def _operation(service: str, snake_action: str):
    model = botocore.session.get_session().get_service_model(service)
    for name in model.operation_names:
        if xform_name(name) == snake_action:
            return model.operation_model(name)
    raise ValueError(f"{service} has no operation {snake_action}")


def _normalise_parameters(self, parameters, boto_service_name=None, service_action_name=None) -> None:
    op = _operation(
        self._get_boto_service_name(boto_service_name), self._get_boto_service_action(service_action_name)
    )
    self._to_boto_request(parameters, op.input_shape)


def _normalise_response(self, response, boto_service_name=None, service_action_name=None) -> None:
    op = _operation(
        self._get_boto_service_name(boto_service_name), self._get_boto_service_action(service_action_name)
    )
    self._from_boto_response(response, op.output_shape)


_original_build_sync_resolver = StateTaskServiceBatch._build_sync_resolver
_original_eval_sync = StateTaskServiceBatch._eval_sync


def _build_sync_resolver(self, env, resource_runtime_part, normalised_parameters, state_credentials):
    submitted = env.stack[-1] if env.stack and isinstance(env.stack[-1], dict) else {}
    resolver = _original_build_sync_resolver(
        self, env, resource_runtime_part, normalised_parameters, state_credentials
    )
    job_id = submitted.get("JobId")
    ended = batch_events.watch(job_id) if job_id else None

    def resolve():
        result = resolver()
        if result is None and ended is not None and env.is_running():
            ended.wait(SYNC_CHECK_S)  # woken when the job ends; moto's own sleep between checks is 0
        return result

    resolve._localcloud_job = (job_id, resource_runtime_part.region, state_credentials)
    return resolve


def _eval_sync(self, env, sync_resolver, timeout_seconds, callback_endpoint, heartbeat_endpoint):
    """As on AWS, stopping the execution (or the task timing out) terminates the job it is waiting for."""
    ended = False
    try:
        result = _original_eval_sync(
            self, env, sync_resolver, timeout_seconds, callback_endpoint, heartbeat_endpoint
        )
        ended = True
        return result
    finally:
        job_id, region, credentials = getattr(sync_resolver, "_localcloud_job", (None, None, None))
        if job_id:
            batch_events.unwatch(job_id)
        if job_id and (not env.is_running() or not ended):
            from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

            client = boto_client_for(region=region, service="batch", state_credentials=credentials)
            if not env.is_running():
                client.terminate_job(jobId=job_id, reason="Execution stopped by Step Functions")
            elif _still_running(client, job_id):  # left without the job's end: States.Timeout
                client.terminate_job(jobId=job_id, reason="Step Functions task timed out")


def _still_running(client, job_id: str) -> bool:
    jobs = client.describe_jobs(jobs=[job_id]).get("jobs", [])
    return bool(jobs) and jobs[0].get("status") not in ("SUCCEEDED", "FAILED")


def apply() -> None:
    state_task_service_callback._DELAY_SECONDS_SYNC_CONDITION_CHECK = 0.0  # resolve() waits instead
    StateTaskServiceBatch._normalise_parameters = _normalise_parameters
    StateTaskServiceBatch._normalise_response = _normalise_response
    StateTaskServiceBatch._build_sync_resolver = _build_sync_resolver
    StateTaskServiceBatch._eval_sync = _eval_sync
