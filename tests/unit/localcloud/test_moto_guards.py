"""The moto internals localcloud patches exist with the signatures we rely on (moto is pinned exactly)."""

from __future__ import annotations

import inspect
from importlib.metadata import version

from dulwich.server import ReceivePackHandler
from dulwich.web import make_wsgi_chain
from moto.awslambda.models import LambdaFunction
from moto.batch.models import BatchBackend, Job, JobDefinition, JobQueue
from moto.batch.responses import BatchResponse
from moto.codebuild.models import CodeBuild, CodeBuildBackend
from moto.codebuild.responses import CodeBuildResponse
from moto.codecommit.models import CodeCommit, CodeCommitBackend
from moto.codecommit.responses import CodeCommitResponse
from moto.codedeploy import responses as codedeploy_responses
from moto.codedeploy.models import Application, CodeDeployBackend, DeploymentGroup, DeploymentInfo
from moto.codedeploy.responses import CodeDeployResponse
from moto.codepipeline.models import CodePipeline, CodePipelineBackend
from moto.codepipeline.responses import CodePipelineResponse
from moto.core.responses import BaseResponse
from moto.efs.models import AccessPoint, EFSBackend
from moto.events.models import EventPattern, EventsBackend, Rule
from moto.events.utils import EventTemplateParser
from moto.logs.models import LogsBackend
from moto.sqs.models import Queue
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service import (
    StateTaskService,
)
from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.state_task_service_batch import (
    StateTaskServiceBatch,
)
from moto.stepfunctions.responses import StepFunctionResponse
from moto.utilities.arns import parse_arn


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


def test_codecommit_internals():
    # codecommit/repos.py reads (and events.py, patches/codecommit.py write) the metadata dict in place.
    assert "self.repositories" in inspect.getsource(CodeCommitBackend.__init__)
    init = inspect.getsource(CodeCommit.__init__)
    for key in ("repositoryName", "repositoryId", "Arn", "accountId", "lastModifiedDate", "cloneUrlHttp"):
        assert f'self.repository_metadata["{key}"]' in init, key
    assert "return repository.repository_metadata" in inspect.getsource(CodeCommitBackend.get_repository)
    for wrapped in ("create_repository", "delete_repository"):  # api.py wraps moto's own
        assert callable(getattr(CodeCommitResponse, wrapped)), wrapped
    for missing in (
        "get_branch",
        "get_commit",
        "get_differences",
        "batch_get_repositories",
        "update_default_branch",
        "update_repository_description",
        "tag_resource",
        "untag_resource",
    ):
        assert not hasattr(CodeCommitResponse, missing), f"moto implements {missing} now"
    # git_http.py: dulwich's receive-pack tells the post-receive hook what a push updated.
    assert _params(ReceivePackHandler._on_post_receive) == ["self", "client_refs"]
    assert "self._on_post_receive(" in inspect.getsource(ReceivePackHandler)
    assert "handlers" in _params(make_wsgi_chain)


def test_events_codepipeline_target_internals():
    # patches/events_codepipeline.py wraps send_to_targets and hands moto a copy without pipeline targets.
    assert _params(Rule.send_to_targets) == ["self", "original_event", "transform_input"]
    source = inspect.getsource(Rule.send_to_targets)
    assert "raise NotImplementedError" in source
    assert "codepipeline" not in source, "moto delivers to CodePipeline targets now"
    init = inspect.getsource(Rule.__init__)
    for attribute in ("self.targets", "self.state", "self.event_pattern"):
        assert attribute in init, attribute
    assert isinstance(inspect.getattr_static(Rule, "arn"), property)
    assert _params(EventPattern.matches_event) == ["self", "event"]
    assert parse_arn("arn:aws:codepipeline:us-east-1:123456789012:farm")._fields == (
        "account", "region", "service", "resource_type", "resource_id",
    )  # fmt: skip


def test_codebuild_internals():
    assert "self.project_metadata" in inspect.getsource(CodeBuild.__init__)
    assert "self.headers" in inspect.getsource(BaseResponse.setup_class)  # patches/codebuild.py: initiator
    for missing in (
        "batch_get_reports",
        "batch_get_report_groups",
        "describe_test_cases",
        "list_reports_for_report_group",
    ):
        assert not hasattr(CodeBuildResponse, missing), f"moto implements {missing} now"
    # pipeline/codebuild.py ships build logs into moto's Logs backend, as batch_runner.py does.
    assert "self.groups" in inspect.getsource(LogsBackend.__init__)
    assert _params(LogsBackend.ensure_log_group) == ["self", "log_group_name"]
    assert _params(LogsBackend.ensure_log_stream) == ["self", "log_group_name", "log_stream_name"]
    assert _params(LogsBackend.put_log_events) == ["self", "log_group_name", "log_stream_name", "log_events"]


def test_codepipeline_internals():
    # pipeline/codepipeline.py keeps its executions in moto's pipeline object and reads the declaration.
    assert "self.pipelines" in inspect.getsource(CodePipelineBackend.__init__)
    init = inspect.getsource(CodePipeline.__init__)
    for attribute in ("self.pipeline", "self.executions"):
        assert attribute in init, attribute
    metadata = inspect.getsource(CodePipeline.metadata.fget)
    for key in ("pipelineArn", "created", "updated"):
        assert f'"{key}"' in metadata, key
    for missing in ("get_pipeline_state", "list_action_executions", "stop_pipeline_execution"):
        assert not hasattr(CodePipelineResponse, missing), f"moto implements {missing} now"


def test_codedeploy_internals():
    init = inspect.getsource(CodeDeployBackend.__init__)
    for attribute in ("self.applications", "self.deployments", "self.deployment_groups"):
        assert attribute in init, attribute
    assert _params(CodeDeployBackend.get_deployment_group) == [
        "self", "application_name", "deployment_group_name",
    ]  # fmt: skip
    assert "self.compute_platform" in inspect.getsource(Application.__init__)
    group = inspect.getsource(DeploymentGroup.__init__)
    for attribute in (
        "self.deployment_config_name",
        "self.service_role_arn",
        "self.auto_rollback_configuration",
        "self.deployment_style",
    ):
        assert attribute in group, attribute
    # moto's records (non-Lambda deployments) sit beside ours: iam/requests.py and ListDeployments read them.
    info = inspect.getsource(DeploymentInfo.__init__)
    for attribute in (
        "self.application_name",
        "self.deployment_group_name",
        "self.status",
        "self.create_time",
    ):
        assert attribute in info, attribute
    assert callable(codedeploy_responses._deployment_info)
    assert _params(codedeploy_responses._deployment_info) == ["deployment"]
    assert callable(CodeDeployResponse.create_deployment)  # non-Lambda applications keep moto's
    for missing in (
        "stop_deployment",
        "put_lifecycle_event_hook_execution_status",
        "get_deployment_config",
        "list_deployment_configs",
        "get_deployment_target",
        "batch_get_deployment_targets",
        "list_deployment_targets",
        "delete_deployment_group",
    ):
        assert not hasattr(CodeDeployResponse, missing), f"moto implements {missing} now"
