"""The moto internals localcloud patches exist with the signatures we rely on (moto is pinned exactly)."""

from __future__ import annotations

import inspect
from importlib.metadata import version

from moto.awslambda.models import LambdaFunction
from moto.batch.models import BatchBackend, Job, JobDefinition, JobQueue
from moto.batch.responses import BatchResponse
from moto.codebuild.models import CodeBuildBackend
from moto.codebuild.responses import CodeBuildResponse
from moto.codecommit.responses import CodeCommitResponse
from moto.codedeploy.models import CodeDeployBackend
from moto.codedeploy.responses import CodeDeployResponse
from moto.codepipeline.responses import CodePipelineResponse
from moto.core.responses import BaseResponse
from moto.efs.models import AccessPoint, EFSBackend
from moto.events.models import EventsBackend
from moto.events.utils import EventTemplateParser
from moto.sqs.models import Queue
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch import (
    StateTaskServiceBatch,
)
from moto.stepfunctions.responses import StepFunctionResponse


def _params(func) -> list[str]:
    return list(inspect.signature(func).parameters)


def test_moto_is_the_pinned_version():
    assert version("moto") == "5.2.5"


def test_batch_job_internals():
    assert _params(Job.run) == ["self"]
    assert _params(Job.describe) == ["self"]
    assert _params(Job._mark_stopped) == ["self", "success"]
    assert _params(Job._add_parameters_to_command) == ["self", "command"]
    assert _params(Job._get_container_property) == ["self", "p", "default"]
    assert _params(Job.__init__) == [
        "self", "name", "job_def", "job_queue", "backend", "log_backend", "container_overrides",
        "eks_properties_override", "depends_on", "parameters", "all_jobs", "timeout", "array_properties",
        "provided_job_id", "tags",
    ]  # fmt: skip
    for attribute in ("terminate", "_stop_attempt"):
        assert callable(getattr(Job, attribute))
    init = inspect.getsource(Job.__init__)
    for attribute in (
        "self.stop",
        "self.exit_code",
        "self.attempts",
        "self._child_jobs",
        "self.job_stopped_reason",
        "self._log_backend",
        "self.container_overrides",
        "self.all_jobs",
        "self.job_started_at",
    ):
        assert attribute in init, attribute
    for attribute in ("self.retry_strategy", "self.container_properties", "self.timeout", "self.parameters"):
        assert attribute in inspect.getsource(JobDefinition.__init__), attribute


def test_batch_submit_internals():
    assert _params(BatchBackend.submit_job) == [
        "self", "job_name", "job_def_id", "job_queue", "array_properties", "depends_on",
        "container_overrides", "eks_properties_override", "timeout", "parameters", "tags",
    ]  # fmt: skip
    assert "self._jobs" in inspect.getsource(BatchBackend.__init__)
    assert callable(BatchResponse.submitjob)
    assert "JOB_NAME_REGEX" in inspect.getsource(BatchBackend.submit_job)


def test_batch_compute_environment_delete_internals():
    assert _params(BatchBackend.delete_compute_environment) == ["self", "compute_environment_name"]
    assert _params(BatchBackend.get_compute_environment) == ["self", "identifier"]
    source = inspect.getsource(BatchBackend.delete_compute_environment)
    assert "JobQueue relationship" not in source, "moto refuses the delete itself now"
    assert "self.batch_backend.delete_compute_environment(" in inspect.getsource(
        BatchResponse.deletecomputeenvironment
    )
    assert "self._job_queues" in inspect.getsource(BatchBackend.__init__)
    assert "self.environments = environments" in inspect.getsource(JobQueue.__init__)
    # UpdateJobQueue replaces the order the patch reads (the create-before-destroy step before the delete).
    assert "job_queue.environments = env_objects" in inspect.getsource(BatchBackend.update_job_queue)


def test_lambda_internals():
    assert _params(LambdaFunction._invoke_lambda) == ["self", "event"]
    assert "self._invoke_lambda(event=body)" in inspect.getsource(LambdaFunction.invoke)
    source = inspect.getsource(LambdaFunction)
    for attribute in (
        "self.code_bytes",
        "self.handler",
        "self.environment_vars",
        "self.timeout",
        "self.logs_group_name",
        "self.function_arn",
        "self.memory_size",
    ):
        assert attribute in source, attribute


def test_step_functions_internals():
    for name in ("_normalise_parameters", "_normalise_response"):
        assert _params(getattr(StateTaskServiceBatch, name))[:2] in (
            ["self", "parameters"],
            ["self", "response"],
        )
    assert _params(StateTaskService._to_boto_request) == ["self", "parameters", "structure_shape"]
    assert _params(StateTaskService._from_boto_response) == ["self", "response", "structure_shape"]
    assert "self._normalise_response(" in inspect.getsource(StateTaskServiceBatch._build_sync_resolver)
    assert _params(StateTaskServiceBatch._build_sync_resolver) == [
        "self", "env", "resource_runtime_part", "normalised_parameters", "state_credentials",
    ]  # fmt: skip
    assert _params(StateTaskServiceBatch._eval_sync) == [
        "self", "env", "sync_resolver", "timeout_seconds", "callback_endpoint", "heartbeat_endpoint",
    ]  # fmt: skip
    assert "submission_output: dict = env.stack.pop()" in inspect.getsource(
        StateTaskServiceBatch._build_sync_resolver
    )
    assert not hasattr(StepFunctionResponse, "validate_state_machine_definition"), "moto implements it now"
    assert not hasattr(StepFunctionResponse, "list_state_machine_versions"), "moto implements it now"


def test_events_sqs_efs_and_code_service_internals():
    assert "<detail>" in EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE
    assert _params(EventsBackend.put_events) == ["self", "events"]
    assert isinstance(inspect.getattr_static(Queue, "attributes"), property)
    assert "self.access_points" in inspect.getsource(EFSBackend.__init__)
    assert "self.root_directory" in inspect.getsource(AccessPoint.__init__)
    assert "self.applications" in inspect.getsource(CodeDeployBackend.__init__)
    assert _params(BaseResponse.call_action) == ["self"]
    for response in (CodeCommitResponse, CodeDeployResponse, CodePipelineResponse):
        assert response.call_action is BaseResponse.call_action
    assert not hasattr(CodeDeployResponse, "delete_application"), "moto implements it now"
    for missing in ("list_branches", "update_repository_encryption_key", "list_tags_for_resource"):
        assert not hasattr(CodeCommitResponse, missing), f"moto implements {missing} now"
    assert not hasattr(CodeBuildResponse, "update_project"), "moto implements it now"
    assert "self.codebuild_projects" in inspect.getsource(CodeBuildBackend.__init__)
