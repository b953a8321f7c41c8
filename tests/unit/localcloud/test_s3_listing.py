"""patches/s3_listing.py: ListObjects(V2) under a prefix and timestamp serialisation give exactly moto's
answers, with the speed-ups on and off (in-process moto, the patch applied for the test)."""

from __future__ import annotations

from datetime import UTC, datetime

import boto3
import pytest
from moto import mock_aws
from moto.core.serialize import TimestampSerializer
from moto.s3.models import S3Backend

from localcloud import speedups
from localcloud.patches import s3_listing

BUCKET = "listing-bucket"


@pytest.fixture
def s3(monkeypatch):
    monkeypatch.setattr(S3Backend, "list_objects", s3_listing.list_objects)
    monkeypatch.setattr(S3Backend, "list_objects_v2", s3_listing.list_objects_v2)
    monkeypatch.setattr(
        TimestampSerializer, "_convert_timestamp_to_str", s3_listing._convert_timestamp_to_str
    )
    with mock_aws():
        keys = {"aws_access_key_id": "k", "aws_secret_access_key": "s"}  # mock_aws takes any
        client = boto3.client("s3", region_name="us-east-1", **keys)
        client.create_bucket(Bucket=BUCKET)
        client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        for run in ("run-a", "run-b", "run-ab"):
            for i in range(7):
                client.put_object(Bucket=BUCKET, Key=f"{run}/p{i % 3}/sku-{i}.svg", Body=b"<svg/>")
            client.put_object(Bucket=BUCKET, Key=f"{run}/manifest.json", Body=b"{}")
        client.put_object(Bucket=BUCKET, Key="run-a/p0/sku-0.svg", Body=b"<svg>2</svg>")  # a second version
        client.delete_object(Bucket=BUCKET, Key="run-a/p1/sku-1.svg")  # a delete marker: never listed
        client.put_object(Bucket=BUCKET, Key="top.txt", Body=b"x")
        yield client
    speedups.set_enabled(True)


def _pages(client, v2: bool, **kwargs) -> list[dict]:
    name = "list_objects_v2" if v2 else "list_objects"
    pages = []
    for page in client.get_paginator(name).paginate(Bucket=BUCKET, **kwargs):
        page.pop("ResponseMetadata", None)
        pages.append(page)
    return pages


CASES = [
    {"Prefix": "run-a/"},
    {"Prefix": "run-a"},
    {"Prefix": "run-a/", "Delimiter": "/"},
    {"Prefix": "run-", "Delimiter": "/"},
    {"Prefix": "run-a/", "PaginationConfig": {"PageSize": 2}},
    {"Prefix": "run-b/p", "Delimiter": "/", "PaginationConfig": {"PageSize": 1}},
    {"Prefix": "nothing/"},
    {"Prefix": "run-a/", "StartAfter": "run-a/zzz"},
    {"StartAfter": "run-b", "PaginationConfig": {"PageSize": 3}},
    {"Prefix": "run-a/p1/", "PaginationConfig": {"PageSize": 1}},  # the deleted key at a page's edge
    {"MaxKeys": 0},
    {},
]


PARAMS = [
    pytest.param(case, v2, id=f"{case}-{'v2' if v2 else 'v1'}")
    for case in CASES
    for v2 in (True, False)
    if v2 or "StartAfter" not in case  # ListObjects (v1) has no StartAfter
]


@pytest.mark.parametrize(("case", "v2"), PARAMS)
def test_listings_are_moto_s_own_with_the_speed_ups_on(s3, case, v2, monkeypatch):
    speedups.set_enabled(False)
    expected = _pages(s3, v2, **case)
    speedups.set_enabled(True)
    narrowed = []  # the buckets moto's own list_objects was handed: only the prefix's keys when there is one
    original = s3_listing.original_list_objects

    def spy(self, bucket, *args):
        narrowed.append(sorted(dict.keys(bucket.keys)))
        return original(self, bucket, *args)

    monkeypatch.setattr(s3_listing, "original_list_objects", spy)
    assert _pages(s3, v2, **case) == expected
    prefix = case.get("Prefix", "")
    if v2 and not case.get("Delimiter") and case.get("MaxKeys") != 0:
        assert not narrowed  # a V2 page without a delimiter never walks moto's whole listing
        return
    assert narrowed and all(all(name.startswith(prefix) for name in names) for names in narrowed)
    if prefix:
        assert all("top.txt" not in names for names in narrowed)


def test_an_unknown_continuation_token_gets_moto_s_own_answer(s3):
    def attempt() -> str:
        try:
            s3.list_objects_v2(Bucket=BUCKET, Prefix="run-a/", ContinuationToken="not-a-token")
        except Exception as exc:  # noqa: BLE001 - whatever moto answers, the same both ways
            return f"{type(exc).__name__}: {exc}"
        return "answered"

    speedups.set_enabled(False)
    expected = attempt()
    speedups.set_enabled(True)
    assert attempt() == expected


def test_start_after_and_a_deleted_key_as_moto(s3):
    speedups.set_enabled(False)
    expected = _pages(s3, True, Prefix="run-a/", StartAfter="run-a/p0/sku-3.svg")
    speedups.set_enabled(True)
    got = _pages(s3, True, Prefix="run-a/", StartAfter="run-a/p0/sku-3.svg")
    assert got == expected
    assert "run-a/p1/sku-1.svg" not in [o["Key"] for p in got for o in p.get("Contents", [])]


@pytest.mark.parametrize(
    "value",
    ["2026-11-30T12:00:00.000Z", "2026-11-30T12:00:00Z", "2026-11-30T12:00:00.123456Z",
     "2026-11-30T12:00:00+00:00", "2026-11-30", datetime(2026, 11, 30, 12, 0, 1, 5000, tzinfo=UTC),
     datetime(2026, 11, 30, 12, 0, 1)],
)  # fmt: skip
@pytest.mark.parametrize("form", ["iso8601", "iso8601_zeroed", "rfc822", "unixtimestamp"])
def test_timestamps_serialise_as_moto_does(value, form):
    serializer = TimestampSerializer(form)
    want = s3_listing.original_convert_timestamp_to_str(serializer, value, form)
    assert s3_listing._convert_timestamp_to_str(serializer, value, form) == want


def test_only_moto_s_own_iso_form_takes_the_fast_path():
    assert s3_listing.fast_timestamp("2026-11-30T12:00:00.000Z") == datetime(2026, 11, 30, 12, tzinfo=UTC)
    for other in ("2026-11-30T12:00:00+00:00", "2026-11-30", "30 Nov 2026", 1796040000, None):
        assert s3_listing.fast_timestamp(other) is None
