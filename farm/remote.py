"""`farm submit`, `farm status`, `farm fetch`: run a spec on the deployed stack and collect its renders.

The stack is whatever `terraform output` describes (farm.stack.load(): local or aws), so the same commands
work against the local cloud and a real account.

Exit codes (every subcommand):
  0  done: submitted (without --wait), or the run SUCCEEDED, or the renders were downloaded
  1  the run ended FAILED, TIMED_OUT or ABORTED (or `fetch` found no manifest: the run did not complete)
  2  usage error, or the spec file cannot be read
  3  no such run, or no stack deployed
  4  the run is still RUNNING (`status`, or `submit --wait --timeout` gave up waiting)
  5  the cloud refused a request (credentials, permissions, a bucket policy): the message says which
"""

from __future__ import annotations

import argparse
import json
import re
import secrets
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from render_worker.uri import check_run_id, parse_uri

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_STILL_RUNNING = 4
EXIT_CLOUD_ERROR = 5

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
POLL_SECONDS = 1.0


class RunNotFound(LookupError):
    """No execution of the state machine has this run id."""


@dataclass
class RunState:
    """One look at a run: the execution, the state it is in, and its Batch job's children."""

    run_id: str
    execution_arn: str
    status: str  # RUNNING | SUCCEEDED | FAILED | TIMED_OUT | ABORTED
    step: str | None = None  # the state last entered (ValidateInput, Render, ...)
    job_id: str | None = None
    children_total: int | None = None  # 1 for a plain job
    children_done: int = 0  # SUCCEEDED + FAILED
    children_failed: int = 0
    error: str | None = None
    cause: str | None = None
    output: dict[str, Any] | None = None
    started: datetime | None = None
    stopped: datetime | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL

    @property
    def seconds(self) -> float | None:
        if not self.started:
            return None
        end = self.stopped or datetime.now(self.started.tzinfo)
        return (end - self.started).total_seconds()


@dataclass
class Fetched:
    out_dir: Path
    files: list[Path] = field(default_factory=list)

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


# ---- operations (used by the CLI, the demo and the live tests) -------------------------------------------


def new_run_id(hint: str = "run") -> str:
    """`<hint>-<UTC time>-<random>`: unique, sortable, and valid as an execution name and an S3 key part."""
    stem = re.sub(r"[^A-Za-z0-9_-]+", "-", hint).strip("-_")[:40] or "run"
    if not stem[0].isalnum():
        stem = f"r{stem}"
    return f"{stem}-{datetime.now(UTC):%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"


def execution_arn(stack, run_id: str) -> str:
    """The run id is the execution name, so its ARN follows from the state machine's."""
    machine = stack["state_machine_arn"]
    return f"{machine.replace(':stateMachine:', ':execution:', 1)}:{run_id}"


def upload_spec(stack, body: bytes, run_id: str, filename: str = "catalog.json") -> str:
    """Put the spec in the specs bucket (SSE-KMS with the storage key, as the bucket policy demands)."""
    bucket = stack["specs_bucket"]
    key = f"{run_id}/{filename}"
    stack.client("s3").put_object(
        Bucket=bucket,
        Key=key,
        Body=body,
        ContentType="application/json",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=stack["kms_key_arns"]["storage"],
    )
    return f"s3://{bucket}/{key}"


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


def start_run(stack, spec_uri: str, run_id: str) -> str:
    """Start the workflow for a spec already in S3; returns the execution ARN."""
    check_run_id(run_id)  # one definition of a run id, newline-proof (render_worker.uri)
    check_cloud_spec_uri(spec_uri)
    response = stack.client("stepfunctions").start_execution(
        stateMachineArn=stack["state_machine_arn"],
        name=run_id,
        input=json.dumps({"spec_uri": spec_uri, "run_id": run_id}),
    )
    return response["executionArn"]


def submit(stack, spec_path: Path, run_id: str | None = None) -> tuple[str, str]:
    """Upload a local spec file and start its run; returns (run_id, execution ARN)."""
    body = Path(spec_path).read_bytes()
    run_id = run_id or new_run_id(Path(spec_path).name.removesuffix(".json"))
    spec_uri = upload_spec(stack, body, run_id, Path(spec_path).name)
    return run_id, start_run(stack, spec_uri, run_id)


