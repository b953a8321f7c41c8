"""The Batch container's program: render this child's slice, upload it, record progress, write
the part record.

Environment (docs/contracts.md): SPEC_URI, SPEC_VERSION_ID (the version ValidateInput validated; absent or
empty = the latest), RUN_ID, OUTPUT_URI, VARIANTS_PER_CHILD, AWS_BATCH_JOB_ARRAY_INDEX (absent = plain job),
SCRATCH_DIR, OUTPUT_KMS_KEY_ID, UPLOAD_CONCURRENCY (default 16), MAX_SPEC_BYTES; from the workflow also
FARM_ATTEMPT (the run's attempt, default 1) and VARIANT_SELECTION (the flat indexes this attempt renders, as
index ranges; absent = every variant): child i renders the i-th slice of VARIANTS_PER_CHILD selected indexes.
A child that could not render its whole slice still writes its part record (what it did, and `failed`), so a
rerun need render only the rest.
Progress: the child keeps `_progress/[r<N>/]<child>.json` in the run's prefix current (render_worker.
child_progress), so clients show variants done, rate and ETA while it runs.
Exit codes: 0 done, 65 bad spec (never retried), 1 anything else (retried). A refused call (AccessDenied,
naming the action and resource) exits 1: IAM changes propagate, so a retry may pass. As a Batch job
(AWS_BATCH_JOB_ID set) the spec must be an s3:// URI; file:// serves offline runs only.

Test hooks (FARM_TEST_HOOKS=1, envs/local only): CRASH- SKUs fail, FAILONCE- SKUs fail on attempt 1 only
(render_worker.pipeline.TestHooks);
DROP- SKUs are rendered and recorded but never uploaded (DroppingSink, below), so PublishResults finds them
missing.
"""

from __future__ import annotations

import gc
import json
import os
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from render_worker import aws, child_progress, logs, parts, scratch, selection, sizing, spec
from render_worker.errors import AccessDenied, SpecInvalid, SpecNotFound, SpecTooLarge
from render_worker.pipeline import SliceResult, TestHooks, render_slice
from render_worker.selection import Selection
from render_worker.storage import SVG_TYPE, FileSink, S3Sink, Sink, read_spec
from render_worker.uri import Execution, check_run_id, parse_uri

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_SPEC = 65  # EX_DATAERR; the job definition's evaluateOnExit exits on it instead of retrying
DEFAULT_UPLOAD_CONCURRENCY = 16
DROP_PREFIX = "DROP-"  # test hook: an SVG whose SKU starts with it is recorded but not uploaded
log = logs.get_logger("render_worker.worker")


@dataclass(frozen=True)
class WorkerConfig:
    spec_uri: str
    spec_version_id: str
    run_id: str
    output_uri: str
    variants_per_child: int | None
    array_index: int | None
    scratch_dir: Path
    kms_key_id: str | None
    upload_concurrency: int
    max_spec_bytes: int
    hooks: TestHooks
    drop_uploads: bool = False  # FARM_TEST_HOOKS=1: DROP- SKUs are not uploaded
    attempt: int = 1
    selection: Selection | None = None  # None: every variant

    @property
    def scratch_key(self) -> str:
        """The attempt's own scratch directory (its execution name): a rerun never shares, nor races the
        clean-up of, an earlier attempt's."""
        return Execution(self.run_id, self.attempt).name

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> WorkerConfig:
        """Raises ValueError naming the variable that is missing or wrong."""

        def required(name: str) -> str:
            value = env.get(name, "").strip()
            if not value:
                raise ValueError(f"{name} is not set")
            return value

        def integer(name: str, default: int | None, minimum: int) -> int | None:
            raw = env.get(name, "").strip()
            if not raw:
                return default
            try:
                value = int(raw)
            except ValueError:
                raise ValueError(f"{name}={raw!r} is not an integer") from None
            if value < minimum:
                raise ValueError(f"{name}={value} is below {minimum}")
            return value

        scratch_dir = env.get("SCRATCH_DIR", "").strip() or os.path.join(
            tempfile.gettempdir(), "render-scratch"
        )
        spec_uri = required("SPEC_URI")
        if env.get("AWS_BATCH_JOB_ID", "").strip() and _scheme(spec_uri) != "s3":
            raise ValueError(
                f"SPEC_URI {spec_uri!r} is not an s3:// URI: a Batch job reads its spec from S3 only "
                "(file:// is for offline runs)"
            )
        run_id = check_run_id(required("RUN_ID"))
        output_uri = required("OUTPUT_URI")
        parse_uri(output_uri, what="OUTPUT_URI")
        attempt = integer("FARM_ATTEMPT", 1, 1) or 1
        chosen = env.get("VARIANT_SELECTION")  # absent: every variant ("" selects none)
        return cls(
            spec_uri=spec_uri,
            spec_version_id=env.get("SPEC_VERSION_ID", "").strip(),
            run_id=run_id,
            output_uri=output_uri,
            variants_per_child=integer("VARIANTS_PER_CHILD", None, 1),
            array_index=integer("AWS_BATCH_JOB_ARRAY_INDEX", None, 0),
            scratch_dir=Path(scratch_dir),
            kms_key_id=env.get("OUTPUT_KMS_KEY_ID", "").strip() or None,
            upload_concurrency=integer("UPLOAD_CONCURRENCY", DEFAULT_UPLOAD_CONCURRENCY, 1) or 1,
            max_spec_bytes=integer("MAX_SPEC_BYTES", spec.MAX_SPEC_BYTES, 1) or spec.MAX_SPEC_BYTES,
            hooks=TestHooks.from_env(dict(env), attempt),
            drop_uploads=env.get("FARM_TEST_HOOKS") == "1",
            attempt=attempt,
            selection=None if chosen is None else selection.parse(chosen, "VARIANT_SELECTION"),
        )


