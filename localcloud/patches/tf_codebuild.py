"""CodeBuild for modules/pipeline: location-less CodePipeline projects, and their KMS key.

- AWS ignores `location` for the CODEPIPELINE (and NO_SOURCE) types and the Terraform provider sends none;
  moto 5.2.5 demands one for every type. Keep moto's checks for every other type.
- moto ignores `encryptionKey` and reports alias/aws/s3, so every plan wants to change it back. Keep it.
"""

from __future__ import annotations

from typing import Any

from moto.codebuild import responses
from moto.codebuild.responses import CodeBuildResponse

_LOCATIONLESS_SOURCES = {"CODEPIPELINE", "NO_SOURCE"}
_original_source = responses._validate_required_params_source
_original_artifacts = responses._validate_required_params_artifacts


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


def apply() -> None:
    responses._validate_required_params_source = _validate_source
    responses._validate_required_params_artifacts = _validate_artifacts
    if not getattr(CodeBuildResponse.create_project, "_localcloud_kms", False):
        CodeBuildResponse.create_project = _keep_encryption_key(CodeBuildResponse.create_project)
