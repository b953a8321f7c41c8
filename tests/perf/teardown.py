"""Tear-down scaling (issue 13): the time to empty a versioned S3 bucket as Terraform's force_destroy does,
with the local cloud's speed-ups off (moto's own ListObjectVersions, which copies the whole bucket for every
page) and on (localcloud/patches/s3_version_listing.py), at two sizes, in one run.

In-process moto (`moto.mock_aws`, boto3 clients) with the project's S3 patches applied as the local cloud's
server applies them (every `localcloud.patches.s3_*` module, sorted by name, `apply()`), restored afterwards.
The buckets are filled through moto's S3 backend directly (about 30 us a version, where a boto3 PUT through
mock_aws costs about 2 ms, which would make 20,000 x 2 versions take over a minute); they are emptied through
boto3, so every ListObjectVersions and DeleteObjects answer is parsed, dispatched and rendered by moto's S3
responses as the server does. Emptying: ListObjectVersions (pages of 1,000) from the start, then one
DeleteObjects (quiet) of the page's versions and delete markers, until a listing is empty.

`listing_scaling()` returns a JSON-able dict; growth = t(largest) / t(smallest): about 2 for linear emptying
at twice the objects, about 4 for quadratic.
"""

from __future__ import annotations

import contextlib
import inspect
import sys
import time
from collections.abc import Iterator
from typing import Any

PAGE = 1000  # ListObjectVersions' default and maximum MaxKeys, and DeleteObjects' maximum
BODY = b'<svg xmlns="http://www.w3.org/2000/svg"/>'
METHOD = (
    "in-process moto (mock_aws) with the project's S3 patches applied as the server applies them; buckets "
    "filled through moto's S3 backend directly, emptied through boto3 as force_destroy does "
    "(ListObjectVersions pages of 1,000 from the start, one quiet DeleteObjects of each page's versions and "
    "delete markers, until empty), speed-ups off (moto's listing) and on (the patch) on identical buckets"
)


def _moto_attributes() -> dict[tuple[int, str], tuple[Any, dict[str, Any]]]:
    """A snapshot of what patches replace: the namespace of every loaded moto module and of its classes."""
    snapshot: dict[tuple[int, str], tuple[Any, dict[str, Any]]] = {}
    for name, module in list(sys.modules.items()):
        if module is None or not (name == "moto" or name.startswith("moto.")):
            continue
        snapshot[(id(module), name)] = (module, dict(vars(module)))
        for value in list(vars(module).values()):
            if inspect.isclass(value) and value.__module__ == name:
                snapshot[(id(value), value.__qualname__)] = (value, dict(vars(value)))
    return snapshot


def _restore(snapshot: dict[tuple[int, str], tuple[Any, dict[str, Any]]]) -> None:
    for owner, before in snapshot.values():
        now = vars(owner)
        for attribute in [a for a in now if a not in before and a != "__annotations__"]:
            with contextlib.suppress(AttributeError, TypeError):
                delattr(owner, attribute)
        for attribute, value in before.items():
            if now.get(attribute, value) is not value:
                setattr(owner, attribute, value)


@contextlib.contextmanager
def s3_patches_applied() -> Iterator[list[str]]:
    """The local cloud's S3 patches applied to moto in this process (names yielded), undone afterwards."""
    import moto.s3.models  # noqa: F401 - loaded before the snapshot, so the snapshot holds what patches replace

    from localcloud import server

    snapshot = _moto_attributes()
    try:
        yield server.apply_patches(prefix="s3_")
    finally:
        _restore(snapshot)


def fill(backend: Any, bucket: str, objects: int, versions: int) -> int:
    """`objects` keys of `versions` versions each, stored through the backend; returns the versions stored."""
    for n in range(objects):
        key = f"run-{n % 7}/product-{n // 100:05d}/{n:06d}.svg"
        for _ in range(versions):
            backend.put_object(bucket, key, BODY)
    return objects * versions


