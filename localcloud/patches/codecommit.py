"""CodeCommit for the Terraform provider (epoch timestamps, tags, description, encryption key) and the git
behind it: repositories are bare git repositories, and the API answers about branches, commits and
differences read them (localcloud/codecommit/)."""

from __future__ import annotations

import json

from moto.codecommit.responses import CodeCommitResponse

from localcloud.codecommit import api
from localcloud.patches._json_protocol import wrap_call_action

_TAGS: dict[str, dict[str, str]] = {}  # resource ARN -> tags (moto keeps none for CodeCommit)


def list_tags_for_resource(self) -> str:
    return json.dumps({"tags": _TAGS.get(self._get_param("resourceArn"), {})})


def tag_resource(self) -> str:
    _TAGS.setdefault(self._get_param("resourceArn"), {}).update(self._get_param("tags") or {})
    return "{}"


def untag_resource(self) -> str:
    tags = _TAGS.get(self._get_param("resourceArn"), {})
    for key in self._get_param("tagKeys") or []:
        tags.pop(key, None)
    return "{}"


def update_default_branch(self) -> str:
    repo = self.codecommit_backend.get_repository(self._get_param("repositoryName"))
    repo["defaultBranch"] = self._get_param("defaultBranchName")
    return "{}"


def update_repository_encryption_key(self) -> str:
    repo = self.codecommit_backend.get_repository(self._get_param("repositoryName"))
    original = repo.get("kmsKeyId", "alias/aws/codecommit")
    repo["kmsKeyId"] = self._get_param("kmsKeyId")
    return json.dumps(
        {"repositoryId": repo.get("repositoryId"), "kmsKeyId": repo["kmsKeyId"], "originalKmsKeyId": original}
    )


def update_repository_description(self) -> str:
    repo = self.codecommit_backend.get_repository(self._get_param("repositoryName"))
    repo["repositoryDescription"] = self._get_param("repositoryDescription") or ""
    return "{}"


def _create_repository_with_tags(original):
    def create_repository(self) -> str:
        body = original(self)
        metadata = json.loads(body)["repositoryMetadata"]
        if metadata.get("Arn") and self._get_param("tags"):
            _TAGS[metadata["Arn"]] = dict(self._get_param("tags"))
        if self._get_param("kmsKeyId"):  # moto drops the key; the provider compares it on read
            stored = self.codecommit_backend.get_repository(metadata["repositoryName"])
            stored["kmsKeyId"] = self._get_param("kmsKeyId")
            metadata["kmsKeyId"] = stored["kmsKeyId"]
            body = json.dumps({"repositoryMetadata": metadata})
        return body

    return create_repository


def apply() -> None:
    if not hasattr(CodeCommitResponse, "_localcloud_create"):
        CodeCommitResponse._localcloud_create = CodeCommitResponse.create_repository
        CodeCommitResponse.create_repository = _create_repository_with_tags(
            CodeCommitResponse.create_repository
        )
    CodeCommitResponse.list_tags_for_resource = list_tags_for_resource
    CodeCommitResponse.tag_resource = tag_resource
    CodeCommitResponse.untag_resource = untag_resource
    CodeCommitResponse.update_repository_description = update_repository_description
    if not hasattr(CodeCommitResponse, "_localcloud_git"):  # once: tf_codecommit wraps on top of it
        CodeCommitResponse._localcloud_git = True
        CodeCommitResponse.create_repository = api.create_repository_with_git(
            CodeCommitResponse.create_repository
        )
        CodeCommitResponse.delete_repository = api.delete_repository_with_git(
            CodeCommitResponse.delete_repository
        )
    CodeCommitResponse.list_branches = api.list_branches
    CodeCommitResponse.get_branch = api.get_branch
    CodeCommitResponse.get_commit = api.get_commit
    CodeCommitResponse.get_differences = api.get_differences
    CodeCommitResponse.batch_get_repositories = api.batch_get_repositories
    CodeCommitResponse.update_repository_encryption_key = update_repository_encryption_key
    CodeCommitResponse.update_default_branch = update_default_branch
    wrap_call_action(CodeCommitResponse, "codecommit")
