"""S3: ListObjectVersions answers one page without copying the bucket, so emptying a big versioned bucket is
linear instead of quadratic.

moto 5.2.5's `list_object_versions` deep-copies every version of every key on every call (to mark the
copies `is_latest`), then walks all of them to find one page of at most 1,000. Terraform's force_destroy of
the renders bucket after the perf suite lists a page and deletes it, again and again: about 2.2 s per page at
100,000 versions, most of a 14-minute `nox -s destroy`. This is the same walk, in the same order, with the
same markers and prefix/delimiter rules (tests/unit/localcloud/test_s3_version_listing.py compares every page
with moto's own answer), but it starts at the key marker and hands the response read-only views that carry
`is_latest`, so nothing stored is copied or changed.
"""

from __future__ import annotations

import bisect
from typing import Any

from moto.core.utils import unix_time_millis
from moto.s3.models import FakeKey, S3Backend

original_list_object_versions = S3Backend.list_object_versions


class ListedVersion:
    """A stored version (FakeKey or FakeDeleteMarker) as one listing sees it: its own `is_latest`, every other
    attribute read from the stored object."""

    def __init__(self, version: Any, is_latest: bool):
        self._version = version
        self.is_latest = is_latest

    def __getattr__(self, name: str) -> Any:
        return getattr(self._version, name)

    @property
    def stored(self) -> Any:
        return self._version


def _versions_in_order(bucket: Any, key_marker: str | None):
    """(version, is_latest) by key name, newest first within a key (moto's order), from the key marker on.
    Names before the marker are never returned by moto's walk, so they are not visited."""
    names = sorted(list(bucket.keys.keys()))  # a snapshot: a concurrent delete must not break the walk
    start = bisect.bisect_left(names, key_marker) if key_marker is not None else 0
    for name in names[start:]:
        stored = bucket.keys.getlist(name) or []
        newest_first = sorted(stored, key=lambda v: -unix_time_millis(v.last_modified))  # stable, as moto's
        for position, version in enumerate(newest_first):
            yield version, position == 0


def list_object_versions(
    self: S3Backend,
    bucket_name: str,
    delimiter: str | None = None,
    key_marker: str | None = None,
    max_keys: int | None = 1000,
    prefix: str = "",
    version_id_marker: str | None = None,
) -> tuple[list[Any], list[str], list[Any], str | None, str | None]:
    bucket = self.get_bucket(bucket_name)
    common_prefixes: set[str] = set()
    requested_versions: list[ListedVersion] = []
    delete_markers: list[ListedVersion] = []
    next_key_marker: str | None = None
    next_version_id_marker: str | None = None
    skip_versions = True
    last_item_added: ListedVersion | None = None
    # From here on, moto's loop line for line (only the walk and the copies differ).
    for stored, is_latest in _versions_in_order(bucket, key_marker):
        version = ListedVersion(stored, is_latest)
        name = version.name
        if skip_versions:
            if key_marker is None:
                skip_versions = False
            elif not version_id_marker:
                skip_versions = version.name < key_marker
                continue
            elif version.name == key_marker and version.version_id == version_id_marker:
                skip_versions = False
                continue
            else:
                continue
        if not name.startswith(prefix):
            continue
        is_common_prefix = False
        if delimiter and delimiter in name[len(prefix) :]:
            end_of_delimiter = len(prefix) + name[len(prefix) :].index(delimiter) + len(delimiter)
            prefix_including_delimiter = name[0:end_of_delimiter]
            if prefix_including_delimiter == key_marker:
                continue
            common_prefixes.add(prefix_including_delimiter)
            name = prefix_including_delimiter
            is_common_prefix = True
        elif last_item_added:
            name = last_item_added.name
        if (
            max_keys is not None
            and len(requested_versions) + len(delete_markers) + len(common_prefixes) >= max_keys
        ):
            next_key_marker = name
            if is_common_prefix:
                next_version_id_marker = None
            elif last_item_added is not None:
                next_version_id_marker = last_item_added.version_id
            else:
                next_version_id_marker = None
            break
        if not is_common_prefix:
            last_item_added = version
            if not isinstance(stored, FakeKey):
                delete_markers.append(version)
            else:
                requested_versions.append(version)
    return (
        requested_versions,
        sorted(common_prefixes),
        delete_markers,
        next_key_marker,
        next_version_id_marker,
    )


def apply() -> None:
    S3Backend.list_object_versions = list_object_versions  # type: ignore[method-assign]
