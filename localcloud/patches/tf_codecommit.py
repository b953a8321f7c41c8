"""CodeCommit for modules/pipeline: keep the repository's customer-managed KMS key.

moto 5.2.5 drops `kmsKeyId` on CreateRepository and never returns it, so every plan wants to set
`kms_key_id` again. Store it in the repository metadata that CreateRepository and GetRepository return.
Applied after localcloud/patches/codecommit.py (sorted by name), on top of its wrapper.
"""

from __future__ import annotations

import json

from moto.codecommit.responses import CodeCommitResponse


def _keep_kms_key(original):
    def create_repository(self) -> str:
        body = original(self)
        key = self._get_param("kmsKeyId")
        if not key:
            return body
        name = self._get_param("repositoryName")
        self.codecommit_backend.repositories[name].repository_metadata["kmsKeyId"] = key
        data = json.loads(body)
        data["repositoryMetadata"]["kmsKeyId"] = key
        return json.dumps(data)

    create_repository._localcloud_kms = True
    return create_repository


def apply() -> None:
    if not getattr(CodeCommitResponse.create_repository, "_localcloud_kms", False):
        CodeCommitResponse.create_repository = _keep_kms_key(CodeCommitResponse.create_repository)