def _scheme(uri: str) -> str | None:
    try:
        return parse_uri(uri, what="SPEC_URI").scheme
    except ValueError:
        return None  # not a URI at all: reading it says so (SpecNotFound)


class DroppingSink:
    """Test hook (FARM_TEST_HOOKS=1 only): passes every object on except the SVG of a SKU starting with DROP-,
    which is silently not uploaded; the child still records it as done, so the run reaches PublishResults with
    a render missing (RenderIncomplete)."""

    def __init__(self, sink: Sink):
        self.sink = sink

    def full_key(self, key: str) -> str:
        return self.sink.full_key(key)

    def put(self, key: str, body: bytes, content_type: str = SVG_TYPE) -> None:
        if content_type == SVG_TYPE and key.rsplit("/", 1)[-1].startswith(DROP_PREFIX):
            log.warning("test hook: not uploading a DROP- render", extra={"key": key})
            return
        self.sink.put(key, body, content_type)


def _sink(config: WorkerConfig) -> Sink:
    where = parse_uri(config.output_uri, what="OUTPUT_URI")
    if where.scheme == "file":
        sink: Sink = FileSink(where.path)
    else:
        s3 = aws.client("s3", pool=config.upload_concurrency)
        sink = S3Sink.from_uri(config.output_uri, s3, config.kms_key_id)
    return DroppingSink(sink) if config.drop_uploads else sink


def load_catalog(config: WorkerConfig) -> spec.Catalog:
    """The spec from scratch (cached by the first child) or S3, validated before anything is rendered: by this
    child, or by an earlier one of the same run that stamped these exact bytes valid."""
    data = scratch.cached_spec(
        config.scratch_dir,
        config.scratch_key,
        lambda: read_spec(config.spec_uri, config.max_spec_bytes, version_id=config.spec_version_id),
    )
    if len(data) > config.max_spec_bytes:
        raise SpecTooLarge(f"cached spec is {len(data)} bytes; the limit is {config.max_spec_bytes}")
    checker = spec.validator_id()
    if scratch.is_stamped_valid(config.scratch_dir, config.scratch_key, data, checker):
        return spec.Catalog(spec.parse(data))
    try:
        catalog = spec.load_catalog(data)
    except SpecInvalid:
        scratch.forget_spec(config.scratch_dir, config.scratch_key)
        raise
    scratch.stamp_valid(config.scratch_dir, config.scratch_key, data, checker)
    return catalog


def slice_timing(result: SliceResult, setup_s: float, ended_at: float) -> dict[str, float]:
    """Where this attempt's time went (the perf report's per-phase split; docs/contracts.md, "Part records"):
    wall-clock start and end of the slice, the set-up before it (spec read and check), the main thread's
    render time and its waits for uploads."""
    return {
        "slice_started_at": round(ended_at - result.seconds, 3),
        "slice_ended_at": round(ended_at, 3),
        "setup_s": round(setup_s, 3),
        "render_s": round(result.render_s, 3),
        "upload_wait_s": round(result.upload_wait_s, 3),
    }


