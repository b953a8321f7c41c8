"""CodeDeploy for the Terraform provider: DeleteApplication, DeleteDeploymentGroup, epoch timestamps."""

from __future__ import annotations

import json

from moto.codedeploy.responses import CodeDeployResponse

from localcloud.patches._json_protocol import drop_empty_objects, wrap_call_action


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


def _omit_unconfigured(action: str, doc):
    if action in ("GetDeploymentGroup", "BatchGetDeploymentGroups", "GetApplication", "BatchGetApplications"):
        return drop_empty_objects(doc)
    return doc


def apply() -> None:
    CodeDeployResponse.delete_application = delete_application
    CodeDeployResponse.delete_deployment_group = delete_deployment_group
    wrap_call_action(CodeDeployResponse, "codedeploy", _omit_unconfigured)