def empty_bucket(s3: Any, bucket: str) -> int:
    """Terraform's force_destroy emptying; returns the number of ListObjectVersions pages it read."""
    pages = 0
    while True:
        page = s3.list_object_versions(Bucket=bucket, MaxKeys=PAGE)
        pages += 1
        doomed = [
            {"Key": item["Key"], "VersionId": item["VersionId"]}
            for item in page.get("Versions", []) + page.get("DeleteMarkers", [])
        ]
        if not doomed:
            return pages
        answer = s3.delete_objects(Bucket=bucket, Delete={"Objects": doomed, "Quiet": True})
        if answer.get("Errors"):
            raise RuntimeError(f"DeleteObjects of {bucket}: {answer['Errors'][:3]}")


def _stored_versions(backend: Any, bucket: str) -> int:
    return sum(len(versions) for _, versions in backend.get_bucket(bucket).keys.iterlists())


def listing_scaling(counts: tuple[int, ...] = (10_000, 20_000), versions: int = 2) -> dict[str, Any]:
    """Seconds to empty a versioned bucket of N objects x `versions` versions, speed-ups off and on, per N."""
    import boto3
    from botocore.config import Config
    from moto import mock_aws
    from moto.s3.models import s3_backends

    from localcloud import config, speedups

    counts = tuple(sorted(counts))
    result: dict[str, Any] = {"counts": list(counts), "versions": versions, "off_s": {}, "on_s": {}}
    pages: dict[str, dict[str, int]] = {"off": {}, "on": {}}
    left: dict[str, dict[str, int]] = {"off": {}, "on": {}}
    was = speedups.enabled()
    started = time.perf_counter()
    try:
        with s3_patches_applied() as applied, mock_aws():
            result["patches"] = applied
            # AWS's own endpoints, so mock_aws answers even where the environment names the local cloud's
            session = boto3.Session(
                aws_access_key_id="teardown",
                aws_secret_access_key="teardown",  # noqa: S106 - mock_aws takes any keys
                region_name=config.REGION,
            )
            s3 = session.client(
                "s3",
                endpoint_url=f"https://s3.{config.REGION}.amazonaws.com",
                config=Config(retries={"max_attempts": 1}, s3={"addressing_style": "path"}),
            )
            sts = session.client("sts", endpoint_url=f"https://sts.{config.REGION}.amazonaws.com")
            account = sts.get_caller_identity()["Account"]
            backend = s3_backends[account]["aws"]
            for n in counts:
                for label, switch in (("off", False), ("on", True)):
                    bucket = f"teardown-{label}-{n}-{versions}"
                    s3.create_bucket(Bucket=bucket)
                    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
                    stored = fill(backend, bucket, n, versions)
                    assert _stored_versions(backend, bucket) == stored
                    speedups.set_enabled(switch)
                    began = time.perf_counter()
                    pages[label][str(n)] = empty_bucket(s3, bucket)
                    result[f"{label}_s"][str(n)] = round(time.perf_counter() - began, 3)
                    speedups.set_enabled(was)
                    left[label][str(n)] = _stored_versions(backend, bucket)
                    s3.delete_bucket(Bucket=bucket)  # refused unless every version and marker is gone
    finally:
        speedups.set_enabled(was)
    small, large = str(counts[0]), str(counts[-1])
    for label in ("off", "on"):
        times = result[f"{label}_s"]
        result[f"growth_{label}"] = round(times[large] / times[small], 2) if times[small] else None
    result["speedup_at_largest"] = (
        round(result["off_s"][large] / result["on_s"][large], 1) if result["on_s"][large] else None
    )
    result["pages"] = pages
    result["versions_left"] = left
    result["total_s"] = round(time.perf_counter() - started, 1)
    result["method"] = METHOD
    return result


if __name__ == "__main__":  # python -m tests.perf.teardown [N ...]
    import json

    sizes = tuple(int(a) for a in sys.argv[1:]) or (10_000, 20_000)
    print(json.dumps(listing_scaling(sizes), indent=2))
