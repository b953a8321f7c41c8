"""ValidateInput: the spec exists, is within the size limit, parses, passes the schema and the cross rules;
decide the run id and the array sizing (render_worker.sizing's cost model, its parameters from the SIZING_*
variables of the function's environment); name the spec version that was validated (the one the worker and
PublishResults read). Raises InvalidExecutionInput, SpecNotFound, SpecTooLarge, SpecInvalid or AccessDenied
(the function's role may not read the spec: a denial, never reported as missing)."""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from render_worker import logs, sizing, spec
from render_worker.errors import FarmError, SpecNotFound, shown
from render_worker.storage import fetch_spec
from render_worker.uri import check_run_id, parse_uri

log = logs.get_logger("render_worker.validate_input")
EXECUTION_INPUT_FIELDS = ("spec_uri", "run_id")  # docs/contracts.md, "Workflow"


class InvalidExecutionInput(FarmError):
    """The execution input breaks its contract: a JSON object with spec_uri and, optionally, run_id (which
    must then be the execution name). The state machine refuses what it cannot read itself (not an object,
    no spec_uri, a spec_uri that is not a string) before this Lambda runs."""


def check_execution_input(document: Any, run_id: str) -> None:
    """Raises InvalidExecutionInput when the execution input has a field beside spec_uri and run_id, or a
    run_id that is not the execution name (every key and message uses the execution name)."""
    if not isinstance(document, dict):
        raise InvalidExecutionInput("the execution input is not a JSON object")
    unknown = sorted(str(k) for k in document if k not in EXECUTION_INPUT_FIELDS)
    if unknown:
        listed = ", ".join(shown(k) for k in unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        raise InvalidExecutionInput(
            f"the execution input has unknown field(s) {listed}; it takes spec_uri and, optionally, run_id"
        )
    if "run_id" in document and document["run_id"] != run_id:
        raise InvalidExecutionInput(
            f"the execution input's run_id {shown(document['run_id'])} is not the execution name {run_id!r}: "
            "start the execution with name=<run_id> (or leave run_id out)"
        )


def check_cloud_spec_uri(spec_uri: Any) -> None:
    """The workflow reads specs from S3 only: a file:// URI would make the Lambda read its own filesystem.
    Raises InvalidExecutionInput naming spec_uri (file:// serves the offline `farm render|validate` alone)."""
    try:
        scheme = parse_uri(spec_uri, what="spec_uri").scheme
    except ValueError:
        return  # not a URI at all: fetch_spec says so (SpecNotFound), as before
    if scheme != "s3":
        raise InvalidExecutionInput(
            f"spec_uri {shown(spec_uri)} is not an s3:// URI: the workflow reads specs from S3 only "
            "(file:// is for the offline `farm render` and `farm validate`)"
        )


def new_run_id(catalog_id: str, now: float | None = None) -> str:
    """`<catalog>-<UTC time>-<8 hex>`: sortable, unique, and a valid Step Functions execution name."""
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(now))
    base = re.sub(r"[^A-Za-z0-9_-]", "-", catalog_id)[:54]
    return f"{base}-{stamp}-{uuid.uuid4().hex[:8]}"


def validate_input(event: Any, *, s3: Any, env: Mapping[str, str]) -> dict[str, Any]:
    if not isinstance(event, dict) or not event.get("spec_uri"):
        raise SpecNotFound('the event has no spec_uri (expected {"spec_uri": "s3://bucket/key"})')
    spec_uri = event["spec_uri"]
    if "execution_input" in event:  # from the state machine: the input it was started with
        check_execution_input(event["execution_input"], event.get("run_id"))
    check_cloud_spec_uri(spec_uri)
    max_bytes = int(env.get("MAX_SPEC_BYTES") or spec.MAX_SPEC_BYTES)
    renders_bucket = env.get("RENDERS_BUCKET", "")
    if not renders_bucket:
        raise RuntimeError("RENDERS_BUCKET is not set in the function's environment")

    given_run_id = check_run_id(event["run_id"]) if event.get("run_id") else None  # before any S3 read
    model = sizing.SizingModel.from_env(env)  # no or a bad SIZING_* fails here, naming the variable
    spec_object = fetch_spec(spec_uri, max_bytes, s3)
    catalog = spec.load_catalog(spec_object.body)
    run_id = given_run_id or new_run_id(catalog.catalog_id)
    logs.set_run_id(run_id)
    chosen = sizing.plan(catalog.variant_count, model, catalog.override)
    result = {
        "run_id": run_id,
        "spec_uri": spec_uri,
        "spec_version_id": spec_object.version_id,
        "catalog_id": catalog.catalog_id,
        "output_uri": f"s3://{renders_bucket}/{run_id}/",
        "variant_count": catalog.variant_count,
        "variants_per_child": chosen.variants_per_child,
        "array_size": chosen.array_size,
        "children": chosen.children,
        "predicted_wall_s": chosen.predicted_wall_s,
        "sizing": {"model": model.as_dict(), "basis": chosen.basis},
    }
    log.info("spec valid", extra=result)
    return result
