"""CodeBuild for modules/pipeline: location-less CodePipeline projects, and their KMS key.

- AWS ignores `location` for the CODEPIPELINE (and NO_SOURCE) types and the Terraform provider sends none;
  moto 5.2.5 demands one for every type. Keep moto's checks for every other type.
- moto ignores `encryptionKey` and reports alias/aws/s3, so every plan wants to change it back. Keep it.
- DeleteProject takes a name or an ARN (the provider deletes by ARN); moto looks the ARN up as a name, finds
  nothing and keeps the project, so a destroy followed by an apply fails with ResourceAlreadyExistsException.
"""

from __future__ import annotations

from typing import Any

from moto.codebuild import responses
from moto.codebuild.models import CodeBuildBackend
from moto.codebuild.responses import CodeBuildResponse

_LOCATIONLESS_SOURCES = {"CODEPIPELINE", "NO_SOURCE"}
_original_source = responses._validate_required_params_source
_original_artifacts = responses._validate_required_params_artifacts
_original_delete_project = CodeBuildBackend.delete_project


def _validate_source(source: dict[str, Any]) -> None:
    if source.get("type") in _LOCATIONLESS_SOURCES and not source.get("location"):
        return
    _original_source(source)


def _validate_artifacts(artifacts: dict[str, Any]) -> None:
    if artifacts.get("type") == "CODEPIPELINE" and not artifacts.get("location"):
        return
    _original_artifacts(artifacts)


def _keep_encryption_key(original):
    def create_project(self):
        result = original(self)
        key = self._get_param("encryptionKey")
        if key:
            self.codebuild_backend.codebuild_projects[self._get_param("name")].project_metadata[
                "encryptionKey"
            ] = key
        return result

    create_project._localcloud_kms = True
    return create_project


def _delete_project(self: CodeBuildBackend, project_name: str) -> None:
    # arn:aws:codebuild:<region>:<account>:project/<name>
    _original_delete_project(self, project_name.rsplit(":project/", 1)[-1])


def apply() -> None:
    CodeBuildBackend.delete_project = _delete_project
    responses._validate_required_params_source = _validate_source
    responses._validate_required_params_artifacts = _validate_artifacts
    if not getattr(CodeBuildResponse.create_project, "_localcloud_kms", False):
        CodeBuildResponse.create_project = _keep_encryption_key(CodeBuildResponse.create_project)