def execution_history(sfn, arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    kwargs: dict[str, Any] = {"executionArn": arn, "maxResults": 1000}
    while True:
        page = sfn.get_execution_history(**kwargs)
        events.extend(page.get("events", []))
        if not page.get("nextToken"):
            return events
        kwargs["nextToken"] = page["nextToken"]


RENDER_STATES = ("RenderPlain", "RenderArray")  # not the scratch clean-up job submitted after the message


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


def _step_from_history(events: list[dict[str, Any]]) -> str | None:
    for event in reversed(events):
        details = event.get("stateEnteredEventDetails")
        if details:
            return details.get("name")
    return None


def _children(batch, job_id: str) -> tuple[int | None, int, int]:
    """(total, done, failed) from DescribeJobs: arrayProperties.statusSummary, or the job itself if plain."""
    jobs = batch.describe_jobs(jobs=[job_id]).get("jobs", [])
    if not jobs:
        return None, 0, 0
    job = jobs[0]
    array = job.get("arrayProperties") or {}
    if array.get("size"):
        summary = array.get("statusSummary") or {}
        failed = summary.get("FAILED", 0)
        return array["size"], summary.get("SUCCEEDED", 0) + failed, failed
    status = job.get("status")
    return 1, int(status in ("SUCCEEDED", "FAILED")), int(status == "FAILED")


def status(stack, run_id: str) -> RunState:
    """Describe the run: execution status, current step, and Batch children done / total."""
    sfn = stack.client("stepfunctions")
    arn = execution_arn(stack, run_id)
    try:
        described = sfn.describe_execution(executionArn=arn)
    except sfn.exceptions.ExecutionDoesNotExist:
        raise RunNotFound(f"no run {run_id!r} (execution {arn})") from None
    state = RunState(
        run_id=run_id,
        execution_arn=arn,
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
    events = execution_history(sfn, arn)
    state.step = _step_from_history(events)
    state.job_id = job_id_from_history(events)
    if state.job_id:
        state.children_total, state.children_done, state.children_failed = _children(
            stack.client("batch"), state.job_id
        )
    if state.status == "FAILED" and not state.error:
        state.error, state.cause = _failure_from_history(events)
    return state


def _failure_from_history(events: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    for event in reversed(events):
        details = event.get("executionFailedEventDetails")
        if details:
            return details.get("error"), details.get("cause")
    return None, None


def wait(
    stack,
    run_id: str,
    on_update: Callable[[RunState], None] | None = None,
    timeout: float | None = None,
    poll_seconds: float = POLL_SECONDS,
) -> RunState:
    """Poll until the run ends; `on_update` sees every look. Raises TimeoutError after `timeout` seconds."""
    deadline = None if timeout is None else time.monotonic() + timeout
    while True:
        state = status(stack, run_id)
        if on_update:
            on_update(state)
        if state.finished:
            return state
        if deadline is not None and time.monotonic() > deadline:
            raise TimeoutError(f"run {run_id} still {state.status} after {timeout:.0f} s")
        time.sleep(poll_seconds)


def fetch(stack, run_id: str, out_dir: Path, include_parts: bool = False, workers: int = 8) -> Fetched:
    """Download everything under s3://<renders>/<run_id>/ into out_dir (part records only if asked)."""
    s3 = stack.client("s3")
    bucket = stack["renders_bucket"]
    prefix = f"{run_id}/"
    keys = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for obj in page.get("Contents", []):
            relative = obj["Key"][len(prefix) :]
            if not relative or relative.endswith("/"):
                continue
            if relative.startswith("_parts/") and not include_parts:
                continue
            keys.append(relative)
    out_dir = Path(out_dir)
    root = out_dir.resolve()

    def download(relative: str) -> Path:
        target = (out_dir / relative).resolve()
        if root not in target.parents:  # keys come from our own bucket, but never write outside out_dir
            raise ValueError(f"refusing key {prefix}{relative}: it leaves {out_dir}")
        target.parent.mkdir(parents=True, exist_ok=True)
        s3.download_file(bucket, prefix + relative, str(target))
        return out_dir / relative

    with ThreadPoolExecutor(max_workers=workers) as pool:
        files = list(pool.map(download, sorted(keys)))
    return Fetched(out_dir=out_dir, files=files)


# ---- progress display ------------------------------------------------------------------------------------


def _children_text(state: RunState) -> str:
    if state.children_total is None:
        return "children -/-"
    failed = f", {state.children_failed} failed" if state.children_failed else ""
    return f"children {state.children_done}/{state.children_total}{failed}"


class LineProgress:
    """Plain lines for logs and CI: one line whenever the step, status or children count changes."""

    def __init__(self, stream=None):
        self.stream = stream or sys.stdout
        self._last: tuple | None = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __call__(self, state: RunState) -> None:
        key = (state.status, state.step, state.children_done, state.children_total, state.children_failed)
        if key == self._last:
            return
        self._last = key
        elapsed = f"{state.seconds:6.1f}s" if state.seconds is not None else "      "
        step = state.step or "-"
        line = f"[{elapsed}] {state.run_id} {state.status:<9} {step:<16} {_children_text(state)}"
        print(line, file=self.stream)
        self.stream.flush()


class RichProgress:
    """A bar of children done / total while the run is in Batch (terminals only)."""

    def __init__(self, run_id: str):
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            TextColumn("[bold]{task.fields[run_id]}[/bold]"),
            TextColumn("{task.description:<16}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("children{task.fields[failed]}"),
            TimeElapsedColumn(),
        )
        self._task = self._progress.add_task("starting", total=None, run_id=run_id, failed="")

    def __enter__(self):
        self._progress.start()
        return self

    def __exit__(self, *exc):
        self._progress.stop()
        return False

    def __call__(self, state: RunState) -> None:
        description = state.status if state.finished else (state.step or state.status)
        failed = f" ({state.children_failed} failed)" if state.children_failed else ""
        self._progress.update(
            self._task,
            description=description,
            total=state.children_total,
            completed=state.children_done,
            failed=failed,
        )


def progress_for(run_id: str, stream=None):
    """A rich bar on a terminal, plain progress lines otherwise."""
    stream = stream or sys.stdout
    if stream.isatty():
        return RichProgress(run_id)
    return LineProgress(stream)


def describe(state: RunState) -> str:
    """A short human summary of a run's state."""
    lines = [f"run {state.run_id}: {state.status}"]
    if state.step and not state.finished:
        lines.append(f"  step:      {state.step}")
    if state.job_id:
        lines.append(f"  batch job: {state.job_id} ({_children_text(state)})")
    if state.seconds is not None:
        lines.append(f"  elapsed:   {state.seconds:.1f} s")
    if state.error:
        lines.append(f"  error:     {state.error}")
    if state.cause:
        cause = _readable_cause(state.cause)
        cause = cause if len(cause) <= 1200 else cause[:1200] + "..."
        lines.append("  cause:     " + cause.replace("\n", "\n             "))
    if state.output:
        for name in ("variant_count", "manifest_uri", "gallery_uri"):
            if name in state.output:
                lines.append(f"  {name + ':':<10} {state.output[name]}")
    return "\n".join(lines)


def _readable_cause(cause: str) -> str:
    """A Lambda error's cause is JSON ({errorType, errorMessage, stackTrace}): keep the type and message."""
    try:
        parsed = json.loads(cause)
    except json.JSONDecodeError:
        return cause
    if isinstance(parsed, dict) and "errorMessage" in parsed:
        return f"{parsed.get('errorType', 'Error')}:\n{parsed['errorMessage']}"
    if isinstance(parsed, dict) and "StatusReason" in parsed:  # a Batch job's description
        return f"Batch job {parsed.get('JobId', '?')} {parsed.get('Status', '')}: {parsed['StatusReason']}"
    return cause


def exit_code_for(state: RunState) -> int:
    if state.status == "SUCCEEDED":
        return EXIT_OK
    if state.finished:
        return EXIT_RUN_FAILED
    return EXIT_STILL_RUNNING


# ---- CLI -------------------------------------------------------------------------------------------------


def _load_stack():
    from farm import stack

    return stack.load()


def _cmd_submit(args: argparse.Namespace) -> int:
    if "://" in args.spec:
        print(
            f"farm submit: {args.spec}: give the path of a local spec file, which is uploaded to the specs "
            "bucket (the workflow reads specs from S3 only; file:// URIs are for `farm render` and "
            "`farm validate`)",
            file=sys.stderr,
        )
        return EXIT_USAGE
    spec = Path(args.spec)
    if not spec.is_file():
        print(f"farm submit: {spec}: no such file", file=sys.stderr)
        return EXIT_USAGE
    if args.run_id:
        try:
            check_run_id(args.run_id)
        except ValueError as err:
            print(f"farm submit: --run-id: {err}", file=sys.stderr)
            return EXIT_USAGE
    stack = _load_stack()
    run_id, arn = submit(stack, spec, args.run_id)
    print(f"submitted {spec} as run {run_id}")
    print(f"  execution: {arn}")
    if not args.wait:
        print(f"  follow it: farm status {run_id}")
        return EXIT_OK
    try:
        with progress_for(run_id) as show:
            state = wait(stack, run_id, on_update=show, timeout=args.timeout)
    except TimeoutError as exc:
        print(f"farm submit: {exc}", file=sys.stderr)
        return EXIT_STILL_RUNNING
    print(describe(state))
    if state.status == "SUCCEEDED":
        print(f"  download:  farm fetch {run_id} --out DIR")
    return exit_code_for(state)


def _cmd_status(args: argparse.Namespace) -> int:
    stack = _load_stack()
    try:
        state = status(stack, args.run_id)
    except RunNotFound as exc:
        print(f"farm status: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND
    if args.json:
        print(json.dumps(_state_json(state), indent=2))
    else:
        print(describe(state))
    return exit_code_for(state)


def _state_json(state: RunState) -> dict[str, Any]:
    return {
        "run_id": state.run_id,
        "execution_arn": state.execution_arn,
        "status": state.status,
        "step": state.step,
        "job_id": state.job_id,
        "children_total": state.children_total,
        "children_done": state.children_done,
        "children_failed": state.children_failed,
        "error": state.error,
        "cause": state.cause,
        "seconds": state.seconds,
        "output": state.output,
    }


def _cmd_fetch(args: argparse.Namespace) -> int:
    stack = _load_stack()
    fetched = fetch(stack, args.run_id, Path(args.out), include_parts=args.parts)
    if not fetched.files:
        print(f"farm fetch: nothing stored for run {args.run_id}", file=sys.stderr)
        return EXIT_NOT_FOUND
    print(f"{len(fetched.svgs)} SVGs, {len(fetched.files)} files in {fetched.out_dir}")
    if fetched.gallery:
        print(f"gallery: {fetched.gallery.resolve()}")
    if not fetched.manifest:
        print("farm fetch: no manifest.json: the run did not complete (partial renders)", file=sys.stderr)
        return EXIT_RUN_FAILED
    return EXIT_OK


def _guard(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A missing stack (exit 3) or a refused request (exit 5) as one line instead of a traceback."""

    def run(args: argparse.Namespace) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        from farm.stack import StackNotDeployed

        try:
            return command(args)
        except StackNotDeployed as exc:
            print(f"farm {args.command}: {exc}", file=sys.stderr)
            return EXIT_NOT_FOUND
        except (ClientError, BotoCoreError) as exc:
            print(f"farm {args.command}: {exc}", file=sys.stderr)
            return EXIT_CLOUD_ERROR

    return run


EPILOG = (
    "exit codes: 0 ok, 1 run failed, 2 usage or unreadable spec, 3 no such run or stack, 4 still running, "
    "5 the cloud refused a request"
)


def register(subparsers) -> None:
    submit_parser = subparsers.add_parser(
        "submit",
        help="upload a spec and start its run on the deployed stack",
        description="Upload SPEC.json to the specs bucket and start the workflow (local or aws stack).",
        epilog=EPILOG,
    )
    submit_parser.add_argument("spec", metavar="SPEC.json")
    submit_parser.add_argument("--wait", action="store_true", help="show progress until the run ends")
    submit_parser.add_argument("--run-id", help="run id (default: <spec name>-<UTC time>-<random>)")
    submit_parser.add_argument("--timeout", type=float, default=None, help="--wait gives up after SECONDS")
    submit_parser.set_defaults(func=_guard(_cmd_submit))

    status_parser = subparsers.add_parser(
        "status", help="show a run's state and its Batch children", epilog=EPILOG
    )
    status_parser.add_argument("run_id", metavar="RUN")
    status_parser.add_argument("--json", action="store_true", help="machine-readable output")
    status_parser.set_defaults(func=_guard(_cmd_status))

    fetch_parser = subparsers.add_parser(
        "fetch", help="download a run's renders, manifest.json and index.html", epilog=EPILOG
    )
    fetch_parser.add_argument("run_id", metavar="RUN")
    fetch_parser.add_argument("--out", required=True, metavar="DIR")
    fetch_parser.add_argument("--parts", action="store_true", help="also download the per-child part records")
    fetch_parser.set_defaults(func=_guard(_cmd_fetch))