def write_part_record(
    sink: Sink, child: str, attempt: int, result: SliceResult, timing: dict[str, float]
) -> None:
    """What this child rendered in this attempt (docs/contracts.md, "Part records"): a failed child writes one
    too, listing what it did and, in `failed`, the flat indexes it could not render."""
    body = {
        "child": child,
        "attempt": attempt,
        "variants": [r.to_dict() for r in result.records],
        "failed": sorted({index for index, _, _ in result.failed}),
        "timing": timing,
    }
    key = parts.part_key(child, attempt)
    sink.put(key, json.dumps(body, indent=None).encode(), content_type="application/json")


def slice_of(config: WorkerConfig, catalog: spec.Catalog) -> Sequence[int]:
    """This child's flat indexes: its slice of the selection (of every variant without one). Raises
    SelectionError when the selection reaches past the spec."""
    chosen = config.selection
    if chosen is not None:
        selection.check_within(chosen, catalog.variant_count, "VARIANT_SELECTION")
    count = catalog.variant_count if chosen is None else chosen.count
    per_child = config.variants_per_child or sizing.variants_per_child(count, catalog.override)
    return sizing.child_range(config.array_index, per_child, catalog.variant_count, chosen)


def run(env: Mapping[str, str]) -> int:
    try:
        config = WorkerConfig.from_env(env)
    except ValueError as exc:
        log.error("bad worker environment", extra={"error": str(exc)})
        return EXIT_FAILED
    logs.set_run_id(config.run_id)
    child = sizing.child_name(config.array_index)
    setup_started = time.monotonic()
    try:
        catalog = load_catalog(config)
    except (SpecNotFound, SpecTooLarge, SpecInvalid) as exc:
        log.error("bad spec", extra={"error": type(exc).__name__, "detail": str(exc), "child": child})
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_BAD_SPEC
    except AccessDenied as exc:
        log.error("access denied", extra={"error": "AccessDenied", "detail": str(exc), "child": child})
        print(f"AccessDenied: {exc}", file=sys.stderr)
        return EXIT_FAILED
    gc.freeze()  # a spec of 100,000 variants is a million objects the collector need never walk again
    try:
        flat = slice_of(config, catalog)
    except selection.SelectionError as exc:
        log.error("bad worker environment", extra={"error": str(exc), "child": child})
        return EXIT_FAILED
    progress = scratch.ProgressLog(config.scratch_dir, config.scratch_key, child)
    done = progress.read(flat)
    sink = _sink(config)
    reporter = child_progress.Reporter(
        lambda key, body: sink.put(key, body, content_type=child_progress.CONTENT_TYPE),
        child,
        config.attempt,
        len(flat),
        on_error=lambda exc: log.warning("progress not written", extra={"error": str(exc), "child": child}),
    ).start()
    setup_s = time.monotonic() - setup_started
    log.info(
        "rendering slice",
        extra={
            "child": child,
            "attempt": config.attempt,
            "first": flat[0] if flat else None,
            "stop": flat[-1] + 1 if flat else None,
            "count": len(flat),
            "already_done": len(done),
        },
    )
    try:
        result = render_slice(
            catalog,
            flat,
            sink,
            done=done,
            on_done=progress.append,
            concurrency=config.upload_concurrency,
            hooks=config.hooks,
            on_progress=reporter.add,
        )
    except BaseException:
        reporter.finish(reporter.done, 0)
        raise
    finally:
        progress.close()
    reporter.finish(len(result.records), len(result.failed))
    timing = slice_timing(result, setup_s, time.time())
    summary = {
        "child": child,
        "rendered": result.rendered,
        "resumed": result.resumed,
        "failed": len(result.failed),
        "seconds": round(result.seconds, 3),
        "variants_per_second": round(result.rendered / result.seconds, 1) if result.seconds else None,
    }
    write_part_record(sink, child, config.attempt, result, timing)
    if result.failed:
        log.error("slice incomplete", extra={**summary, "first_failures": result.failed[:5]})
        return EXIT_FAILED
    log.info("slice done", extra={**summary, **timing})
    return EXIT_OK


def main() -> int:
    try:
        return run(os.environ)
    except AccessDenied as exc:  # e.g. the part record's upload: named, with the action and resource
        log.error("access denied", extra={"error": "AccessDenied", "detail": str(exc)})
        print(f"AccessDenied: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except Exception:  # every other failure is retryable: log it whole, exit 1
        log.exception("worker failed")
        return EXIT_FAILED
