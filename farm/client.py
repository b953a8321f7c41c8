"""FarmClient: every operation on a deployed stack, written once.

The CLI, the demo, the live suites, the locust users and the perf harness all go through it: upload a spec,
start a run, look at it, wait for it, list runs, cancel, rerun what is missing, read a child's log, fetch the
renders, read the queues. The stack is whatever its outputs describe (farm.stack: local cloud or account).

Runs and attempts (docs/contracts.md, "Workflow"): the run id is the execution name of a run's first attempt
and the S3 prefix of everything it writes; attempt N >= 2 (a rerun) is the execution `<run_id>.r<N>`, writing
into the same prefix.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from farm.polling import poll
from render_worker import child_progress, cost, parts, selection, sizing, spec
from render_worker.child_progress import RunProgress
from render_worker.uri import Execution, check_run_id, new_run_id, parse_execution, parse_uri

__all__ = ["FarmClient", "RunState", "new_run_id"]

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
TERMINAL_JOB = {"SUCCEEDED", "FAILED"}
RENDER_STATES = ("RenderPlain", "RenderArray")  # not the scratch clean-up job submitted after the message
CANCEL_REASON = "farm-cancel: requested by farm cancel"  # the workflow routes this reason to CANCELLED
CANCELLED_ERROR = "RenderFailed.Cancelled"
DEFAULT_LOG_GROUP = "/aws/batch/job"
FETCH_LOG = ".farm-fetch.jsonl"  # what a fetch finished, so an interrupted one resumes


class RunNotFound(LookupError):
    """No execution of the state machine has this run id."""


class RunStillRunning(RuntimeError):
    """The operation needs a run that has ended (or one that is still running, for cancel)."""


# ---- what the client reports -------------------------------------------------------------------------------


def elapsed(started: datetime | None, stopped: datetime | None) -> float | None:
    """Seconds from start to stop, or to now while running."""
    if not started:
        return None
    return ((stopped or datetime.now(started.tzinfo)) - started).total_seconds()


@dataclass
class RunState:
    """One look at one attempt of a run: its execution, the state it is in, and its Batch job's children."""

    run_id: str
    execution_arn: str
    status: str  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED (CANCELLED: see `shown_status`)
    attempt: int = 1
    step: str | None = None  # the state last entered (ValidateInput, RenderArray, ...)
    job_id: str | None = None
    children_total: int | None = None  # 1 for a plain job
    children_done: int = 0  # SUCCEEDED + FAILED
    children_failed: int = 0
    error: str | None = None
    cause: str | None = None
    output: dict[str, Any] | None = None
    validated: dict[str, Any] | None = None  # ValidateInput's output (catalog, variants, selection, ...)
    started: datetime | None = None
    stopped: datetime | None = None
    progress: RunProgress | None = None  # the children's progress objects, summed (once the render started)

    @property
    def execution(self) -> str:
        return self.execution_arn.rsplit(":", 1)[-1]

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    @property
    def cancelled(self) -> bool:
        return self.error == CANCELLED_ERROR

    @property
    def shown_status(self) -> str:
        return "CANCELLED" if self.cancelled else self.status

    @property
    def seconds(self) -> float | None:
        return elapsed(self.started, self.stopped)

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "attempt": self.attempt,
            "execution_arn": self.execution_arn,
            "status": self.shown_status,
            "step": self.step,
            "job_id": self.job_id,
            "children_total": self.children_total,
            "children_done": self.children_done,
            "children_failed": self.children_failed,
            "error": self.error,
            "cause": self.cause,
            "seconds": self.seconds,
            "progress": None if self.progress is None else self.progress.as_dict(),
            "output": self.output,
        }


@dataclass
class RunSummary:
    """One row of `farm ls`: an execution (a run's attempt)."""

    execution: str
    status: str
    started: datetime | None
    stopped: datetime | None
    catalog_id: str | None = None
    variants: int | None = None

    @property
    def seconds(self) -> float | None:
        return elapsed(self.started, self.stopped)


@dataclass
class Rerun:
    run_id: str
    attempt: int  # 0 when nothing was started
    execution_arn: str | None
    missing: int  # variants the new attempt renders
    total: int
    reason: str  # one sentence for the operator


@dataclass
class ChildLog:
    job_id: str  # the child (`<array job>:<index>`) or the plain job
    status: str
    attempt: int  # the run's attempt that ran it
    log_stream: str | None
    lines: list[str] = field(default_factory=list)


