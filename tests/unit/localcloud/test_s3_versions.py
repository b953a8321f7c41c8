"""Deleting versions and delete markers answers 2xx, as on AWS, also once versioning is suspended (what
Terraform does before force_destroy empties a bucket): localcloud/patches/s3_versions.py. Listing versions
keeps no copy of the bucket: localcloud/patches/s3_version_copies.py."""

from __future__ import annotations

import copy
import inspect
import uuid
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import version
from pathlib import Path

import pytest
from moto.s3.models import FakeAcl, FakeBucket, FakeDeleteMarker, FakeKey, S3Backend
from moto.s3.utils import _VersionedKeyStore

from localcloud import config, lifecycle
from localcloud.patches import s3_version_copies, s3_versions

# ---- the moto internals the patch replaces (moto is pinned exactly) --------------------------------------


def test_moto_internals_the_patch_relies_on():
    assert version("moto") == "5.2.5"
    assert not hasattr(FakeDeleteMarker, "dispose"), "moto's delete markers can be disposed now"
    assert "version.dispose()" in inspect.getsource(_VersionedKeyStore.pop)
    assert 'hasattr(existing_version, "dispose")' in inspect.getsource(_VersionedKeyStore.setlist)
    original = getattr(S3Backend.delete_object, "__wrapped__", S3Backend.delete_object)
    assert list(inspect.signature(original).parameters) == [
        "self", "bucket_name", "key_name", "version_id", "bypass",
    ]  # fmt: skip
    source = inspect.getsource(original)
    for line in (
        "if not bucket.is_versioned:",  # a suspended bucket takes this branch, version id or not
        "bucket.keys.pop(key_name)",
        "key.is_locked(",
        "type(key.key) is FakeDeleteMarker",
        "bucket.keys.setlist(",
        "notifications.S3NotificationEvent.OBJECT_REMOVED_DELETE_EVENT",
    ):
        assert line in source, line
    assert 'self.versioning_status == "Enabled"' in inspect.getsource(FakeBucket.is_versioned.fget)
    assert "self.delete_object(" in inspect.getsource(S3Backend.delete_objects)


def _history() -> _VersionedKeyStore:
    """A key with one object version and a delete marker over it, as moto stores them."""
    store = _VersionedKeyStore()
    key = FakeKey(name="k", value=b"1", account_id=config.ACCOUNT_ID, region_name=config.REGION)
    store["k"] = key
    store["k"] = FakeDeleteMarker(key=key)
    return store


def test_unpatched_pop_still_crashes_on_a_delete_marker():
    store = _history()
    with pytest.raises(AttributeError, match="dispose"):
        _VersionedKeyStore.pop(store, "k")
    for version_ in store.getlist("k"):
        if hasattr(version_, "dispose"):
            version_.dispose()


def test_patched_pop_disposes_the_objects_and_skips_the_markers():
    store = _history()
    key = store.getlist("k")[0]
    s3_versions._pop(store, "k")
    assert "k" not in store and key.disposed
    with pytest.raises(KeyError):
        s3_versions._pop(store, "k")


# ---- behaviour, through the local cloud --------------------------------------------------------------------


@pytest.fixture
def s3(cloud):
    mark = lifecycle.error_mark(cloud.port, cloud.state_dir)
    yield cloud.client("s3")
    assert lifecycle.new_errors(mark, cloud.port, cloud.state_dir) == []


def _bucket(s3) -> str:
    bucket = f"versions-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    return bucket


def _status(response: dict) -> int:
    return response["ResponseMetadata"]["HTTPStatusCode"]


def _versions(s3, bucket: str) -> list[tuple[str, str]]:
    listed = s3.list_object_versions(Bucket=bucket)
    return [(v["Key"], v["VersionId"]) for v in listed.get("Versions", []) + listed.get("DeleteMarkers", [])]


@pytest.mark.parametrize("versioning", ["Enabled", "Suspended"])
def test_delete_the_marker_then_every_version(s3, versioning):
    bucket = _bucket(s3)
    s3.put_object(Bucket=bucket, Key="a.svg", Body=b"one")
    s3.put_object(Bucket=bucket, Key="a.svg", Body=b"two")
    deleted = s3.delete_object(Bucket=bucket, Key="a.svg")
    assert _status(deleted) == 204 and deleted["DeleteMarker"] is True
    if versioning == "Suspended":  # what destroying aws_s3_bucket_versioning does before the bucket goes
        s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})

    assert _status(s3.delete_object(Bucket=bucket, Key="a.svg", VersionId=deleted["VersionId"])) == 204
    assert s3.get_object(Bucket=bucket, Key="a.svg")["Body"].read() == b"two"  # the marker's removal restores
    remaining = _versions(s3, bucket)
    assert len(remaining) == 2
    for key, version_id in remaining:
        assert _status(s3.delete_object(Bucket=bucket, Key=key, VersionId=version_id)) == 204
    assert _versions(s3, bucket) == []
    assert _status(s3.delete_bucket(Bucket=bucket)) == 204


