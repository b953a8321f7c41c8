"""IAM: AWS managed policies exist, as in an account (e.g. service-role/AWSBatchServiceRole).

moto only creates them when asked (`iam.load_aws_managed_policies`); without them
`aws_iam_role_policy_attachment` of an `arn:aws:iam::aws:policy/...` ARN fails with NoSuchEntity.
Set before the first IAM backend is created (patches are applied before the server starts).
"""

from __future__ import annotations

from moto.core.config import default_user_config


def apply() -> None:
    default_user_config.setdefault("iam", {})["load_aws_managed_policies"] = True
