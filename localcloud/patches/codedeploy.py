"""CodeDeploy: DeleteApplication, DeleteDeploymentGroup, epoch timestamps (the Terraform provider), and
Lambda deployments that run (localcloud/pipeline/codedeploy.py): CreateDeployment, GetDeployment,
BatchGetDeployments, ListDeployments, StopDeployment, PutLifecycleEventHookExecutionStatus, the deployment
targets and the predefined deployment configurations. moto records deployments but never runs one; a
deployment of a non-Lambda application still gets moto's record (status Created forever)."""

from __future__ import annotations

import json

from moto.codedeploy import responses as moto_responses
from moto.codedeploy.responses import CodeDeployResponse

from localcloud.patches._json_protocol import drop_empty_objects, wrap_call_action
from localcloud.pipeline import codedeploy

_original_create_deployment = CodeDeployResponse.create_deployment


def delete_application(self) -> str:
    name = self._get_param("applicationName")
    backend = self.codedeploy_backend
    backend.applications.pop(name, None)
    backend.deployment_groups.pop(name, None)
    return "{}"


def delete_deployment_group(self) -> str:
    groups = self.codedeploy_backend.deployment_groups.get(self._get_param("applicationName"), {})
    groups.pop(self._get_param("deploymentGroupName"), None)
    return json.dumps({"hooksNotCleanedUp": []})


def _describe(found) -> dict:
    if isinstance(found, codedeploy.Deployment):
        return found.describe()
    return drop_empty_objects(moto_responses._deployment_info(found))


def _dumps(doc: dict) -> str:
    return json.dumps(doc, default=codedeploy._epoch)


def create_deployment(self):
    backend = self.codedeploy_backend
    if not codedeploy.is_lambda_application(backend, self._get_param("applicationName")):
        return _original_create_deployment(self)
    params = {
        name: self._get_param(name)
        for name in (
            "applicationName",
            "deploymentGroupName",
            "revision",
            "deploymentConfigName",
            "description",
            "autoRollbackConfiguration",
        )
    }
    return json.dumps({"deploymentId": codedeploy.create_deployment(backend, params)})


def get_deployment(self) -> str:
    found = codedeploy.find(self.codedeploy_backend, self._get_param("deploymentId"))
    return _dumps({"deploymentInfo": _describe(found)})


def batch_get_deployments(self) -> str:
    backend = self.codedeploy_backend
    ids = self._get_param("deploymentIds") or []
    if len(ids) > 25:
        raise codedeploy.CodeDeployError("BatchLimitExceededException", "The maximum number of ids is 25.")
    found = [backend.deployments[i] for i in ids if i in backend.deployments]
    return _dumps({"deploymentsInfo": [_describe(d) for d in found]})


def list_deployments(self) -> str:
    params = {
        name: self._get_param(name)
        for name in ("applicationName", "deploymentGroupName", "includeOnlyStatuses", "createTimeRange")
    }
    return json.dumps({"deployments": codedeploy.list_deployments(self.codedeploy_backend, params)})


def _ours(self) -> codedeploy.Deployment:
    found = codedeploy.find(self.codedeploy_backend, self._get_param("deploymentId"))
    if not isinstance(found, codedeploy.Deployment):
        raise codedeploy.CodeDeployError(
            "UnsupportedActionForDeploymentTypeException",
            "The local cloud runs deployments of the Lambda compute platform only.",
        )
    return found


def stop_deployment(self) -> str:
    enabled = self._get_param("autoRollbackEnabled")
    return json.dumps(codedeploy.stop_deployment(_ours(self), enabled))


def put_lifecycle_event_hook_execution_status(self) -> str:
    execution_id, status = self._get_param("lifecycleEventHookExecutionId"), self._get_param("status")
    return json.dumps(codedeploy.put_hook_status(_ours(self), execution_id, status))


def get_deployment_target(self) -> str:
    target = codedeploy.target(_ours(self), self._get_param("targetId"))
    return json.dumps({"deploymentTarget": target})


def batch_get_deployment_targets(self) -> str:
    deployment = _ours(self)
    targets = [codedeploy.target(deployment, t) for t in self._get_param("targetIds") or []]
    return json.dumps({"deploymentTargets": targets})


def list_deployment_targets(self) -> str:
    ids = codedeploy.target_ids(_ours(self), self._get_param("targetFilters"))
    return json.dumps({"targetIds": ids})


def get_deployment_config(self) -> str:
    info = codedeploy.deployment_config(self._get_param("deploymentConfigName"))
    return json.dumps({"deploymentConfigInfo": info})


def list_deployment_configs(self) -> str:
    return json.dumps({"deploymentConfigsList": codedeploy.deployment_config_names()})


def _omit_unconfigured(action: str, doc):
    if action in ("GetDeploymentGroup", "BatchGetDeploymentGroups", "GetApplication", "BatchGetApplications"):
        return drop_empty_objects(doc)
    return doc


def apply() -> None:
    CodeDeployResponse.delete_application = delete_application
    CodeDeployResponse.delete_deployment_group = delete_deployment_group
    CodeDeployResponse.create_deployment = create_deployment
    CodeDeployResponse.get_deployment = get_deployment
    CodeDeployResponse.batch_get_deployments = batch_get_deployments
    CodeDeployResponse.list_deployments = list_deployments
    CodeDeployResponse.stop_deployment = stop_deployment
    CodeDeployResponse.put_lifecycle_event_hook_execution_status = put_lifecycle_event_hook_execution_status
    CodeDeployResponse.get_deployment_target = get_deployment_target
    CodeDeployResponse.batch_get_deployment_targets = batch_get_deployment_targets
    CodeDeployResponse.list_deployment_targets = list_deployment_targets
    CodeDeployResponse.get_deployment_config = get_deployment_config
    CodeDeployResponse.list_deployment_configs = list_deployment_configs
    wrap_call_action(CodeDeployResponse, "codedeploy", _omit_unconfigured)
