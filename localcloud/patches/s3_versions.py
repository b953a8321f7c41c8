"""S3: deleting versions of a bucket whose versioning is suspended answers 204, as AWS does, not 500.

Terraform suspends versioning when it destroys `aws_s3_bucket_versioning`, before the bucket's force_destroy
empties it by deleting every version and delete marker by id. moto 5.2.5 treats a suspended bucket as
unversioned: DeleteObject ignores the version id and pops the key's whole history, and
`_VersionedKeyStore.pop` calls `dispose()` on every version, which a `FakeDeleteMarker` does not have:
AttributeError, HTTP 500, and the provider retries for many minutes.

Two fixes:
- `pop` disposes only versions that can be disposed (the guard moto's own `setlist` has);
- a delete with a version id removes exactly that version in a suspended bucket too (AWS: a version id always
  names one version). Otherwise removing a delete marker by id would remove the object it hides instead of
  restoring it. A delete without a version id keeps moto's behaviour (the key is removed).
"""

from __future__ import annotations

from typing import Any

from moto.s3 import notifications
from moto.s3.exceptions import AccessDeniedByLock
from moto.s3.models import FakeDeleteMarker, FakeKey, S3Backend
from moto.s3.utils import _VersionedKeyStore

_original_delete_object = S3Backend.delete_object


def _pop(self: _VersionedKeyStore, key: str) -> None:
    for version in self.getlist(key, []):
        if hasattr(version, "dispose"):  # FakeKey; a FakeDeleteMarker holds no buffer
            version.dispose()
    dict.pop(self, key)


def _delete_version(
    backend: S3Backend, bucket: Any, key_name: str, version_id: str, bypass: bool
) -> tuple[bool, dict[str, Any]]:
    """moto's versioned branch of delete_object (5.2.5): remove the one version `version_id` of the key."""
    versions = bucket.keys.getlist(key_name)
    if not versions:
        return False, {}
    response_meta = {"version-id": version_id}
    current = bucket.keys.get(key_name)
    for key in versions:
        if str(key.version_id) == str(version_id):
            if isinstance(key, FakeKey) and key.is_locked(governance_bypass=bypass):
                raise AccessDeniedByLock
            if type(key) is FakeDeleteMarker and type(key.key) is FakeDeleteMarker:
                response_meta["delete-marker"] = "true"  # a marker over a marker (moto's rule, kept)
            break
    bucket.keys.setlist(key_name, [k for k in versions if str(k.version_id) != str(version_id)])
    if not bucket.keys.getlist(key_name):
        bucket.keys.pop(key_name)
        notifications.send_event(
            backend.account_id,
            notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_EVENT,
            bucket,
            current,
        )
    return True, response_meta


def _delete_object(
    self: S3Backend,
    bucket_name: str,
    key_name: str,
    version_id: str | None = None,
    bypass: bool = False,
) -> tuple[bool, dict[str, Any]]:
    bucket = self.get_bucket(bucket_name)
    if version_id is not None and bucket.versioning_status == "Suspended":
        return _delete_version(self, bucket, key_name, version_id, bypass)
    return _original_delete_object(self, bucket_name, key_name, version_id=version_id, bypass=bypass)


_delete_object.__wrapped__ = _original_delete_object  # type: ignore[attr-defined]


def apply() -> None:
    _VersionedKeyStore.pop = _pop  # type: ignore[method-assign]
    S3Backend.delete_object = _delete_object  # type: ignore[method-assign]
