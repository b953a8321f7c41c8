"""S3 listings: ListObjects(V2) with a prefix walks only the keys under it, and timestamps are serialised
without dateutil. Speed-ups of the local cloud (localcloud/speedups.py): PublishResults lists its run's prefix
(10 pages for 10,000 variants), and that took 4-4.5 s in a renders bucket of 60,000 objects (issue 13).

Where the time went (in-process cProfile, 10 pages of 1,000 under one prefix, 60,000 keys in the bucket):
- moto's `list_objects` copies the whole key store and fetches the latest version of EVERY key on every page
  (600,000 `__getitem__` for 10 pages), then keeps those under the prefix. Here the names under the prefix
  are picked first (a string test per name) and moto's own `list_objects` runs on a key store holding only
  them (the same version lists, not copies): the same filter, order, markers, delimiter and truncation.
- moto's serialiser turns every LastModified string back into a datetime with dateutil's general parser
  (2 of every 3 ms of a page's serialisation). A string in the exact form moto writes
  (`2026-11-30T12:00:00.000Z`) is parsed with `datetime.fromisoformat` into the same aware UTC datetime;
  anything else goes to botocore's parser as before.
- ListObjectsV2 without a delimiter (PublishResults' listing, Terraform's bucket emptying goes through
  versions instead) sorted every name under the prefix and fetched its latest version on every page, then
  skipped to the continuation token: 100 pages of a 100,000-variant run took about 90 s of PublishResults'
  94 s. Here a page sorts only the names after its token and fetches versions until the page is full; the
  page, its truncation and its next token are moto's own (`_truncate_result`).
With the switch off, moto's own functions run, unchanged.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from dateutil.tz import tzutc
from moto.core.serialize import TimestampSerializer
from moto.s3.models import FakeDeleteMarker, FakeTableStorageBucket, S3Backend
from moto.s3.utils import _VersionedKeyStore

from localcloud import speedups

original_list_objects = S3Backend.list_objects
original_list_objects_v2 = S3Backend.list_objects_v2
original_convert_timestamp_to_str = TimestampSerializer._convert_timestamp_to_str
_MOTO_ISO = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?Z\Z")
_UTC = tzutc()  # what botocore's parse_to_aware_datetime gives a "Z" timestamp


class _KeysUnder:
    """The one attribute of a bucket that moto's `list_objects` reads (`keys`), holding only the names under
    a prefix."""

    def __init__(self, keys: _VersionedKeyStore):
        self.keys = keys


def list_objects(self: S3Backend, bucket: Any, prefix: str | None, delimiter: str | None,
                 marker: str | None, max_keys: int | None):  # fmt: skip
    if (
        not speedups.enabled()
        or not prefix
        or isinstance(bucket, FakeTableStorageBucket)
        or not isinstance(bucket.keys, _VersionedKeyStore)
    ):
        return original_list_objects(self, bucket, prefix, delimiter, marker, max_keys)
    under = _VersionedKeyStore()
    for name, versions in dict.items(dict(bucket.keys)):  # a snapshot, as moto's own walk takes one
        if name.startswith(prefix):
            dict.__setitem__(under, name, versions)
    return original_list_objects(self, _KeysUnder(under), prefix, delimiter, marker, max_keys)


def list_objects_v2(self: S3Backend, bucket: Any, prefix: str | None, delimiter: str | None,
                    continuation_token: str | None, start_after: str | None, max_keys: int):  # fmt: skip
    after = self._pagination_tokens.get(continuation_token) if continuation_token else start_after
    if (
        not speedups.enabled()
        or delimiter  # common prefixes can fold any number of names into one entry: moto's walk
        or not max_keys
        or (continuation_token and after is None)  # a token moto does not know: moto's own answer
        or isinstance(bucket, FakeTableStorageBucket)
        or not isinstance(bucket.keys, _VersionedKeyStore)
    ):
        return original_list_objects_v2(self, bucket, prefix, delimiter, continuation_token, start_after,
                                        max_keys)  # fmt: skip
    prefix, after = prefix or "", after or ""
    versions = dict.copy(bucket.keys)  # a snapshot, as moto's own walk takes one: {name: [versions]}
    page: list[Any] = []
    for name in sorted(name for name in versions if name.startswith(prefix) and name > after):
        latest = versions[name][-1]
        if not isinstance(latest, FakeDeleteMarker):  # a deleted key is not listed
            page.append(latest)
            if len(page) > max_keys:  # one more than the page: moto's truncation and token need it
                break
    return self._truncate_result(page, max_keys)


def fast_timestamp(value: Any) -> datetime | None:
    """The aware datetime of a timestamp string in moto's own ISO 8601 form, None for anything else."""
    if isinstance(value, str) and _MOTO_ISO.match(value):
        return datetime.fromisoformat(value[:-1]).replace(tzinfo=_UTC)
    return None


def _convert_timestamp_to_str(self: TimestampSerializer, value: Any, timestamp_format: str) -> Any:
    parsed = fast_timestamp(value) if speedups.enabled() else None
    if parsed is None:
        return original_convert_timestamp_to_str(self, value, timestamp_format)
    return getattr(self, f"_timestamp_{timestamp_format.lower()}")(parsed)


def apply() -> None:
    S3Backend.list_objects = list_objects
    S3Backend.list_objects_v2 = list_objects_v2
    TimestampSerializer._convert_timestamp_to_str = _convert_timestamp_to_str
