"""PublishResults: every variant of the spec has its SVG and a part record that matches it, over all the run's
attempts (one listing of the run's prefix, not a HEAD per variant; the latest attempt's record of a variant
wins), and this attempt wrote every part record it planned; then manifest.json (with the attempts) and
index.html are written, in that order. Raises RenderIncomplete, writing
nothing, when anything is missing, and AccessDenied (naming the action and resource) when a read or write is
refused. The spec is read at the version ValidateInput validated
(`spec_version_id`), so a spec overwritten during the run changes nothing. The run's cost goes in both the
manifest and the message: ValidateInput's estimate beside the actual, from the Batch attempts' real start and
stop times of this attempt's render job (`render.job_id`, which the state machine adds; none when the attempt
rendered nothing)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from render_worker import batch_usage, cost, logs, parts, selection, sizing, spec
from render_worker.errors import RenderIncomplete
from render_worker.outputs import SCHEMA_VERSION, build_gallery, build_manifest, manifest_bytes
from render_worker.records import VariantRecord
from render_worker.selection import Selection
from render_worker.storage import S3Sink, denial, read_spec, s3_arn
from render_worker.uri import Execution, check_attempt

log = logs.get_logger("render_worker.publish_results")
PART_READERS = parts.READERS
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


@dataclass(frozen=True)
class Attempt:
    """The attempt that is publishing, as ValidateInput planned it: the part records it must have written."""

    number: int
    per_child: int
    array_size: int
    selection: Selection | None  # None: every variant (an event from before selections)

    def children(self) -> list[int | None]:
        return [None] if self.array_size == 1 else list(range(self.array_size))

    @classmethod
    def from_event(cls, event: dict[str, Any]) -> Attempt:
        number = check_attempt(event.get("attempt", 1), "the event's attempt")
        chosen = event.get("selection")
        selected = None if chosen is None else selection.parse(chosen, "the event's selection")
        return cls(number, event["variants_per_child"], event["array_size"], selected)


def collect_records(
    catalog: spec.Catalog, sink: S3Sink, attempt: Attempt, found: list[parts.Part], listing: dict[str, int]
) -> tuple[list[VariantRecord], list[str]]:
    """One record per flat index of the spec, the latest attempt's, each checked against the listing; plus
    what is missing: this attempt's absent part records, then keys of absent SVGs and of SVGs no record
    matches."""
    present = {p.key for p in found if p.body is not None}
    missing: list[str] = []
    covered: set[int] = set()  # indexes of this attempt's absent part records: reported by their key
    for child in attempt.children():
        key = sink.full_key(parts.part_key(sizing.child_name(child), attempt.number))
        if key not in present:
            missing.append(key)
            covered.update(
                sizing.child_range(child, attempt.per_child, catalog.variant_count, attempt.selection)
            )
    winners = parts.latest(found)
    records: list[VariantRecord] = []
    for index, product, variant in catalog.entries(range(catalog.variant_count)):
        key = spec.relative_key(product["product_id"], variant["sku"])
        full_key = sink.full_key(key)
        size = listing.get(full_key)
        winner = winners.get(index)
        if size is None:
            missing.append(full_key)
        elif parts.matches(winner, key, size):
            records.append(
                VariantRecord(index, product["product_id"], variant["sku"], key, size, winner.entry["sha256"])
            )
        elif winner is not None:
            missing.append(f"{winner.part_key} (no matching record for {full_key})")
        elif index not in covered:
            missing.append(f"{full_key} (in no part record of attempts 1-{attempt.number})")
    return records, missing


def attempts_summary(found: list[parts.Part], run_id: str, current: int) -> list[dict[str, Any]]:
    """The manifest's `attempts`: every attempt with part records, and the publishing one."""
    counts = parts.rendered_per_attempt(found)
    counts.setdefault(current, 0)
    return [
        {"attempt": n, "execution": Execution(run_id, n).name, "rendered": counts[n]} for n in sorted(counts)
    ]


def run_cost(event: dict[str, Any], batch: Any, env: Mapping[str, str]) -> dict[str, Any]:
    """{"attempt", "estimate", "actual"}: ValidateInput's estimate and what this attempt's render job's tasks
    cost, at the same prices (COST_PRICES) for the job's vCPU and memory (JOB_VCPU, JOB_MEMORY_MIB)."""
    prices, resources = cost.RegionPrices.from_env(env), cost.Resources.from_env(env)
    job_id = (event.get("render") or {}).get("job_id")
    times = batch_usage.attempt_times(batch, job_id) if job_id and batch is not None else []
    return {
        "attempt": event.get("attempt", 1),
        "estimate": event.get("cost_estimate"),
        "actual": cost.actual(times, resources, prices).as_dict(),
    }


def publish_results(event: Any, *, s3: Any, env: Mapping[str, str], batch: Any = None) -> dict[str, Any]:
    if not isinstance(event, dict) or any(f not in event for f in _EVENT_FIELDS):
        raise ValueError(f"the event must carry {', '.join(_EVENT_FIELDS)} (the ValidateInput result)")
    run_id, spec_uri, output_uri = event["run_id"], event["spec_uri"], event["output_uri"]
    logs.set_run_id(run_id)
    attempt = Attempt.from_event(event)
    max_bytes = int(env.get("MAX_SPEC_BYTES") or spec.MAX_SPEC_BYTES)
    version_id = event.get("spec_version_id") or ""  # "" only where the store keeps no versions
    catalog = spec.load_catalog(read_spec(spec_uri, max_bytes, s3, version_id))
    if catalog.variant_count != event["variant_count"]:
        raise RenderIncomplete(
            [f"{spec_uri} now has {catalog.variant_count} variants; {event['variant_count']} were rendered"]
        )
    sink = S3Sink.from_uri(output_uri, s3, env.get("OUTPUT_KMS_KEY_ID") or None)
    listing = list_sizes(s3, sink.bucket, sink.prefix)
    found = parts.load(s3, sink.bucket, sink.prefix, listing, up_to=attempt.number)
    records, missing = collect_records(catalog, sink, attempt, found, listing)
    if missing:
        log.error("render incomplete", extra={"missing": len(missing), "first_missing": missing[:5]})
        raise RenderIncomplete(missing[:20], total_missing=len(missing))

    attempts = attempts_summary(found, run_id, attempt.number)
    spent = run_cost(event, batch, env)
    manifest = build_manifest(
        catalog,
        records,
        run_id=run_id,
        spec_uri=spec_uri,
        output_uri=output_uri,
        attempts=attempts,
        cost=spent,
    )
    sink.put("manifest.json", manifest_bytes(manifest), content_type="application/json")
    sink.put("index.html", build_gallery(catalog, manifest), content_type="text/html; charset=utf-8")
    base = f"s3://{sink.bucket}/{sink.prefix}"
    rendered = next(a["rendered"] for a in attempts if a["attempt"] == attempt.number)
    message = {
        "schema_version": SCHEMA_VERSION,
        "status": "SUCCEEDED",
        "run_id": run_id,
        "catalog_id": catalog.catalog_id,
        "spec_uri": spec_uri,
        "variant_count": catalog.variant_count,
        "manifest_uri": f"{base}manifest.json",
        "gallery_uri": f"{base}index.html",
        "attempt": attempt.number,
        "rendered": rendered,
        "cost": spent,
    }
    log.info(
        "published",
        extra={
            "variant_count": catalog.variant_count,
            "total_bytes": manifest["total_bytes"],
            "attempt": attempt.number,
            "rendered": rendered,
        },
    )
    return message
