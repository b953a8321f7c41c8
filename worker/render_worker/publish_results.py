"""PublishResults: every expected SVG and part record exists (one listing of the run's prefix, not a HEAD per
variant), then manifest.json and index.html are written, in that order. Raises RenderIncomplete, writing
nothing, when anything is missing, and AccessDenied (naming the action and resource) when a read or write is
refused. The spec is read at the version ValidateInput validated
(`spec_version_id`), so a spec overwritten during the run changes nothing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from botocore.exceptions import ClientError

from render_worker import logs, sizing, spec
from render_worker.errors import RenderIncomplete
from render_worker.outputs import SCHEMA_VERSION, build_gallery, build_manifest, manifest_bytes
from render_worker.records import VariantRecord
from render_worker.storage import S3Sink, denial, read_spec, s3_arn

log = logs.get_logger("render_worker.publish_results")
PART_READERS = 16
_EVENT_FIELDS = ("run_id", "spec_uri", "output_uri", "variant_count", "variants_per_child", "array_size")


def list_sizes(s3: Any, bucket: str, prefix: str) -> dict[str, int]:
    """{key: size} of every object under `prefix`."""
    sizes: dict[str, int] = {}
    try:
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for obj in page.get("Contents", []):
                sizes[obj["Key"]] = obj["Size"]
    except ClientError as exc:
        denied = denial(exc, "s3:ListBucket", s3_arn(bucket))
        if denied:
            raise denied from None
        raise
    return sizes


def _read_part(s3: Any, bucket: str, key: str) -> dict[str, Any] | None:
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
    except ValueError:  # a part record that does not parse counts as missing
        return None


def collect_records(
    catalog: spec.Catalog, sink: S3Sink, per_child: int, array_size: int, listing: dict[str, int]
) -> tuple[list[VariantRecord], list[str]]:
    """One record per flat index, from the part records, each checked against the listing; plus what is
    missing (keys of absent SVGs and part records)."""
    children = [None] if array_size == 1 else list(range(array_size))
    part_keys = [sink.full_key(f"_parts/{sizing.child_name(c)}.json") for c in children]
    present = [k for k in part_keys if k in listing]
    with ThreadPoolExecutor(max_workers=PART_READERS) as pool:
        parts = dict(
            zip(present, pool.map(lambda k: _read_part(sink.s3, sink.bucket, k), present), strict=True)
        )

    missing: list[str] = []
    records: list[VariantRecord] = []
    for child, part_key in zip(children, part_keys, strict=True):
        flat = sizing.child_range(child, per_child, catalog.variant_count)
        part = parts.get(part_key)
        by_index = {}
        if part is None:
            missing.append(part_key)
        else:
            by_index = {v.get("index"): v for v in part.get("variants", []) if isinstance(v, dict)}
        for index, product, variant in catalog.entries(flat):
            key = spec.relative_key(product["product_id"], variant["sku"])
            full_key = sink.full_key(key)
            size = listing.get(full_key)
            if size is None:
                missing.append(full_key)
                continue
            found = by_index.get(index)
            if part is None:
                continue
            if not found or found.get("key") != key or found.get("bytes") != size or not found.get("sha256"):
                missing.append(f"{part_key} (no matching record for {full_key})")
                continue
            records.append(
                VariantRecord(index, product["product_id"], variant["sku"], key, size, found["sha256"])
            )
    return records, missing


def publish_results(event: Any, *, s3: Any, env: Mapping[str, str]) -> dict[str, Any]:
    if not isinstance(event, dict) or any(f not in event for f in _EVENT_FIELDS):
        raise ValueError(f"the event must carry {', '.join(_EVENT_FIELDS)} (the ValidateInput result)")
    run_id, spec_uri, output_uri = event["run_id"], event["spec_uri"], event["output_uri"]
    logs.set_run_id(run_id)
    max_bytes = int(env.get("MAX_SPEC_BYTES") or spec.MAX_SPEC_BYTES)
    version_id = event.get("spec_version_id") or ""  # "" only where the store keeps no versions
    catalog = spec.load_catalog(read_spec(spec_uri, max_bytes, s3, version_id))
    if catalog.variant_count != event["variant_count"]:
        raise RenderIncomplete(
            [f"{spec_uri} now has {catalog.variant_count} variants; {event['variant_count']} were rendered"]
        )
    sink = S3Sink.from_uri(output_uri, s3, env.get("OUTPUT_KMS_KEY_ID") or None)
    listing = list_sizes(s3, sink.bucket, sink.prefix)
    records, missing = collect_records(
        catalog, sink, event["variants_per_child"], event["array_size"], listing
    )
    if missing:
        log.error("render incomplete", extra={"missing": len(missing), "first_missing": missing[:5]})
        raise RenderIncomplete(missing[:20], total_missing=len(missing))

    manifest = build_manifest(catalog, records, run_id=run_id, spec_uri=spec_uri, output_uri=output_uri)
    sink.put("manifest.json", manifest_bytes(manifest), content_type="application/json")
    sink.put("index.html", build_gallery(catalog, manifest), content_type="text/html; charset=utf-8")
    base = f"s3://{sink.bucket}/{sink.prefix}"
    message = {
        "schema_version": SCHEMA_VERSION,
        "status": "SUCCEEDED",
        "run_id": run_id,
        "catalog_id": catalog.catalog_id,
        "spec_uri": spec_uri,
        "variant_count": catalog.variant_count,
        "manifest_uri": f"{base}manifest.json",
        "gallery_uri": f"{base}index.html",
    }
    log.info(
        "published", extra={"variant_count": catalog.variant_count, "total_bytes": manifest["total_bytes"]}
    )
    return message
