"""tests/perf/teardown.py: the tear-down scaling measurement, at small counts (the perf session runs it at
10,000 and 20,000 objects)."""

from __future__ import annotations

import json

from moto.s3.models import S3Backend

from localcloud import speedups
from localcloud.patches import s3_version_listing
from tests.perf import teardown


def test_listing_scaling_empties_every_bucket_both_ways_and_undoes_the_patches():
    before = S3Backend.list_object_versions
    switch = speedups.enabled()
    result = teardown.listing_scaling(counts=(1000, 500), versions=2)
    json.dumps(result)  # JSON-able, as the report needs
    assert result["counts"] == [500, 1000] and result["versions"] == 2
    for label in ("off", "on"):
        assert set(result[f"{label}_s"]) == {"500", "1000"}
        assert all(seconds > 0 for seconds in result[f"{label}_s"].values())
        assert result[f"growth_{label}"] == round(
            result[f"{label}_s"]["1000"] / result[f"{label}_s"]["500"], 2
        )
        assert result["versions_left"][label] == {"500": 0, "1000": 0}  # every version gone
        assert result["pages"][label] == {"500": 2, "1000": 3}  # 1,000 and 2,000 versions, then an empty page
    assert "s3_version_listing" in result["patches"] and "s3_versions" in result["patches"]
    assert result["method"] and result["total_s"] > 0
    # nothing of it stays behind in this process
    assert S3Backend.list_object_versions is before is not s3_version_listing.list_object_versions
    assert speedups.enabled() == switch


def test_the_emptying_pages_until_the_listing_is_empty():
    class FakeS3:
        def __init__(self):
            self.stored = [{"Key": f"k{n}", "VersionId": f"v{n}"} for n in range(2500)]
            self.markers = [{"Key": "gone", "VersionId": "m1"}]
            self.deletes = []

        def list_object_versions(self, Bucket, MaxKeys):  # noqa: N803 - boto3's names
            page = (self.stored + self.markers)[:MaxKeys]
            return {
                "Versions": [v for v in page if v["Key"] != "gone"],
                "DeleteMarkers": [v for v in page if v["Key"] == "gone"],
            }

        def delete_objects(self, Bucket, Delete):  # noqa: N803
            assert Delete["Quiet"] and len(Delete["Objects"]) <= teardown.PAGE
            self.deletes.append(len(Delete["Objects"]))
            doomed = {(o["Key"], o["VersionId"]) for o in Delete["Objects"]}
            self.stored = [v for v in self.stored if (v["Key"], v["VersionId"]) not in doomed]
            self.markers = [v for v in self.markers if (v["Key"], v["VersionId"]) not in doomed]
            return {}

    s3 = FakeS3()
    assert teardown.empty_bucket(s3, "bucket") == 4
    assert s3.deletes == [1000, 1000, 501] and not s3.stored and not s3.markers
