"""ValidateInput: the spec exists, is within the size limit, parses, passes the schema and the cross rules;
decide the run id and the array sizing. Raises SpecNotFound, SpecTooLarge or SpecInvalid."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from render_worker import logs, sizing, spec
from render_worker.errors import SpecNotFound
from render_worker.storage import read_spec
from render_worker.uri import check_run_id

log = logs.get_logger("render_worker.validate_input")


def new_run_id(catalog_id: str, now: float | None = None) -> str:
    """`<catalog>-<UTC time>-<8 hex>`: sortable, unique, and a valid Step Functions execution name."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    base = re.sub(r"[^A-Za-z0-9_-]", "-", catalog_id)[:54]
    return f"{base}-{stamp}-{uuid.uuid4().hex[:8]}"


def validate_input(event: Any, *, s3: Any, env: Mapping[str, str]) -> dict[str, Any]:
    if not isinstance(event, dict) or not event.get("spec_uri"):
        raise SpecNotFound('the event has no spec_uri (expected {"spec_uri": "s3://bucket/key"})')
    spec_uri = event["spec_uri"]
    max_bytes = int(env.get("MAX_SPEC_BYTES") or spec.MAX_SPEC_BYTES)
    default_per_child = int(env.get("DEFAULT_VARIANTS_PER_CHILD") or sizing.DEFAULT_VARIANTS_PER_CHILD)
    renders_bucket = env.get("RENDERS_BUCKET", "")
    if not renders_bucket:
        raise RuntimeError("RENDERS_BUCKET is not set in the function's environment")

    catalog = spec.load_catalog(read_spec(spec_uri, max_bytes, s3))
    run_id = check_run_id(event["run_id"]) if event.get("run_id") else new_run_id(catalog.catalog_id)
    logs.set_run_id(run_id)
    per_child = sizing.variants_per_child(catalog.variant_count, catalog.override, default_per_child)
    result = {
        "run_id": run_id,
        "spec_uri": spec_uri,
        "catalog_id": catalog.catalog_id,
        "output_uri": f"s3://{renders_bucket}/{run_id}/",
        "variant_count": catalog.variant_count,
        "variants_per_child": per_child,
        "array_size": sizing.array_size(catalog.variant_count, per_child),
    }
    log.info("spec valid", extra=result)
    return result
