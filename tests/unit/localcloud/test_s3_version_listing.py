"""ListObjectVersions without copying the bucket (localcloud/patches/s3_version_listing.py) answers every page
exactly as moto's own implementation does, and stays fast on a big bucket."""

from __future__ import annotations

import inspect
import random
import time
import uuid

import pytest
from moto.s3.models import FakeKey, S3Backend

from localcloud import config, speedups
from localcloud.patches import s3_version_listing


def _versioned_bucket() -> tuple[S3Backend, str]:
    backend = S3Backend(config.REGION, config.ACCOUNT_ID)
    name = f"listing-{uuid.uuid4().hex}"  # bucket names are global across moto's backends
    backend.create_bucket(name, config.REGION)
    backend.put_bucket_versioning(name, "Enabled")
    return backend, name


def _backend_with_history(seed: int, keys: int) -> tuple[S3Backend, str]:
    """A versioned bucket with several versions per key, delete markers, nested prefixes."""
    rng = random.Random(seed)
    backend, bucket = _versioned_bucket()
    for n in range(keys):
        name = f"{rng.choice(['run-a', 'run-b', 'top'])}/{rng.choice(['x', 'y/z'])}/{n:04d}.svg"
        for _ in range(rng.randint(1, 3)):
            backend.put_object(bucket, name, f"{n}".encode())
        if rng.random() < 0.3:
            backend.delete_object(bucket, name)
    return backend, bucket


def _page(result) -> tuple:
    versions, prefixes, markers, next_key, next_version = result
    seen = lambda items: [(v.name, v.version_id, bool(getattr(v, "is_latest", False))) for v in items]  # noqa: E731
    return seen(versions), prefixes, seen(markers), next_key, next_version


def _all_pages(backend: S3Backend, bucket: str, listing, **params) -> list[tuple]:
    pages, key_marker, version_marker = [], None, None
    while True:
        page = _page(
            listing(backend, bucket, key_marker=key_marker, version_id_marker=version_marker, **params)
        )
        pages.append(page)
        if page[3] is None or len(pages) > 500:
            return pages
        key_marker, version_marker = page[3], page[4]


@pytest.mark.parametrize(
    "params",
    [
        {"max_keys": 1000},
        {"max_keys": 7},
        {"max_keys": 1},
        {"max_keys": 5, "prefix": "run-a/"},
        {"max_keys": 4, "delimiter": "/"},
        {"max_keys": 3, "prefix": "top/", "delimiter": "/"},
        {"max_keys": 6, "prefix": "nothing/"},
    ],
)
def test_every_page_matches_moto(params):
    backend, bucket = _backend_with_history(seed=len(str(params)), keys=60)
    ours = _all_pages(backend, bucket, s3_version_listing.list_object_versions, **params)
    motos = _all_pages(backend, bucket, s3_version_listing.original_list_object_versions, **params)
    assert ours == motos
    assert sum(len(p[0]) + len(p[1]) + len(p[2]) for p in ours) > 0 or params.get("prefix") == "nothing/"


@pytest.fixture
def speedups_off():
    before = speedups.enabled()
    speedups.set_enabled(False)
    try:
        yield
    finally:
        speedups.set_enabled(before)


@pytest.mark.parametrize("params", [{"max_keys": 1000}, {"max_keys": 7}, {"max_keys": 4, "delimiter": "/"}])
def test_the_switch_off_runs_motos_own_listing(speedups_off, params):
    backend, bucket = _backend_with_history(seed=11, keys=40)
    off = _all_pages(backend, bucket, s3_version_listing.list_object_versions, **params)
    motos = _all_pages(backend, bucket, s3_version_listing.original_list_object_versions, **params)
    assert off == motos and len(off) >= 1
    # moto's own code answered (its deep copies), not the read-only views; the switch is read on every call
    first = s3_version_listing.list_object_versions(backend, bucket, max_keys=5)[0]
    assert first and not any(isinstance(v, s3_version_listing.ListedVersion) for v in first)
    speedups.set_enabled(True)
    first = s3_version_listing.list_object_versions(backend, bucket, max_keys=5)[0]
    assert first and all(isinstance(v, s3_version_listing.ListedVersion) for v in first)


def test_a_key_marker_alone_pages_like_moto():
    backend, bucket = _backend_with_history(seed=3, keys=30)
    for marker in ("run-a/x/0005.svg", "run-b/", "top/y/z/0010.svg", "zzz"):
        ours = _page(s3_version_listing.list_object_versions(backend, bucket, key_marker=marker, max_keys=5))
        motos = _page(
            s3_version_listing.original_list_object_versions(backend, bucket, key_marker=marker, max_keys=5)
        )
        assert ours == motos, marker


