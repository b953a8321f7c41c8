"""Step Functions acts as the state machine's role: every integration call of an execution (`lambda:invoke`,
`batch:submitJob(.sync)` and its DescribeJobs polling, `sns:publish`, ...) is signed with credentials of the
role, obtained as states.amazonaws.com (the trust policy is checked, with aws:SourceAccount and the state
machine's ARN as aws:SourceArn) and reused by the execution for a while.

moto's executor builds every client through `boto_client_for` with fixed keys ("ak"/"sk"); each integration
module imported that function by name, so it is replaced in every one of them. The role comes from the state's
credentials (the state machine's roleArn, or a state's own `Credentials`); the execution (for the session
name and aws:SourceArn) from the evaluation environment on the calling thread's stack, which the executor
passes down every call as `env`.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any

import boto3
from botocore.client import BaseClient
from botocore.config import Config
from moto.core.models import botocore_stubber
from moto.settings import moto_server_port
from moto.stepfunctions.parser.asl.component.common.timeouts.timeout import TimeoutSeconds
from moto.stepfunctions.parser.asl.utils import boto_client

from localcloud import runtime

_PACKAGE = "moto.stepfunctions.parser.asl.component.state"
# Every module that imports boto_client_for by name (moto 5.2.5; tests/unit/localcloud guard the list).
USERS = (
    "exec.state_map.result_writer.resource_eval.resource_eval_s3",
    "exec.state_map.item_reader.eval.resource_eval_s3",
    "exec.state_task.lambda_eval_utils",
    "exec.state_task.service.state_task_service_unsupported",
    "exec.state_task.service.state_task_service_glue",
    "exec.state_task.service.state_task_service_events",
    "exec.state_task.service.state_task_service_ecs",
    "exec.state_task.service.state_task_service_sqs",
    "exec.state_task.service.state_task_service_sfn",
    "exec.state_task.service.state_task_service_dynamodb",
    "exec.state_task.service.state_task_service_batch",
    "exec.state_task.service.state_task_service_sns",
    "exec.state_task.service.state_task_service_aws_sdk",
)

_original = boto_client.boto_client_for


def execution_environment() -> Any | None:
    """The executor's evaluation environment (`env`) of the calling thread, if any frame holds one."""
    frame = sys._getframe(1)
    while frame is not None:
        env = frame.f_locals.get("env")
        if env is not None and hasattr(env, "aws_execution_details") and hasattr(env, "states"):
            return env
        frame = frame.f_back
    return None


def _execution(env: Any | None) -> tuple[str | None, str | None, str | None]:
    """(role ARN, execution name, state machine ARN) of an execution environment."""
    if env is None:
        return None, None, None
    data = getattr(env.states.context_object, "context_object_data", None) or {}
    execution = data.get("Execution") or {}
    machine = data.get("StateMachine") or {}
    return env.aws_execution_details.role_arn, execution.get("Name"), machine.get("Id")


def credentials_for(state_credentials: Any = None) -> dict[str, str]:
    """The state machine role's session for this execution."""
    env_role, execution_name, machine_arn = _execution(execution_environment())
    role_arn = getattr(state_credentials, "role_arn", None) or env_role
    if not role_arn:
        raise runtime.RoleNotAssumable("(none)", runtime.STATES, "the execution has no role")
    return runtime.role_credentials(
        role_arn, execution_name or "states", runtime.STATES, source_arn=machine_arn, reuse=True
    )


def boto_client_for(region: str, service: str, state_credentials: Any = None) -> BaseClient:
    """moto's boto_client_for, signed as the state machine's role instead of with fixed keys."""
    credentials = credentials_for(state_credentials)
    kwargs = {}
    if not botocore_stubber.enabled:
        kwargs["endpoint_url"] = f"http://localhost:{moto_server_port()}"
    return boto3.client(
        service_name=service,
        region_name=region,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=credentials["AWS_SESSION_TOKEN"],
        config=Config(
            parameter_validation=False,
            retries={"max_attempts": 0, "total_max_attempts": 1},
            connect_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
            read_timeout=TimeoutSeconds.DEFAULT_TIMEOUT_SECONDS,
        ),
        **kwargs,
    )


def apply() -> None:
    boto_client.boto_client_for = boto_client_for
    for name in USERS:
        module = importlib.import_module(f"{_PACKAGE}.{name}")
        if getattr(module, "boto_client_for", None) is _original:
            module.boto_client_for = boto_client_for
