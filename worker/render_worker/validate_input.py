"""ValidateInput: the spec exists, is within the size limit, parses, passes the schema and the cross rules;
decide the run id and attempt (from the execution name: `<run_id>`, or `<run_id>.r<N>` for rerun attempt N),
the variants this attempt renders (the execution input's `variants`, else all) and the array sizing over them
(render_worker.sizing's cost model, its parameters from the SIZING_* variables of the function's environment);
name the spec version that was validated (the one the worker and PublishResults read); choose the job queue
(the execution input's `priority`: urgent or bulk, from JOB_QUEUES), the Render task's time limit (from the
plan) and estimate the run's cost (render_worker.cost: the same model x the job's vCPU and memory x the
region's Fargate prices, COST_PRICES), refusing it when over `max_cost` (the execution input's, else the
spec's options.max_cost). Raises InvalidExecutionInput, SpecNotFound, SpecTooLarge, SpecInvalid,
CostLimitExceeded or AccessDenied (the function's role may not read the spec: a denial, never reported as
missing)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from render_worker import cost, logs, selection, sizing, spec
from render_worker.errors import FarmError, SpecNotFound, shown
from render_worker.selection import Selection, SelectionError
from render_worker.storage import fetch_spec
from render_worker.uri import Execution, check_run_id, new_run_id, parse_execution, parse_uri

log = logs.get_logger("render_worker.validate_input")
# docs/contracts.md, "Workflow"
EXECUTION_INPUT_FIELDS = ("spec_uri", "run_id", "variants", "spec_version_id", "priority", "max_cost")
PRIORITIES = ("bulk", "urgent")  # the job queues (modules/batch): bulk unless the input asks for urgent
MAX_SKUS = 100_000  # a spec's variant limit
MAX_VERSION_ID = 1024  # S3 version ids are at most 1,024 bytes


class InvalidExecutionInput(FarmError):
    """The execution input breaks its contract: a JSON object with spec_uri and, optionally, run_id (which
    must then be the execution's run id), variants and spec_version_id. The state machine refuses what it
    cannot read itself (not an object, no spec_uri, a spec_uri that is not a string) before this Lambda
    runs."""


@dataclass(frozen=True)
class Request:
    """What the execution input asks beside the spec: which variants (None: all) and which spec version."""

    variants: Selection | list[str] | None = None  # index ranges, or SKUs (resolved once the spec is read)
    spec_version_id: str = ""  # "": the version HEAD finds (the latest)
    priority: str = "bulk"
    max_cost: float | None = None  # None: the spec's options.max_cost, if any


def check_execution_input(document: Any, execution: Execution) -> Request:
    """Raises InvalidExecutionInput when the execution input has a field beside EXECUTION_INPUT_FIELDS, a
    run_id that is not the execution's run id, or a malformed variants or spec_version_id; else what it
    asks for. What needs the spec (SKUs, ranges past its end) is checked by `resolve_variants`."""
    if not isinstance(document, dict):
        raise InvalidExecutionInput("the execution input is not a JSON object")
    unknown = sorted(str(k) for k in document if k not in EXECUTION_INPUT_FIELDS)
    if unknown:
        listed = ", ".join(shown(k) for k in unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        raise InvalidExecutionInput(
            f"the execution input has unknown field(s) {listed}; it takes spec_uri and, optionally, run_id, "
            "variants, spec_version_id, priority and max_cost"
        )
    if "run_id" in document and document["run_id"] != execution.run_id:
        raise InvalidExecutionInput(_wrong_run_id(document["run_id"], execution))
    priority = document.get("priority", "bulk")
    if priority not in PRIORITIES:
        raise InvalidExecutionInput(
            f"the execution input's priority {shown(priority)} is not one of {', '.join(PRIORITIES)}"
        )
    try:
        max_cost = cost.parse_max_cost(document.get("max_cost"), "the execution input's max_cost")
    except ValueError as exc:
        raise InvalidExecutionInput(str(exc)) from None
    return Request(
        _variants(document.get("variants")),
        _version_id(document.get("spec_version_id", "")),
        priority,
        max_cost,
    )


def _wrong_run_id(given: Any, execution: Execution) -> str:
    if execution.attempt == 1:
        return (
            f"the execution input's run_id {shown(given)} is not the execution name {execution.name!r}: "
            "start the execution with name=<run_id> (or leave run_id out)"
        )
    return (
        f"the execution input's run_id {shown(given)} is not the run id {execution.run_id!r} of the "
        f"execution name {execution.name!r} (attempt {execution.attempt}): start a rerun with "
        "name=<run_id>.r<N> (or leave run_id out)"
    )


def _variants(given: Any) -> Selection | list[str] | None:
    """The execution input's variants: None, index ranges (checked here) or a list of SKUs (types here)."""
    if given is None:
        return None
    if isinstance(given, str):
        try:
            return selection.parse(given, "the execution input's variants")
        except SelectionError as exc:
            raise InvalidExecutionInput(str(exc)) from None
    if not isinstance(given, list):
        raise InvalidExecutionInput(
            f"the execution input's variants {shown(given)} is neither a string of flat index ranges (such "
            'as "0-99,250,300-310") nor a list of SKUs'
        )
    if len(given) > MAX_SKUS:
        raise InvalidExecutionInput(
            f"the execution input's variants lists {len(given):,} SKUs; a spec has at most {MAX_SKUS:,}"
        )
    seen: set[str] = set()
    for i, sku in enumerate(given):
        if not isinstance(sku, str) or not sku:
            raise InvalidExecutionInput(f"the execution input's variants[{i}] {shown(sku)} is not a SKU")
        if sku in seen:
            raise InvalidExecutionInput(f"the execution input's variants lists SKU {sku!r} twice")
        seen.add(sku)
    return given


def _version_id(given: Any) -> str:
    if not isinstance(given, str) or len(given) > MAX_VERSION_ID or any(c in given for c in "\r\n"):
        raise InvalidExecutionInput(
            f"the execution input's spec_version_id {shown(given)} is not an S3 version id (a string of at "
            f'most {MAX_VERSION_ID} characters; "" for the latest)'
        )
    return given


def resolve_variants(request: Request, catalog: spec.Catalog) -> Selection:
    """The flat indexes this attempt renders: every variant without `variants`; else the ranges, or the SKUs'
    indexes, within the spec. Raises InvalidExecutionInput naming the field."""
    what = "the execution input's variants"
    try:
        if request.variants is None:
            return Selection.everything(catalog.variant_count)
        if isinstance(request.variants, Selection):
            return selection.check_within(request.variants, catalog.variant_count, what)
        return selection.check_size(Selection.of(_indexes_of(request.variants, catalog)), what)
    except SelectionError as exc:
        raise InvalidExecutionInput(str(exc)) from None


def _indexes_of(skus: list[str], catalog: spec.Catalog) -> list[int]:
    wanted = set(skus)
    found = {
        variant["sku"]: index
        for index, _, variant in catalog.entries(range(catalog.variant_count))
        if variant["sku"] in wanted
    }
    unknown = [sku for sku in skus if sku not in found]
    if unknown:
        listed = ", ".join(repr(u) for u in unknown[:5]) + (
            f" and {len(unknown) - 5} more" if len(unknown) > 5 else ""
        )
        raise InvalidExecutionInput(
            f"the execution input's variants names {len(unknown)} SKU(s) the spec does not have: {listed}"
        )
    return [found[sku] for sku in skus]


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


def execution_of(event: dict[str, Any]) -> Execution | None:
    """The attempt this event is for: from `execution` (the state machine passes the execution name), else
    from `run_id` (a direct invocation; attempt 1 unless it is a rerun's name); None: make up a run id."""
    if event.get("execution"):
        try:
            return parse_execution(event["execution"])
        except ValueError as exc:
            raise InvalidExecutionInput(f"the {exc}: start executions with name=<run_id>") from None
    if event.get("run_id"):
        try:
            return parse_execution(event["run_id"])
        except ValueError:
            check_run_id(event["run_id"])  # says what a run id is
            raise
    return None


def validate_input(event: Any, *, s3: Any, env: Mapping[str, str]) -> dict[str, Any]:
    if not isinstance(event, dict) or not event.get("spec_uri"):
        raise SpecNotFound('the event has no spec_uri (expected {"spec_uri": "s3://bucket/key"})')
    spec_uri = event["spec_uri"]
    given = execution_of(event)  # before any S3 read
    request = Request()
    if "execution_input" in event:  # from the state machine: the input it was started with
        request = check_execution_input(event["execution_input"], given or Execution("-", 1))
    check_cloud_spec_uri(spec_uri)
    max_bytes = int(env.get("MAX_SPEC_BYTES") or spec.MAX_SPEC_BYTES)
    renders_bucket = env.get("RENDERS_BUCKET", "")
    if not renders_bucket:
        raise RuntimeError("RENDERS_BUCKET is not set in the function's environment")

    model = sizing.SizingModel.from_env(env)  # no or a bad SIZING_* fails here, naming the variable
    queues = job_queues(env)
    prices, resources = cost.RegionPrices.from_env(env), cost.Resources.from_env(env)
    spec_object = _fetch(spec_uri, max_bytes, s3, request.spec_version_id)
    catalog = spec.load_catalog(spec_object.body)
    execution = given or Execution(new_run_id(catalog.catalog_id), 1)
    logs.set_run_id(execution.run_id)
    chosen = resolve_variants(request, catalog)
    if chosen.count:
        plan = sizing.plan(chosen.count, model, catalog.override)
    else:
        plan = sizing.nothing_selected(catalog.override)
    estimate = cost.estimate(chosen.count, plan, model, resources, prices)
    cost.check_run_cost(estimate, request.max_cost, "the execution input's max_cost", catalog.max_cost)
    result = {
        "run_id": execution.run_id,
        "attempt": execution.attempt,
        "execution": execution.name,
        "job_name": execution.job_name,
        "spec_uri": spec_uri,
        "spec_version_id": spec_object.version_id,
        "catalog_id": catalog.catalog_id,
        "output_uri": f"s3://{renders_bucket}/{execution.run_id}/",
        "variant_count": catalog.variant_count,
        "selection": chosen.text,
        "selected_count": chosen.count,
        "variants_per_child": plan.variants_per_child,
        "array_size": plan.array_size,
        "children": plan.children,
        "predicted_wall_s": plan.predicted_wall_s,
        "sizing": {"model": model.as_dict(), "basis": plan.basis},
        "priority": request.priority,
        "job_queue": queues[request.priority],
        "render_timeout_s": sizing.time_limit_s(plan),
        "cost_estimate": estimate.as_dict(),
    }
    log.info("spec valid", extra={k: v for k, v in result.items() if k != "selection"})
    return result


def job_queues(env: Mapping[str, str]) -> dict[str, str]:
    """JOB_QUEUES: {"urgent": <job queue ARN>, "bulk": <ARN>} (modules/functions). RuntimeError naming the
    variable when it is missing or lacks a priority."""
    try:
        queues = json.loads(env.get("JOB_QUEUES") or "")
    except ValueError:
        raise RuntimeError("JOB_QUEUES is not set to a JSON object in the function's environment") from None
    if not isinstance(queues, dict) or any(not isinstance(queues.get(p), str) for p in PRIORITIES):
        raise RuntimeError(f"JOB_QUEUES must map {' and '.join(PRIORITIES)} to job queue ARNs")
    return queues


def _fetch(spec_uri: str, max_bytes: int, s3: Any, version_id: str) -> Any:
    """The spec at the version the execution input names (a rerun reads what its first attempt validated)."""
    try:
        return fetch_spec(spec_uri, max_bytes, s3, version_id)
    except SpecNotFound as exc:
        if version_id:
            raise SpecNotFound(f"the execution input's spec_version_id: {exc}") from None
        raise