def _force_destroy_pass(backend: S3Backend, bucket: str, listing, kind: str, max_keys: int) -> int:
    """One emptying pass of Terraform's force_destroy (provider 5.x emptyBucket): page through with the
    markers, deleting each page's versions ("versions") or delete markers ("markers") before the next page.
    Returns the number deleted."""
    deleted, key_marker, version_marker = 0, None, None
    for _ in range(1000):
        versions, _, markers, key_marker, version_marker = listing(
            backend, bucket, key_marker=key_marker, version_id_marker=version_marker, max_keys=max_keys
        )
        for item in versions if kind == "versions" else markers:
            backend.delete_object(bucket, item.name, version_id=item.version_id)
            deleted += 1
        if key_marker is None:
            return deleted
    raise AssertionError("the pass did not end")


def _stored(backend: S3Backend, bucket: str) -> list[tuple[str, str, bool]]:
    return sorted(
        (name, str(v.version_id), isinstance(v, FakeKey))
        for name, versions in backend.get_bucket(bucket).keys.iterlists()
        for v in versions
    )


@pytest.mark.parametrize("max_keys", [1000, 7, 2])
def test_force_destroy_empties_in_one_pass_after_deleting_each_page(max_keys):
    backend, bucket = _backend_with_history(seed=7, keys=60)
    versions = sum(1 for *_, is_object in _stored(backend, bucket) if is_object)
    markers = len(_stored(backend, bucket)) - versions
    assert markers > 0 and versions > 3 * max_keys or max_keys == 1000
    listing = s3_version_listing.list_object_versions
    assert _force_destroy_pass(backend, bucket, listing, "versions", max_keys) == versions
    assert all(not is_object for *_, is_object in _stored(backend, bucket))
    assert _force_destroy_pass(backend, bucket, listing, "markers", max_keys) == markers
    assert _stored(backend, bucket) == []


def test_moto_stops_at_a_deleted_marker_and_so_does_the_switch_off(speedups_off):
    # Why the patch remembers page ends: moto's own listing answers an empty page after a deleted marker,
    # so a pass deletes one page only. If moto ever pages on here, the remembering may be dropped.
    backend, bucket = _backend_with_history(seed=7, keys=60)
    versions = sum(1 for *_, is_object in _stored(backend, bucket) if is_object)
    listing = s3_version_listing.list_object_versions
    assert _force_destroy_pass(backend, bucket, listing, "versions", max_keys=7) == 7 < versions


def test_a_marker_still_stored_or_never_handed_out_pages_as_moto():
    backend, bucket = _backend_with_history(seed=9, keys=30)
    first = s3_version_listing.list_object_versions(backend, bucket, max_keys=5)
    for key_marker, version_marker in ((first[3], first[4]), (first[3], "no-such-version")):
        ours = _page(
            s3_version_listing.list_object_versions(
                backend, bucket, key_marker=key_marker, version_id_marker=version_marker, max_keys=5
            )
        )
        motos = _page(
            s3_version_listing.original_list_object_versions(
                backend, bucket, key_marker=key_marker, version_id_marker=version_marker, max_keys=5
            )
        )
        assert ours == motos, version_marker


def test_listing_changes_nothing_stored():
    backend, bucket = _backend_with_history(seed=5, keys=20)
    before = [(n, [v.version_id for v in vs]) for n, vs in backend.get_bucket(bucket).keys.iterlists()]
    s3_version_listing.list_object_versions(backend, bucket, max_keys=1000)
    after = [(n, [v.version_id for v in vs]) for n, vs in backend.get_bucket(bucket).keys.iterlists()]
    assert before == after
    stored = [v for _, vs in backend.get_bucket(bucket).keys.iterlists() for v in vs]
    assert not any(hasattr(v, "is_latest") and "is_latest" in vars(v) for v in stored)


def test_a_page_of_a_big_bucket_is_fast():
    backend, name = _versioned_bucket()
    template = backend.put_object(name, "seed", b"x")
    keys = backend.get_bucket(name).keys
    for n in range(20000):  # stored directly: 20,000 PUTs would dominate the test
        keys[f"k/{n:06d}"] = template
    started = time.perf_counter()
    page = s3_version_listing.list_object_versions(backend, name, key_marker="k/010000", max_keys=1000)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    s3_version_listing.original_list_object_versions(backend, name, key_marker="k/010000", max_keys=1000)
    motos = time.perf_counter() - started
    assert len(page[0]) == 1000
    assert ours * 5 < motos, f"one page took {ours:.3f} s, moto's {motos:.3f} s"


def test_moto_still_copies_the_bucket_and_the_patch_is_applied_by_the_server():
    # If moto stops deep-copying, this patch may be dropped.
    assert "copy.deepcopy(version_key)" in inspect.getsource(s3_version_listing.original_list_object_versions)
    s3_version_listing.apply()
    try:
        assert S3Backend.list_object_versions is s3_version_listing.list_object_versions
    finally:
        S3Backend.list_object_versions = s3_version_listing.original_list_object_versions