@pytest.mark.parametrize("versioning", ["Enabled", "Suspended"])
def test_delete_objects_empties_a_bucket_with_markers(s3, versioning):
    """The batch call (DeleteObjects with version ids), as a force_destroy of a bucket with many objects."""
    bucket = _bucket(s3)
    for name in ("a", "b", "c"):
        s3.put_object(Bucket=bucket, Key=name, Body=name.encode())
        s3.put_object(Bucket=bucket, Key=name, Body=name.encode() * 2)
    s3.delete_object(Bucket=bucket, Key="a")
    s3.delete_object(Bucket=bucket, Key="b")
    s3.delete_object(Bucket=bucket, Key="b")  # a marker over a marker
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": versioning})
    every = _versions(s3, bucket)
    assert len(every) == 9
    answer = s3.delete_objects(
        Bucket=bucket, Delete={"Objects": [{"Key": k, "VersionId": v} for k, v in every], "Quiet": False}
    )
    assert _status(answer) == 200 and not answer.get("Errors")
    assert len(answer["Deleted"]) == 9
    assert _versions(s3, bucket) == []
    s3.delete_bucket(Bucket=bucket)


def test_a_version_id_names_one_version_in_a_suspended_bucket(s3):
    bucket = _bucket(s3)
    first = s3.put_object(Bucket=bucket, Key="k", Body=b"one")["VersionId"]
    s3.put_object(Bucket=bucket, Key="k", Body=b"two")
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    assert _status(s3.delete_object(Bucket=bucket, Key="k", VersionId=first)) == 204
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"two"
    assert [v for _, v in _versions(s3, bucket)] != [first] and len(_versions(s3, bucket)) == 1
    # Already gone: still 204, as on AWS.
    assert _status(s3.delete_object(Bucket=bucket, Key="k", VersionId=first)) == 204


# ---- the copies ListObjectVersions makes are freed (localcloud/patches/s3_version_copies.py) ---------------


def test_moto_internals_the_copies_patch_relies_on():
    from moto.core.common_models import BaseModel

    assert "copy.deepcopy(version_key)" in inspect.getsource(S3Backend.list_object_versions)
    assert "cls.instances_tracked.append(instance)" in inspect.getsource(BaseModel.__new__)
    assert "instances_tracked" in inspect.getsource(S3Backend.reset)  # its only reader
    original = s3_version_copies._original_key_setstate
    assert list(inspect.signature(original).parameters) == ["self", "state"]
    assert "self._value_buffer = tempfile.SpooledTemporaryFile(" in inspect.getsource(original)
    for cls in s3_version_copies.COPIED_WITH_A_KEY:
        own = vars(cls).get("__setstate__")
        assert own in (None, s3_version_copies._model_setstate), f"{cls.__name__} has its own __setstate__"
        assert "__slots__" not in vars(cls)


def test_the_models_a_copied_key_brings_along():
    """Every tracked model a deepcopy of a key (with its ACL and a multipart) and a marker creates is one the
    patch untracks: a new one in moto would be kept forever again."""
    from moto.core.model_instances import model_data
    from moto.s3.models import FakeMultipart, get_canned_acl

    key = FakeKey(name="k", value=b"v", account_id=config.ACCOUNT_ID, region_name=config.REGION)
    key.set_acl(get_canned_acl("public-read"))
    key.multipart = FakeMultipart("k", {}, account_id=config.ACCOUNT_ID, region_name=config.REGION)
    marker = FakeDeleteMarker(key=key)
    before = {cls: len(cls.instances_tracked) for cls in model_data["s3"].values()}
    copied = copy.deepcopy([key, marker])
    grown = {cls for cls in model_data["s3"].values() if len(cls.instances_tracked) > before[cls]}
    assert grown <= {FakeKey, *s3_version_copies.COPIED_WITH_A_KEY}, grown
    assert {FakeKey, FakeDeleteMarker, FakeAcl} <= grown
    for version_ in (*copied, key):
        if isinstance(version_, FakeKey):
            version_.dispose()


def test_a_copy_is_untracked_and_keeps_its_value():
    key = FakeKey(name="k", value=b"data", account_id=config.ACCOUNT_ID, region_name=config.REGION)
    copied = FakeKey.__new__(FakeKey)  # what deepcopy does first: moto tracks it
    assert FakeKey.instances_tracked[-1] is copied
    s3_version_copies._key_setstate(copied, key.__getstate__())
    assert copied.value == b"data" and all(k is not copied for k in FakeKey.instances_tracked)
    marker = FakeDeleteMarker.__new__(FakeDeleteMarker)
    s3_version_copies._model_setstate(marker, {"key": copied, "name": "k"})
    assert marker.key is copied and all(m is not marker for m in FakeDeleteMarker.instances_tracked)
    assert not s3_version_copies.untrack(FakeKey, copied)
    key.dispose()


def _rss_mb(cloud) -> float:
    pid = lifecycle.health(cloud.port)["pid"]
    status = Path(f"/proc/{pid}/status").read_text()
    return int(status.split("VmRSS:")[1].split()[0]) / 1024


def test_listing_versions_does_not_keep_a_copy_of_the_bucket(s3, cloud):
    bucket = _bucket(s3)
    body = b"x" * 100_000
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(lambda i: s3.put_object(Bucket=bucket, Key=f"r/{i:04d}.svg", Body=body), range(300)))
    s3.list_object_versions(Bucket=bucket)  # the heap reaches its working size
    before = _rss_mb(cloud)
    for _ in range(8):  # each kept copy would be 30 MB: 240 MB in all
        assert len(s3.list_object_versions(Bucket=bucket)["Versions"]) == 300
    assert _rss_mb(cloud) - before < 100
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Suspended"})
    every = _versions(s3, bucket)
    s3.delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": k, "VersionId": v} for k, v in every]})
    s3.delete_bucket(Bucket=bucket)
