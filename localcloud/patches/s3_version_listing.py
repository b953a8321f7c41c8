"""S3: ListObjectVersions answers one page without copying the bucket, so emptying a big versioned bucket is
linear instead of quadratic.

moto 5.2.5's `list_object_versions` deep-copies every version of every key on every call (to mark the
copies `is_latest`), then walks all of them to find one page of at most 1,000. Terraform's force_destroy of
the renders bucket after the perf suite lists a page and deletes it, again and again: about 2.2 s per page at
100,000 versions, most of a 14-minute `nox -s destroy`. This is the same walk, in the same order, with the
same markers and prefix/delimiter rules (tests/unit/localcloud/test_s3_version_listing.py compares every page
with moto's own answer), but it starts at the key marker and hands the response read-only views that carry
`is_latest`, so nothing stored is copied or changed.

One answer differs from moto's, as AWS answers: a page that continues from a version that has been deleted
since (the NextVersionIdMarker of the previous page). Terraform's force_destroy pages through the versions and
deletes each page before asking for the next, so the marker it sends names a version it just deleted. AWS
continues after that version's place; moto finds no such version and answers an empty page, so each emptying
pass of the provider deleted one page, then walked every page of the bucket for delete markers, then started
over: quadratic again (10+ minutes for 60,000 renders). Here the place of every page end handed out is
remembered (the versions of that key up to it, the last PAGE_ENDS_KEPT page ends), and a page continuing from
a deleted marker starts right after that place. A marker never handed out keeps moto's answer.

A speed-up of the local cloud (localcloud/speedups.py): with the switch off, moto's own
`list_object_versions` answers (its empty page after a deleted marker included), so a benchmark measures both
in one run (tests/perf/teardown.py).
"""

from __future__ import annotations

import bisect
import collections
import threading
from typing import Any

from moto.core.utils import unix_time_millis
from moto.s3.models import FakeKey, S3Backend

from localcloud import speedups

original_list_object_versions = S3Backend.list_object_versions
PAGE_ENDS_KEPT = 4096
_page_ends: collections.OrderedDict[tuple[str, str, str], frozenset[str]] = collections.OrderedDict()
_page_ends_lock = threading.Lock()


def _newest_first(bucket: Any, name: str) -> list[Any]:
    """A key's versions in moto's listing order (newest first; stable, as moto's sort)."""
    stored = bucket.keys.getlist(name) or []
    return sorted(stored, key=lambda v: -unix_time_millis(v.last_modified))


def _remember_page_end(bucket: Any, bucket_name: str, name: str, version_id: str) -> None:
    """The place of the page end (name, version_id): the ids of that key's versions up to and including it."""
    ids = [str(v.version_id) for v in _newest_first(bucket, name)]
    if str(version_id) not in ids:
        return
    place = frozenset(ids[: ids.index(str(version_id)) + 1])
    with _page_ends_lock:
        _page_ends[(bucket_name, name, str(version_id))] = place
        _page_ends.move_to_end((bucket_name, name, str(version_id)))
        while len(_page_ends) > PAGE_ENDS_KEPT:
            _page_ends.popitem(last=False)


def _place_of_deleted_marker(
    bucket: Any, bucket_name: str, key_marker: str | None, version_id_marker: str | None
) -> frozenset[str] | None:
    """For a version id marker that names no stored version of the key: the ids listed up to it when it was
    handed out as a page end; None when it is stored (moto's rule applies) or was never handed out."""
    if key_marker is None or not version_id_marker:
        return None
    if any(str(v.version_id) == str(version_id_marker) for v in bucket.keys.getlist(key_marker) or []):
        return None
    with _page_ends_lock:
        return _page_ends.get((bucket_name, key_marker, str(version_id_marker)))


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
        for position, version in enumerate(_newest_first(bucket, name)):
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
    if not speedups.enabled():  # read per call: the switch flips at run time
        return original_list_object_versions(
            self,
            bucket_name,
            delimiter=delimiter,
            key_marker=key_marker,
            max_keys=max_keys,
            prefix=prefix,
            version_id_marker=version_id_marker,
        )
    bucket = self.get_bucket(bucket_name)
    listed_up_to_marker = _place_of_deleted_marker(bucket, bucket_name, key_marker, version_id_marker)
    common_prefixes: set[str] = set()
    requested_versions: list[ListedVersion] = []
    delete_markers: list[ListedVersion] = []
    next_key_marker: str | None = None
    next_version_id_marker: str | None = None
    skip_versions = True
    last_item_added: ListedVersion | None = None
    # From here on, moto's loop line for line (only the walk, the copies and a deleted marker's place differ).
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
            elif listed_up_to_marker is not None and (
                version.name > key_marker
                or (version.name == key_marker and str(version.version_id) not in listed_up_to_marker)
            ):
                skip_versions = False  # the first version after the deleted marker's place: listed
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
    if next_key_marker is not None and next_version_id_marker is not None:
        _remember_page_end(bucket, bucket_name, next_key_marker, next_version_id_marker)
    return (
        requested_versions,
        sorted(common_prefixes),
        delete_markers,
        next_key_marker,
        next_version_id_marker,
    )


def apply() -> None:
    S3Backend.list_object_versions = list_object_versions  # type: ignore[method-assign]
