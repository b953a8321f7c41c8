"""Part records: each child's account of what it rendered, one per child per attempt (docs/contracts.md,
"Part records"). Attempt 1 writes `_parts/<child>.json`, attempt N >= 2 `_parts/r<N>/<child>.json`, below the
run's output prefix. A run's renders are the union over its attempts; where several attempts rendered a
variant, the latest attempt's record wins. PublishResults, and any client asking what a rerun must render,
read them through here. No rendering imports: Lambdas use it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from render_worker.spec import Catalog, relative_key
from render_worker.storage import denial, s3_arn

READERS = 16  # part records read at once
_KEY = re.compile(r"_parts/(?:r(?P<attempt>[1-9][0-9]{0,3})/)?(?P<child>plain|child-[0-9]{5})\.json")


def part_key(child: str, attempt: int = 1) -> str:
    """The part record's key relative to the run's prefix: attempt 1 keeps the first layout."""
    return f"_parts/{child}.json" if attempt == 1 else f"_parts/r{attempt}/{child}.json"


def parse_part_key(relative: str) -> tuple[int, str] | None:
    """(attempt, child) of a part record's relative key; None for any other key."""
    found = _KEY.fullmatch(relative)
    if not found or found.group("attempt") == "1":  # attempt 1 has no folder of its own
        return None
    return int(found.group("attempt") or 1), found.group("child")


@dataclass(frozen=True)
class Part:
    attempt: int
    child: str
    key: str  # full S3 key
    body: dict[str, Any] | None  # None: unreadable (counts as absent)

    def entries(self) -> list[dict[str, Any]]:
        """The variant records it lists (each with an integer index)."""
        if not isinstance(self.body, dict) or not isinstance(self.body.get("variants"), list):
            return []
        return [v for v in self.body["variants"] if isinstance(v, dict) and type(v.get("index")) is int]


@dataclass(frozen=True)
class Rendered:
    """The record that stands for one flat index: the latest attempt's."""

    attempt: int
    child: str
    part_key: str  # full S3 key of its part record
    entry: dict[str, Any]  # {"index", "product_id", "sku", "key", "bytes", "sha256"}


def find(keys: Iterable[str], prefix: str, up_to: int | None = None) -> list[tuple[int, str, str]]:
    """(attempt, child, full key) of every part record among `keys` (a listing of the run's prefix), attempts
    after `up_to` left out, ordered by attempt then child."""
    found = []
    for key in keys:
        if not key.startswith(prefix):
            continue
        parsed = parse_part_key(key[len(prefix) :])
        if parsed and (up_to is None or parsed[0] <= up_to):
            found.append((*parsed, key))
    return sorted(found)


def read_body(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
    """A part record's JSON; None when it is gone or does not parse (it then counts as missing)."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return json.loads(body)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return None
        denied = denial(exc, "s3:GetObject", s3_arn(bucket, key))
        if denied:
            raise denied from None
        raise
    except ValueError:
        return None


def load(s3: Any, bucket: str, prefix: str, keys: Iterable[str], up_to: int | None = None) -> list[Part]:
    """Every part record of the run (attempts up to `up_to`), read in parallel, in find's order."""
    found = find(keys, prefix, up_to)
    with ThreadPoolExecutor(max_workers=READERS) as pool:
        bodies = list(pool.map(lambda f: read_body(s3, bucket, f[2]), found))
    return [Part(*where, body) for where, body in zip(found, bodies, strict=True)]


def latest(parts: Iterable[Part]) -> dict[int, Rendered]:
    """Flat index -> the record of the latest attempt that lists it."""
    winners: dict[int, Rendered] = {}
    for part in sorted(parts, key=lambda p: (p.attempt, p.child)):
        for entry in part.entries():
            winners[entry["index"]] = Rendered(part.attempt, part.child, part.key, entry)
    return winners


def rendered_per_attempt(parts: Iterable[Part]) -> dict[int, int]:
    """Attempt -> how many variants its part records say it rendered (a later attempt may render some
    again)."""
    counts: dict[int, int] = {}
    for part in parts:
        counts[part.attempt] = counts.get(part.attempt, 0) + len(part.entries())
    return counts


def matches(winner: Rendered | None, key: str, size: int | None) -> bool:
    """The record stands for the stored SVG: same key, same size, a checksum."""
    if winner is None or size is None:
        return False
    entry = winner.entry
    return entry.get("key") == key and entry.get("bytes") == size and bool(entry.get("sha256"))


def unrendered(
    catalog: Catalog, prefix: str, sizes: Mapping[str, int], winners: Mapping[int, Rendered]
) -> list[int]:
    """Flat indexes a rerun must render: no SVG under the run's prefix, or no part record of any attempt that
    matches it (`sizes`: {full key: size} of one listing of the prefix)."""
    missing = []
    for index, product, variant in catalog.entries(range(catalog.variant_count)):
        key = relative_key(product["product_id"], variant["sku"])
        if not matches(winners.get(index), key, sizes.get(prefix + key)):
            missing.append(index)
    return missing
