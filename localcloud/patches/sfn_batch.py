"""Step Functions `batch:submitJob(.sync)`: convert the state's PascalCase parameters to the Batch API's
camelCase (and the responses back) with botocore's operation model, as AWS does.

moto's StateTaskServiceBatch inherits no-op `_normalise_parameters` / `_normalise_response`, so `JobName`
reached boto3 unconverted. The .sync result is DescribeJobs' job in PascalCase, as on AWS.
Stopping the execution terminates the job the task waits for.
"""

from __future__ import annotations

from functools import cache

import botocore.session
from botocore import xform_name
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch import (
    StateTaskServiceBatch,
)


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
    resolver._localcloud_job = (submitted.get("JobId"), resource_runtime_part.region, state_credentials)
    return resolver


def _eval_sync(self, env, sync_resolver, timeout_seconds, callback_endpoint, heartbeat_endpoint):
    """As on AWS, stopping the execution (or the task timing out) terminates the job it is waiting for."""
    try:
        return _original_eval_sync(
            self, env, sync_resolver, timeout_seconds, callback_endpoint, heartbeat_endpoint
        )
    finally:
        job_id, region, credentials = getattr(sync_resolver, "_localcloud_job", (None, None, None))
        if job_id and not env.is_running():
            from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for

            client = boto_client_for(region=region, service="batch", state_credentials=credentials)
            client.terminate_job(jobId=job_id, reason="Execution stopped by Step Functions")


def apply() -> None:
    StateTaskServiceBatch._normalise_parameters = _normalise_parameters
    StateTaskServiceBatch._normalise_response = _normalise_response
    StateTaskServiceBatch._build_sync_resolver = _build_sync_resolver
    StateTaskServiceBatch._eval_sync = _eval_sync