@dataclass
class Fetched:
    out_dir: Path
    files: list[Path] = field(default_factory=list)
    downloaded: int = 0  # objects fetched by this call (GETs that completed)
    kept: int = 0  # objects an earlier, interrupted fetch had already finished
    interrupted: bool = False

    @property
    def svgs(self) -> list[Path]:
        return [p for p in self.files if p.suffix == ".svg"]

    @property
    def manifest(self) -> Path | None:
        path = self.out_dir / "manifest.json"
        return path if path in self.files else None

    @property
    def gallery(self) -> Path | None:
        path = self.out_dir / "index.html"
        return path if path in self.files else None


@dataclass
class Received:
    message_id: str
    message: dict[str, Any]


# ---- the client ----------------------------------------------------------------------------------------


class FarmClient:
    def __init__(self, stack):
        self.stack = stack

    def client(self, service: str):
        return self.stack.client(service)

    # -- specs and starts --

    def upload_spec(self, body: bytes, key_prefix: str, filename: str = "catalog.json") -> str:
        """Put a spec in the specs bucket (SSE-KMS with the storage key, as the bucket policy demands)."""
        bucket = self.stack["specs_bucket"]
        key = f"{key_prefix}/{filename}"
        self.client("s3").put_object(
            Bucket=bucket,
            Key=key,
            Body=body,
            ContentType="application/json",
            **self.sse_kms(),
        )
        return f"s3://{bucket}/{key}"

    def sse_kms(self) -> dict[str, str]:
        """The bucket policies deny unencrypted puts: every PUT names SSE-KMS and the storage key."""
        return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": self.stack["kms_key_arns"]["storage"]}

    def start(self, spec_uri: str, run_id: str, *, attempt: int = 1, **extra: Any) -> str:
        """Start the workflow for a spec already in S3; returns the execution ARN. `extra`: the optional
        execution input fields (variants, spec_version_id) of a rerun."""
        check_run_id(run_id)  # one definition of a run id, newline-proof (render_worker.uri)
        check_cloud_spec_uri(spec_uri)
        document = {"spec_uri": spec_uri, **extra}
        if attempt == 1:
            document["run_id"] = run_id
        response = self.client("stepfunctions").start_execution(
            stateMachineArn=self.stack["state_machine_arn"],
            name=Execution(run_id, attempt).name,
            input=json.dumps(document),
        )
        return response["executionArn"]

    def submit(
        self, spec: Path | bytes, run_id: str | None = None, filename: str = "catalog.json", **extra: Any
    ):
        """Upload a spec (a file, or its bytes) and start its run; returns (run_id, execution ARN). `extra`:
        the optional execution input fields (priority, max_cost)."""
        if isinstance(spec, bytes):
            body = spec
        else:
            body, filename = Path(spec).read_bytes(), Path(spec).name
        run_id = run_id or new_run_id(filename.removesuffix(".json"))
        return run_id, self.start(self.upload_spec(body, run_id, filename), run_id, **extra)

    def estimate(self, body: bytes) -> tuple[spec.Catalog, sizing.Plan, cost.Cost]:
        """What ValidateInput would plan and estimate for this spec, without running it: the same sizing
        model, job resources and prices the stack's outputs name (sizing, job_resources, prices). Raises
        SpecInvalid (and the other spec errors) as ValidateInput would."""
        catalog = spec.load_catalog(body)
        model = self.stack.sizing_model()
        plan = sizing.plan(catalog.variant_count, model, catalog.override)
        estimate = cost.estimate(
            catalog.variant_count, plan, model, self.stack.job_resources(), self.stack.prices()
        )
        return catalog, plan, estimate

    # -- looking at runs --

    def execution_arn(self, name: str) -> str:
        """The execution name is the run id (plus `.rN`), so its ARN follows from the state machine's."""
        machine = self.stack["state_machine_arn"]
        return f"{machine.replace(':stateMachine:', ':execution:', 1)}:{name}"

    def _describe(self, name: str) -> dict[str, Any] | None:
        sfn = self.client("stepfunctions")
        try:
            return sfn.describe_execution(executionArn=self.execution_arn(name))
        except sfn.exceptions.ExecutionDoesNotExist:
            return None

    def attempts(self, run_id: str) -> int:
        """How many attempts the run has (0: no such run)."""
        count = 0
        while self._describe(Execution(run_id, count + 1).name) is not None:
            count += 1
        return count

    def history(self, execution: str) -> list[dict[str, Any]]:
        sfn = self.client("stepfunctions")
        events: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"executionArn": self.execution_arn(execution), "maxResults": 1000}
        while True:
            page = sfn.get_execution_history(**kwargs)
            events.extend(page.get("events", []))
            if not page.get("nextToken"):
                return events
            kwargs["nextToken"] = page["nextToken"]

    def resolve(self, run: str) -> Execution:
        """`run` (a run id: its latest attempt) or `run.rN` (exactly that attempt) as an Execution."""
        try:
            named = parse_execution(run)
        except ValueError as err:
            raise RunNotFound(f"no run {run!r}: {err}") from None
        if named.name == named.run_id:
            return Execution(named.run_id, max(1, self.attempts(named.run_id)))
        return named

    def status(self, run: str) -> RunState:
        """The latest attempt of run `run` (or exactly the attempt `run.rN` names)."""
        execution = self.resolve(run)
        return self.attempt_status(execution.run_id, execution.attempt)

    def attempt_status(self, run_id: str, attempt: int) -> RunState:
        name = Execution(run_id, attempt).name
        described = self._describe(name)
        if described is None:
            raise RunNotFound(f"no run {name!r} (execution {self.execution_arn(name)})")
        state = RunState(
            run_id=run_id,
            attempt=attempt,
            execution_arn=described["executionArn"],
            status=described["status"],
            error=described.get("error"),
            cause=described.get("cause"),
            started=described.get("startDate"),
            stopped=described.get("stopDate"),
        )
        if described.get("output"):
            try:
                state.output = json.loads(described["output"])
            except json.JSONDecodeError:
                state.output = None
        events = self.history(name)
        state.step = step_from_history(events)
        state.job_id = job_id_from_history(events)
        state.validated = validated_from_history(events)
        if state.job_id:
            state.children_total, state.children_done, state.children_failed = self._children(state.job_id)
            if state.validated:
                state.progress = self.progress(run_id, attempt, state.validated)
        if state.status == "FAILED" and not state.error:
            state.error, state.cause = failure_from_history(events)
        return state

    def progress(self, run_id: str, attempt: int, validated: dict[str, Any]) -> RunProgress:
        """The attempt's children's progress objects (render_worker.child_progress), summed: variants done of
        the attempt's selected count, the rate since its first child started, and the ETA."""
        prefix = f"{run_id}/"
        listed = self.objects(run_id, child_progress.attempt_prefix(attempt))
        keys = [
            obj["Key"]
            for obj in listed
            if (child_progress.parse_progress_key(obj["Key"][len(prefix) :]) or (0,))[0] == attempt
        ]
        bucket = self.stack["renders_bucket"]
        s3 = self.client("s3")
        with ThreadPoolExecutor(max_workers=parts.READERS) as pool:
            bodies = list(pool.map(lambda key: parts.read_body(s3, bucket, key), keys))
        total = int(validated.get("selected_count", validated.get("variant_count", 0)) or 0)
        children = int(validated.get("children") or validated.get("array_size") or 0)
        return child_progress.summarize(bodies, total, children, time.time())

    def _children(self, job_id: str) -> tuple[int | None, int, int]:
        """(total, done, failed) from DescribeJobs: arrayProperties.statusSummary, or the job if plain."""
        jobs = self.client("batch").describe_jobs(jobs=[job_id]).get("jobs", [])
        if not jobs:
            return None, 0, 0
        job = jobs[0]
        array = job.get("arrayProperties") or {}
        if array.get("size"):
            summary = array.get("statusSummary") or {}
            failed = summary.get("FAILED", 0)
            return array["size"], summary.get("SUCCEEDED", 0) + failed, failed
        status = job.get("status")
        return 1, int(status in TERMINAL_JOB), int(status == "FAILED")

    def wait(
        self,
        run: str,
        *,
        on_update: Callable[[RunState], None] | None = None,
        timeout: float | None = None,
        poll_seconds: float = 1.0,
    ) -> RunState:
        """Poll the run (its latest attempt when it started, or the attempt named) until it ends."""
        execution = self.resolve(run)
        return poll(
            lambda: self.attempt_status(execution.run_id, execution.attempt),
            lambda state: state.finished,
            timeout=timeout,
            interval=poll_seconds,
            on_look=on_update,
            what=lambda state: f"run {state.execution} still {state.status}",
        )

    def execution(self, name: str) -> dict[str, Any]:
        """DescribeExecution of the execution `name` (a run id, or `<run_id>.rN`)."""
        described = self._describe(name)
        if described is None:
            raise RunNotFound(f"no run {name!r} (execution {self.execution_arn(name)})")
        return described

    def wait_execution(
        self, name: str, *, timeout: float | None, poll_seconds: float = 1.0
    ) -> dict[str, Any]:
        """DescribeExecution until it ends: one call per look (the load and perf users, where `wait`'s
        history and DescribeJobs per look would be load of their own)."""
        return poll(
            lambda: self.execution(name),
            lambda described: described["status"] in TERMINAL,
            timeout=timeout,
            interval=poll_seconds,
            what=lambda described: f"execution {name} still {described['status']}",
        )

    def runs(self, limit: int = 20) -> list[RunSummary]:
        """The most recent executions, newest first, with the catalog and variant count ValidateInput saw."""
        sfn = self.client("stepfunctions")
        found: list[dict[str, Any]] = []
        kwargs: dict[str, Any] = {"stateMachineArn": self.stack["state_machine_arn"], "maxResults": 100}
        while True:
            page = sfn.list_executions(**kwargs)
            found.extend(page.get("executions", []))
            if not page.get("nextToken"):
                break
            kwargs["nextToken"] = page["nextToken"]
        found.sort(key=lambda e: e["startDate"], reverse=True)
        rows = []
        for execution in found[:limit]:
            events = self.history(execution["name"])
            validated = validated_from_history(events) or {}
            cancelled = failure_from_history(events)[0] == CANCELLED_ERROR  # the history has the error too
            rows.append(
                RunSummary(
                    execution=execution["name"],
                    status="CANCELLED" if cancelled else execution["status"],
                    started=execution.get("startDate"),
                    stopped=execution.get("stopDate"),
                    catalog_id=validated.get("catalog_id"),
                    variants=validated.get("selected_count", validated.get("variant_count")),
                )
            )
        return rows

    # -- operating on runs --

    def cancel(self, run_id: str, *, timeout: float = 120) -> tuple[RunState, bool]:
        """Terminate the run's Batch job (Batch stops its children) with the reason the workflow routes to one
        CANCELLED message, and wait for the execution to end. A run still in ValidateInput is cancelled as
        soon as its job exists. Returns the final state, and whether this call terminated the job (False: the
        run had ended, or ended before it had a job)."""
        state = self.status(run_id)
        if state.finished:
            return state, False
        state = poll(
            lambda: self.attempt_status(state.run_id, state.attempt),
            lambda s: s.finished or s.job_id is not None,
            timeout=timeout,
            interval=0.5,
            what=lambda s: f"run {s.execution} has no Batch job yet",
        )
        if state.finished:
            return state, False
        self.client("batch").terminate_job(jobId=state.job_id, reason=CANCEL_REASON)
        return self.wait(state.execution, timeout=timeout, poll_seconds=0.5), True

    def catalog(self, validated: dict[str, Any]):
        """The spec version ValidateInput validated for the run (its output, `validated`), as a Catalog."""
        from render_worker import spec as spec_module
        from render_worker.storage import fetch_spec

        spec_object = fetch_spec(
            validated["spec_uri"],
            spec_module.MAX_SPEC_BYTES,
            self.client("s3"),
            version_id=validated.get("spec_version_id") or "",
        )
        return spec_module.load_catalog(spec_object.body)

    def renders(self, run_id: str, catalog) -> tuple[list[int], dict[int, parts.Rendered], bool]:
        """What the run's prefix holds, read as PublishResults reads it (render_worker.parts): the flat
        indexes a rerun must render, the record of the latest attempt that rendered each index, and whether
        manifest.json exists."""
        bucket, prefix = self.stack["renders_bucket"], f"{run_id}/"
        sizes = {obj["Key"]: obj["Size"] for obj in self.objects(run_id)}
        winners = parts.latest(parts.load(self.client("s3"), bucket, prefix, sizes))
        missing = parts.unrendered(catalog, prefix, sizes, winners)
        return missing, winners, f"{prefix}manifest.json" in sizes

    def missing_variants(self, validated: dict[str, Any]) -> tuple[list[int], int, bool]:
        """(flat indexes a rerun must render, the spec's variant count, whether manifest.json exists) of the
        run whose ValidateInput output is `validated`."""
        catalog = self.catalog(validated)
        missing, _winners, published = self.renders(validated["run_id"], catalog)
        return missing, catalog.variant_count, published

    def rerun(self, run_id: str) -> Rerun:
        """Render only the variants of the run that have no SVG, as attempt N+1 into the same prefix; it
        republishes manifest.json and index.html and ends in one message naming the attempt."""
        attempts = self.attempts(run_id)
        if not attempts:
            raise RunNotFound(f"no run {run_id!r}")
        latest = self.attempt_status(run_id, attempts)
        if not latest.finished:
            raise RunStillRunning(
                f"run {latest.execution} is still {latest.status}: wait for it or cancel it"
            )
        first = latest if attempts == 1 else self.attempt_status(run_id, 1)
        if not first.validated:
            raise RunStillRunning(
                f"run {run_id} never passed ValidateInput ({first.error}): fix the spec and submit it again"
            )
        missing, total, published = self.missing_variants(first.validated)
        if not missing and published:
            return Rerun(
                run_id, 0, None, 0, total, f"run {run_id} is complete: {total} variants, nothing to do"
            )
        arn = self.start(
            first.validated["spec_uri"],
            run_id,
            attempt=attempts + 1,
            variants=selection.Selection.of(missing).covering().text,  # at most MAX_RANGES ranges
            spec_version_id=first.validated.get("spec_version_id") or "",
        )
        return Rerun(
            run_id,
            attempts + 1,
            arn,
            len(missing),
            total,
            f"attempt {attempts + 1} renders the {len(missing)} of {total} variants that are missing",
        )

    # -- logs --

    def logs(self, run_id: str, sku: str | None = None, *, max_lines: int = 10_000) -> list[ChildLog]:
        """The log of the child that rendered `sku` (the latest attempt that selected it), or, without a SKU,
        of every failed child of the latest attempt."""
        attempts = self.attempts(run_id)
        if not attempts:
            raise RunNotFound(f"no run {run_id!r}")
        if sku is None:
            state = self.attempt_status(run_id, attempts)
            children = [(job, state.attempt) for job in self._failed_children(state)]
        else:
            children = [self._child_of_sku(run_id, attempts, sku)]
        return [self._child_log(job_id, attempt, max_lines) for job_id, attempt in children]

    def _failed_children(self, state: RunState) -> list[str]:
        if not state.job_id:
            return []
        batch = self.client("batch")
        if (state.children_total or 1) == 1:
            (job,) = batch.describe_jobs(jobs=[state.job_id])["jobs"]
            return [state.job_id] if job["status"] == "FAILED" else []
        failed: list[str] = []
        kwargs: dict[str, Any] = {"arrayJobId": state.job_id, "jobStatus": "FAILED"}
        while True:
            page = batch.list_jobs(**kwargs)
            failed.extend(job["jobId"] for job in page.get("jobSummaryList", []))
            if not page.get("nextToken"):
                return sorted(failed, key=_child_index)
            kwargs["nextToken"] = page["nextToken"]

    def _child_of_sku(self, run_id: str, attempts: int, sku: str) -> tuple[str, int]:
        """(child job id, attempt) of the child that rendered `sku`: the part record of the latest attempt
        that lists it (render_worker.parts, as PublishResults picks it)."""
        first = self.attempt_status(run_id, 1)
        if not first.validated:
            raise LookupError(f"run {run_id} never passed ValidateInput: no child rendered anything")
        catalog = self.catalog(first.validated)
        flat = next(
            (i for i, _p, v in catalog.entries(range(catalog.variant_count)) if v["sku"] == sku), None
        )
        if flat is None:
            raise LookupError(f"run {run_id}'s spec has no SKU {sku!r}")
        _missing, winners, _published = self.renders(run_id, catalog)
        if flat not in winners:
            raise LookupError(f"no attempt of run {run_id} rendered SKU {sku!r} (flat index {flat})")
        rendered = winners[flat]
        state = first if rendered.attempt == 1 else self.attempt_status(run_id, rendered.attempt)
        if not state.job_id:
            raise LookupError(f"attempt {rendered.attempt} of run {run_id} has no Batch job in its history")
        if rendered.child == "plain":
            return state.job_id, rendered.attempt
        return f"{state.job_id}:{int(rendered.child.removeprefix('child-'))}", rendered.attempt

    def _child_log(self, job_id: str, attempt: int, max_lines: int) -> ChildLog:
        (job,) = self.client("batch").describe_jobs(jobs=[job_id])["jobs"]
        streams = [a.get("container", {}).get("logStreamName") for a in job.get("attempts", [])]
        streams.append((job.get("container") or {}).get("logStreamName"))
        streams = list(dict.fromkeys(s for s in streams if s))  # every Batch attempt's, in order, once
        child = ChildLog(
            job_id=job_id, status=job["status"], attempt=attempt, log_stream=streams[-1] if streams else None
        )
        group = self._log_group(job)
        for stream in streams:
            if len(streams) > 1:
                child.lines.append(f"--- log stream {stream}")
            child.lines.extend(self._log_lines(group, stream, max_lines - len(child.lines)))
        return child

    def _log_group(self, job: dict[str, Any]) -> str:
        options = ((job.get("container") or {}).get("logConfiguration") or {}).get("options") or {}
        if "awslogs-group" in options:
            return options["awslogs-group"]
        definition = self.client("batch").describe_job_definitions(jobDefinitions=[job["jobDefinition"]])
        for found in definition.get("jobDefinitions", []):
            config = found.get("containerProperties", {}).get("logConfiguration") or {}
            return (config.get("options") or {}).get("awslogs-group", DEFAULT_LOG_GROUP)
        return DEFAULT_LOG_GROUP

    def _log_lines(self, group: str, stream: str, limit: int) -> list[str]:
        logs = self.client("logs")
        lines: list[str] = []
        kwargs: dict[str, Any] = {"logGroupName": group, "logStreamName": stream, "startFromHead": True}
        while len(lines) < limit:
            try:
                page = logs.get_log_events(**kwargs)
            except logs.exceptions.ResourceNotFoundException:
                return [f"(no log stream {group}/{stream})"]
            lines.extend(event["message"].rstrip("\n") for event in page.get("events", []))
            token = page.get("nextForwardToken")
            if not page.get("events") or token == kwargs.get("nextToken"):
                break
            kwargs["nextToken"] = token
        return lines[:limit]

    # -- renders --

    def objects(self, run_id: str, under: str = "") -> Iterator[dict[str, Any]]:
        """Every object under s3://<renders>/<run_id>/<under> (ListObjectsV2 entries: Key, Size, ETag...)."""
        s3 = self.client("s3")
        paginator = s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.stack["renders_bucket"], Prefix=f"{run_id}/{under}"):
            yield from page.get("Contents", [])

    def keys(self, run_id: str) -> list[str]:
        """Every key under the run's prefix, relative to it, sorted."""
        prefix = f"{run_id}/"
        return sorted(obj["Key"][len(prefix) :] for obj in self.objects(run_id))

    def get(self, run_id: str, relative: str) -> bytes:
        s3 = self.client("s3")
        return s3.get_object(Bucket=self.stack["renders_bucket"], Key=f"{run_id}/{relative}")["Body"].read()

    def head(self, run_id: str, relative: str) -> dict[str, Any]:
        s3 = self.client("s3")
        return s3.head_object(Bucket=self.stack["renders_bucket"], Key=f"{run_id}/{relative}")

    def fetch(
        self,
        run_id: str,
        out_dir: Path,
        *,
        include_parts: bool = False,
        workers: int = 8,
        progress=None,
    ) -> Fetched:
        """Download everything under the run's prefix into out_dir (part records and progress objects only if
        asked), `workers` at a time. Each object goes to `<file>.part` and is renamed when complete, and the
        completion is logged in out_dir/.farm-fetch.jsonl (key, ETag); a fetch interrupted (Ctrl-C, a crash)
        and started again skips what is logged with the same ETag and resumes a `.part` with a ranged GET, so
        each object is downloaded once. `progress`: a farm.progress.Progress (objects done / total)."""
        prefix = f"{run_id}/"
        wanted = []
        for obj in self.objects(run_id):
            relative = obj["Key"][len(prefix) :]
            if not relative or relative.endswith("/"):
                continue
            if relative.startswith(("_parts/", child_progress.PREFIX)) and not include_parts:
                continue
            wanted.append((relative, obj["ETag"], obj["Size"]))
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        journal = FetchJournal(out_dir / FETCH_LOG)
        result = Fetched(out_dir=out_dir)
        todo = []
        for relative, etag, size in sorted(wanted):
            target = _inside(out_dir, relative, prefix)
            if journal.has(relative, etag) and target.is_file() and target.stat().st_size == size:
                result.files.append(target)
                result.kept += 1
            else:
                todo.append((relative, etag, target))
        if progress is not None:
            progress.update(done=result.kept, total=len(wanted))
        bucket, s3 = self.stack["renders_bucket"], self.client("s3")

        def download(relative: str, etag: str, target: Path) -> Path:
            _download(s3, bucket, prefix + relative, etag, target)
            journal.add(relative, etag)
            return target

        pool = ThreadPoolExecutor(max_workers=workers)
        futures = [pool.submit(download, *item) for item in todo]
        try:
            for future in as_completed(futures):
                result.files.append(future.result())
                result.downloaded += 1
                if progress is not None:
                    progress.advance()
        except KeyboardInterrupt:
            result.interrupted = True
            pool.shutdown(wait=True, cancel_futures=True)  # what is in flight finishes and is logged
            finished = [f for f in futures if f.done() and not f.cancelled() and f.exception() is None]
            result.downloaded = len(finished)  # counted whether or not the loop above saw them
            raise FetchInterrupted(result) from None
        finally:
            pool.shutdown(wait=True)
        result.files.sort()
        return result

    # -- queues --

    def receive(
        self,
        queue_output: str,
        accept: Callable[[dict[str, Any]], bool] = lambda m: True,
        wait_seconds: int = 1,
    ) -> list[Received]:
        """One ReceiveMessage on the queue a contract output names (e.g. notifications_queue_url): each body
        unwrapped (farm.consumer.unwrap: SNS envelope or raw); the accepted ones are deleted and returned, the
        rest made visible again at once for whoever owns them."""
        from farm.consumer import Unprocessable, unwrap

        sqs, url = self.client("sqs"), self.stack[queue_output]
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds)
        ours, theirs = [], []
        for raw in got.get("Messages", []):
            try:
                message = unwrap(raw["Body"])
            except Unprocessable:
                message = None
            if isinstance(message, dict) and accept(message):
                ours.append((raw, message))
            else:
                theirs.append(raw)
        for raw in theirs:
            sqs.change_message_visibility(
                QueueUrl=url, ReceiptHandle=raw["ReceiptHandle"], VisibilityTimeout=0
            )
        if ours:
            entries = [
                {"Id": str(i), "ReceiptHandle": raw["ReceiptHandle"]} for i, (raw, _) in enumerate(ours)
            ]
            sqs.delete_message_batch(QueueUrl=url, Entries=entries)
        return [Received(raw["MessageId"], message) for raw, message in ours]

    # -- standalone Batch jobs (the perf and integration suites submit straight to the queue) --

    def submit_job(
        self,
        run_id: str,
        spec_uri: str,
        *,
        variants_per_child: int,
        array_size: int,
        queue: str | None = None,
        environment: dict[str, str] | None = None,
        **overrides: Any,
    ) -> str:
        """SubmitJob of the worker's job definition for a spec: the worker's contract environment."""
        env = {
            "SPEC_URI": spec_uri,
            "RUN_ID": run_id,
            "OUTPUT_URI": f"s3://{self.stack['renders_bucket']}/{run_id}/",
            "VARIANTS_PER_CHILD": str(variants_per_child),
            "OUTPUT_KMS_KEY_ID": self.stack["kms_key_arns"]["storage"],
            **(environment or {}),
        }
        kwargs: dict[str, Any] = {
            "jobName": run_id,
            "jobQueue": queue or self.stack["job_queue_arn"],
            "jobDefinition": self.stack["job_definition_arn"],
            "containerOverrides": {"environment": [{"name": k, "value": v} for k, v in env.items()]},
            **overrides,
        }
        if array_size > 1:  # Batch arrays hold 2..10,000 children; one child is a plain job
            kwargs["arrayProperties"] = {"size": array_size}
        return self.client("batch").submit_job(**kwargs)["jobId"]

    def job(self, job_id: str) -> dict[str, Any] | None:
        jobs = self.client("batch").describe_jobs(jobs=[job_id]).get("jobs", [])
        return jobs[0] if jobs else None

    def wait_job(self, job_id: str, *, timeout: float, poll_seconds: float = 1.0) -> dict[str, Any]:
        """The Batch job once SUCCEEDED or FAILED; TimeoutError when it is still going after `timeout` s."""
        return poll(
            lambda: self.job(job_id),
            lambda job: job is not None and job["status"] in TERMINAL_JOB,
            timeout=timeout,
            interval=poll_seconds,
            what=lambda job: f"batch job {job_id} still {job['status'] if job else 'UNKNOWN'}",
        )


class FetchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a fetch: what was finished is logged; `fetched` says how far it got."""

    def __init__(self, fetched: Fetched):
        super().__init__()
        self.fetched = fetched


class FetchJournal:
    """out_dir/.farm-fetch.jsonl: one line per finished download (key, ETag), appended under a lock."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()
        self._done: dict[str, str] = {}
        if path.is_file():
            for line in path.read_text().splitlines():
                try:
                    entry = json.loads(line)
                    self._done[entry["key"]] = entry["etag"]
                except (json.JSONDecodeError, KeyError, TypeError):
                    continue  # a line cut by a crash: that object is fetched again

    def has(self, key: str, etag: str) -> bool:
        return self._done.get(key) == etag

    def add(self, key: str, etag: str) -> None:
        with self._lock, self.path.open("a") as journal:
            journal.write(json.dumps({"key": key, "etag": etag}) + "\n")
            self._done[key] = etag


def _inside(out_dir: Path, relative: str, prefix: str) -> Path:
    target = (out_dir / relative).resolve()
    if out_dir.resolve() not in target.parents:  # keys come from our own bucket, but never write outside
        raise ValueError(f"refusing key {prefix}{relative}: it leaves {out_dir}")
    return out_dir / relative


def _download(s3, bucket: str, key: str, etag: str, target: Path) -> None:
    """GET into `<target>.part` (resumed with a Range from its length if it exists, for the same ETag), then
    rename: a file under its own name is always complete."""
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    kwargs: dict[str, Any] = {"Bucket": bucket, "Key": key, "IfMatch": etag}
    if have:
        kwargs["Range"] = f"bytes={have}-"
    try:
        response = s3.get_object(**kwargs)
    except s3.exceptions.ClientError as err:
        code = err.response.get("Error", {}).get("Code")
        if code not in ("InvalidRange", "416", "PreconditionFailed", "412"):
            raise
        have, kwargs = 0, {"Bucket": bucket, "Key": key}  # the .part is stale or already whole: start over
        response = s3.get_object(**kwargs)
    with part.open("ab" if have else "wb") as sink:
        for chunk in response["Body"].iter_chunks(1 << 20):
            sink.write(chunk)
    part.replace(target)


