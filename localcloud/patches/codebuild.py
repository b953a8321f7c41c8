"""CodeBuild for the Terraform provider: UpdateProject (the provider calls it after CreateProject)."""

from __future__ import annotations

import json

from moto.codebuild.exceptions import ResourceNotFoundException
from moto.codebuild.responses import CodeBuildResponse
from moto.core.responses import ActionResult
from moto.core.utils import unix_time


def update_project(self) -> ActionResult:
    name = self._get_param("name")
    project = self.codebuild_backend.codebuild_projects.get(name)
    if project is None:
        raise ResourceNotFoundException(f"Project cannot be found: {name}")
    metadata = project.project_metadata
    for key, value in json.loads(self.body or "{}").items():
        if key == "name":
            continue
        if key == "badgeEnabled":
            metadata["badge"] = {"badgeEnabled": value}
        else:
            metadata[key] = value  # request members are named like the Project shape's
    if "tags" in metadata:
        project.tags = metadata["tags"]
    metadata["lastModifiedDate"] = unix_time()
    return ActionResult({"project": metadata})


def apply() -> None:
    CodeBuildResponse.update_project = update_project
