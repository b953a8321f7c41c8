"""S3: bucket policies are evaluated by the IAM authorizer (localcloud/iam/authorizer.py), for every caller.

moto 5.2.5 evaluates a bucket policy itself on object requests, with no request context and only
`StringEquals` understood, and answers a denial 403 with an empty body (botocore then reports the code as
`403`, not `AccessDenied`). The authorizer evaluates the bucket policy before the request reaches moto
(conditions from the request, principals checked, an explicit Deny binding the admin keys too) and answers
S3's XML AccessDenied, so moto's own check is switched off here: it would only disagree.
"""

from __future__ import annotations

from moto.iam.access_control import PermissionResult
from moto.s3.models import FakeBucket


def _get_permission(self: FakeBucket, action: str, resource: str) -> PermissionResult:
    return PermissionResult.NEUTRAL


def apply() -> None:
    FakeBucket.get_permission = _get_permission