def _child_index(job_id: str) -> int:
    return int(job_id.rsplit(":", 1)[-1]) if ":" in job_id else 0


# ---- reading an execution's history ------------------------------------------------------------------------


def step_from_history(events: list[dict[str, Any]]) -> str | None:
    for event in reversed(events):
        details = event.get("stateEnteredEventDetails")
        if details:
            return details.get("name")
    return None


def job_id_from_history(events: list[dict[str, Any]]) -> str | None:
    """The Batch job a Render state submitted: its last batch TaskSubmitted (or TaskSucceeded) output."""
    job_id, state = None, None
    for event in events:
        entered = event.get("stateEnteredEventDetails")
        if entered:
            state = entered.get("name")
            continue
        details = event.get("taskSubmittedEventDetails") or event.get("taskSucceededEventDetails")
        if not details or details.get("resourceType") != "batch" or state not in RENDER_STATES:
            continue
        try:
            output = json.loads(details.get("output") or "{}")
        except json.JSONDecodeError:
            continue
        job_id = output.get("JobId") or output.get("jobId") or job_id
    return job_id


def validated_from_history(events: list[dict[str, Any]]) -> dict[str, Any] | None:
    """ValidateInput's output (`$.validated`: catalog, variants, selection, sizing) once it has passed."""
    for event in events:
        exited = event.get("stateExitedEventDetails")
        if exited and exited.get("name") == "ValidateInput":
            try:
                return json.loads(exited.get("output") or "{}").get("validated")
            except json.JSONDecodeError:
                return None
    return None


def failure_from_history(events: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    for event in reversed(events):
        details = event.get("executionFailedEventDetails")
        if details:
            return details.get("error"), details.get("cause")
    return None, None


def check_cloud_spec_uri(spec_uri: str) -> None:
    """The deployed workflow reads specs from S3 only; ValueError for anything else (a file:// URI names a
    file the cloud cannot see: it serves the offline `farm render` and `farm validate`)."""
    try:
        scheme = parse_uri(spec_uri, what="spec_uri").scheme
    except ValueError as err:
        raise ValueError(f"{err}: the workflow takes s3://bucket/key") from None
    if scheme != "s3":
        raise ValueError(
            f"spec_uri {spec_uri!r} is not an s3:// URI: the workflow reads specs from S3 only "
            "(`farm submit FILE` uploads a local spec; file:// is for `farm render` and `farm validate`)"
        )
