"""EFS: DeleteFileSystemPolicy, which moto 5.2.5 lacks (NotImplementedError, HTTP 500).

Without it `terraform destroy` of an `aws_efs_file_system_policy` retries for minutes and fails. Deleting
clears the stored policy, so a later DescribeFileSystemPolicy answers PolicyNotFound as AWS does.
"""

from __future__ import annotations

from moto.efs.responses import EFSResponse


def _delete_file_system_policy(self: EFSResponse):
    file_system_id = self._get_param("FileSystemId")
    # describe_file_system raises FileSystemNotFound (404) for an unknown id, as AWS does.
    _, file_systems = self.efs_backend.describe_file_systems(file_system_id=file_system_id)
    file_systems[0].file_system_policy = None
    return 200, {"Content-Type": "application/json"}, ""


def apply() -> None:
    EFSResponse.delete_file_system_policy = _delete_file_system_policy
