"""`farm submit|status|ls|logs|cancel|rerun|fetch|watch`: the commands against a deployed stack.

Every operation is farm.client.FarmClient's; this module parses arguments, shows progress (farm.progress) and
prints. The stack is whatever `terraform output` (or $FARM_OUTPUTS_JSON) describes: local or aws.

Exit codes (every subcommand):
  0  done: submitted (without --wait), the run SUCCEEDED, renders downloaded, a rerun started or not needed
  1  the run ended FAILED, TIMED_OUT, ABORTED or CANCELLED (or `fetch` found no manifest: the run did not
     complete), or `submit` refused a run whose estimated cost is over max_cost
  2  usage error, or the spec file cannot be read
  3  no such run, SKU or stack
  4  the run is still RUNNING (`status`, `submit --wait --timeout`, or `rerun` of a run that has not ended)
  5  the cloud refused a request (credentials, permissions, a bucket policy): the message says which
  130  interrupted (Ctrl-C): `fetch` says how to resume; `watch` stops serving (`watch --exit-when-done` exits
     0 or 1 by itself when the run ends)
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from datetime import UTC
from pathlib import Path
from typing import Any

from farm import watch
from farm.client import (
    FarmClient,
    FetchInterrupted,
    RunNotFound,
    RunState,
    RunStillRunning,
)
from farm.progress import Progress
from render_worker import cost
from render_worker.child_progress import RunProgress
from render_worker.errors import FarmError
from render_worker.uri import check_run_id
from render_worker.validate_input import PRIORITIES

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_STILL_RUNNING = 4
EXIT_CLOUD_ERROR = 5
EXIT_INTERRUPTED = 130
LABEL_WIDTH = 14  # `describe`'s labels, the longest (variant_count:) included


# ---- showing a run ---------------------------------------------------------------------------------------


def children_text(state: RunState) -> str:
    if state.children_total is None:
        return "children -/-"
    failed = f", {state.children_failed} failed" if state.children_failed else ""
    return f"children {state.children_done}/{state.children_total}{failed}"


def rate_text(progress: RunProgress) -> str:
    """`312.5/s, ETA 42 s` from the children's progress objects ("" before the first variant is stored; no
    ETA once every variant is done)."""
    if progress.rate_per_s is None:
        return ""
    ended = progress.total and progress.done + progress.failed >= progress.total
    eta = "" if progress.eta_s is None or ended else f", ETA {duration_text(progress.eta_s)}"
    return f"{progress.rate_per_s:,.1f}/s{eta}"


def duration_text(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def variants_text(progress: RunProgress) -> str:
    failed = f", {progress.failed:,} failed" if progress.failed else ""
    rate = rate_text(progress)
    return f"{progress.done:,}/{progress.total:,}{failed}" + (f" ({rate})" if rate else "")


def show_run(progress: Progress) -> Callable[[RunState], None]:
    """A RunState watcher for the one progress display: status and step as its note; variants done (rate and
    ETA beside) once the children report, children done/total before."""

    def shown(state: RunState) -> None:
        note = state.shown_status if state.finished else f"{state.status} {state.step or '-'}"
        if state.progress is not None and state.progress.total:
            run = state.progress
            progress.update(done=run.done, total=run.total, note=note, unit="variants", detail=rate_text(run))
            return
        progress.update(done=state.children_done, total=state.children_total, note=note)

    return shown


def wait_showing(client: FarmClient, run: str, timeout: float | None) -> RunState:
    """Wait for the run with `run <id> STATUS STEP done/total` (children, then variants with rate and ETA)
    redrawn (or logged) as it changes."""
    with Progress(f"run {run}", unit="children") as progress:
        return client.wait(run, on_update=show_run(progress), timeout=timeout)


def describe(state: RunState) -> str:
    """A short human summary of a run's state."""
    fields: list[tuple[str, Any]] = []
    if state.attempt > 1:
        fields.append(("attempt", f"{state.attempt} (rerun of {state.run_id})"))
    if state.step and not state.finished:
        fields.append(("step", state.step))
    if state.job_id:
        fields.append(("batch job", f"{state.job_id} ({children_text(state)})"))
    if state.progress is not None and state.progress.total:
        fields.append(("variants", variants_text(state.progress)))
    if state.seconds is not None:
        fields.append(("elapsed", f"{state.seconds:.1f} s"))
    if state.error:
        fields.append(("error", state.error))
    if state.cause:
        cause = readable_cause(state.cause)
        fields.append(("cause", cause if len(cause) <= 1200 else cause[:1200] + "..."))
    for name in ("variant_count", "rendered", "manifest_uri", "gallery_uri"):
        if name in (state.output or {}):
            fields.append((name, state.output[name]))
    spent = (state.output or {}).get("cost")
    if isinstance(spent, dict):
        fields.append(("cost", cost_text(spent)))
    indent = "\n" + " " * (LABEL_WIDTH + 3)
    lines = [f"run {state.execution}: {state.shown_status}"]
    lines += [
        f"  {label + ':':<{LABEL_WIDTH}} {str(value).replace(chr(10), indent)}" for label, value in fields
    ]
    return "\n".join(lines)


def readable_cause(cause: str) -> str:
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


def cost_text(spent: dict[str, Any]) -> str:
    """`$0.0016 on-demand, $0.0005 on Spot (estimate $0.0016, $0.0005): 1 task, 34.9 s billed 60 s`."""
    actual, estimate = spent.get("actual") or {}, spent.get("estimate") or {}
    text = (
        f"{cost.usd(actual.get('on_demand_usd', 0))} on-demand, {cost.usd(actual.get('spot_usd', 0))} on Spot"
    )
    if estimate:
        text += f" (estimate {cost.usd(estimate['on_demand_usd'])}, {cost.usd(estimate['spot_usd'])})"
    tasks = actual.get("children", 0)
    seconds, billed = actual.get("child_seconds", 0), actual.get("billed_seconds", 0)
    return f"{text}: {tasks} task{'s' if tasks != 1 else ''}, {seconds:g} s, billed {billed:g} s"


def exit_code_for(state: RunState) -> int:
    if state.status == "SUCCEEDED":
        return EXIT_OK
    if state.finished:
        return EXIT_RUN_FAILED
    return EXIT_STILL_RUNNING


# ---- commands --------------------------------------------------------------------------------------------


def _client() -> FarmClient:
    from farm import stack

    return FarmClient(stack.load())


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
    try:
        max_cost = cost.parse_max_cost(args.max_cost, "--max-cost")
    except ValueError as err:
        print(f"farm submit: {err}", file=sys.stderr)
        return EXIT_USAGE
    client = _client()
    refused = _estimate(client, spec, max_cost, show=args.estimate)
    if refused is not None or args.estimate:
        return EXIT_OK if refused is None else refused
    extra: dict[str, Any] = {"priority": args.priority}
    if max_cost is not None:
        extra["max_cost"] = max_cost
    run_id, arn = client.submit(spec, args.run_id, **extra)
    print(f"submitted {spec} as run {run_id} ({args.priority} queue)")
    print(f"  execution: {arn}")
    if not args.wait:
        print(f"  follow it: farm status {run_id}")
        return EXIT_OK
    try:
        state = wait_showing(client, run_id, args.timeout)
    except TimeoutError as exc:
        print(f"farm submit: {exc}", file=sys.stderr)
        return EXIT_STILL_RUNNING
    print(describe(state))
    if state.status == "SUCCEEDED":
        print(f"  download:  farm fetch {run_id} --out DIR")
    return exit_code_for(state)


def _estimate(client: FarmClient, spec: Path, max_cost: float | None, *, show: bool) -> int | None:
    """The run's plan and estimated cost from the stack's sizing model, job resources and prices (printed
    with `show`); an exit code when the spec is invalid or the estimate is over max_cost (the flag's, else
    the spec's options.max_cost), else None. Nothing is uploaded."""
    try:
        catalog, plan, estimate = client.estimate(spec.read_bytes())
    except FarmError as err:
        print(f"farm submit: {spec}: {type(err).__name__}: {err}", file=sys.stderr)
        return EXIT_USAGE
    if show:
        print(f"estimate for {spec} (catalog {catalog.catalog_id}, {catalog.variant_count:,} variants):")
        print(f"  {'plan:':<{LABEL_WIDTH}} {plan.basis}")
        wall = f"{plan.predicted_wall_s:g} s of rendering (the sizing model's wall time)"
        print(f"  {'predicted:':<{LABEL_WIDTH}} {wall}")
        print(f"  {'compute:':<{LABEL_WIDTH}} {estimate.basis}")
        spot, on_demand = cost.usd(estimate.spot_usd), cost.usd(estimate.on_demand_usd)
        print(
            f"  {'cost:':<{LABEL_WIDTH}} {spot} on Fargate Spot, {on_demand} on-demand "
            f"({estimate.currency}, prices of {estimate.prices_date})"
        )
    try:
        cost.check_run_cost(estimate, max_cost, "--max-cost", catalog.max_cost)
    except cost.CostLimitExceeded as err:
        print(f"farm submit: refused: {err}", file=sys.stderr)
        return EXIT_RUN_FAILED
    return None


def _cmd_status(args: argparse.Namespace) -> int:
    state = _client().status(args.run_id)
    print(json.dumps(state.as_json(), indent=2, default=str) if args.json else describe(state))
    return exit_code_for(state)


def _cmd_ls(args: argparse.Namespace) -> int:
    rows = _client().runs(limit=args.limit)
    if not rows:
        print("no runs")
        return EXIT_OK
    width = max(len("RUN"), *(len(r.execution) for r in rows))
    print(
        f"{'RUN':<{width}}  {'CATALOG':<20} {'VARIANTS':>8}  {'STATUS':<9}  {'STARTED (UTC)':<19}  DURATION"
    )
    for row in rows:
        started = f"{row.started.astimezone(UTC):%Y-%m-%d %H:%M:%S}" if row.started else "-"
        seconds = f"{row.seconds:.1f} s" if row.seconds is not None else "-"
        variants = "-" if row.variants is None else str(row.variants)
        print(
            f"{row.execution:<{width}}  {(row.catalog_id or '-')[:20]:<20} {variants:>8}  "
            f"{row.status:<9}  {started:<19}  {seconds}"
        )
    return EXIT_OK


def _cmd_logs(args: argparse.Namespace) -> int:
    try:
        children = _client().logs(args.run_id, args.sku)
    except LookupError as exc:
        if isinstance(exc, RunNotFound):
            raise
        print(f"farm logs: {exc.args[0]}", file=sys.stderr)
        return EXIT_NOT_FOUND
    if not children:
        print(f"run {args.run_id}: no failed children (name one with --sku SKU)")
        return EXIT_OK
    for child in children:
        print(
            f"=== child {child.job_id} (attempt {child.attempt}, {child.status}), stream {child.log_stream}"
        )
        for line in child.lines:
            print(line)
    return EXIT_OK


def _cmd_cancel(args: argparse.Namespace) -> int:
    client = _client()
    print(f"cancelling run {args.run_id} ...", flush=True)
    state, terminated = client.cancel(args.run_id, timeout=args.timeout)
    if terminated and state.cancelled:
        print(f"run {state.execution}: CANCELLED ({children_text(state)}); the workflow sent its message")
        return EXIT_OK
    if terminated:  # the job was terminated, yet the run ended otherwise: it had finished rendering
        print(f"run {state.execution} ended {state.shown_status} before the cancel reached it")
    else:
        print(f"run {state.execution} had already ended {state.shown_status}: nothing to cancel")
    return EXIT_OK  # the run is not running, which is what the operator asked for


def _cmd_rerun(args: argparse.Namespace) -> int:
    client = _client()
    run_id = client.resolve(args.run_id).run_id  # RUN.rN names the same run
    rerun = client.rerun(run_id)
    print(rerun.reason)
    if rerun.execution_arn is None:
        return EXIT_OK
    print(f"  execution: {rerun.execution_arn}")
    if not args.wait:
        print(f"  follow it: farm status {run_id}")
        return EXIT_OK
    try:
        state = wait_showing(client, f"{run_id}.r{rerun.attempt}", args.timeout)
    except TimeoutError as exc:
        print(f"farm rerun: {exc}", file=sys.stderr)
        return EXIT_STILL_RUNNING
    print(describe(state))
    return exit_code_for(state)


def _cmd_fetch(args: argparse.Namespace) -> int:
    client = _client()
    with Progress(f"fetch {args.run_id}", unit="objects") as progress:
        try:
            fetched = client.fetch(
                args.run_id, Path(args.out), include_parts=args.parts, workers=args.workers, progress=progress
            )
        except FetchInterrupted as stopped:
            got = stopped.fetched
            print(
                f"\nfarm fetch: interrupted after {got.downloaded + got.kept} objects; run the same command "
                "again to resume (finished objects are not downloaded again)",
                file=sys.stderr,
            )
            return EXIT_INTERRUPTED
    if not fetched.files:
        print(f"farm fetch: nothing stored for run {args.run_id}", file=sys.stderr)
        return EXIT_NOT_FOUND
    print(
        f"{len(fetched.svgs)} SVGs, {len(fetched.files)} files in {fetched.out_dir} "
        f"(downloaded {fetched.downloaded}, already there {fetched.kept})"
    )
    if fetched.gallery:
        print(f"gallery: {fetched.gallery.resolve()}")
    if not fetched.manifest:
        print("farm fetch: no manifest.json: the run did not complete (partial renders)", file=sys.stderr)
        return EXIT_RUN_FAILED
    return EXIT_OK


def _guard(command: Callable[[argparse.Namespace], int]) -> Callable[[argparse.Namespace], int]:
    """A missing run or stack (exit 3), a run still going (4) or a refused request (5): one line, no
    traceback."""

    def run(args: argparse.Namespace) -> int:
        from botocore.exceptions import BotoCoreError, ClientError

        from farm.stack import StackNotDeployed

        try:
            return command(args)
        except (StackNotDeployed, RunNotFound) as exc:
            print(f"farm {args.command}: {exc}", file=sys.stderr)
            return EXIT_NOT_FOUND
        except (RunStillRunning, TimeoutError) as exc:
            print(f"farm {args.command}: {exc}", file=sys.stderr)
            return EXIT_STILL_RUNNING
        except (ClientError, BotoCoreError) as exc:
            print(f"farm {args.command}: {exc}", file=sys.stderr)
            return EXIT_CLOUD_ERROR

    return run


EPILOG = (
    "exit codes: 0 ok, 1 run failed or cancelled, 2 usage or unreadable spec, 3 no such run, SKU or stack, "
    "4 still running, 5 the cloud refused a request"
)


def register(subparsers) -> None:
    def command(name: str, help_: str, func) -> argparse.ArgumentParser:
        parser = subparsers.add_parser(name, help=help_, description=help_, epilog=EPILOG)
        parser.set_defaults(func=_guard(func))
        return parser

    submit = command(
        "submit", "upload a spec and start its run on the deployed stack (local or aws)", _cmd_submit
    )
    submit.add_argument("spec", metavar="SPEC.json")
    submit.add_argument("--wait", action="store_true", help="show progress until the run ends")
    submit.add_argument("--run-id", help="run id (default: <spec name>-<UTC time>-<random>)")
    submit.add_argument("--timeout", type=float, default=None, help="--wait gives up after SECONDS")
    submit.add_argument(
        "--estimate", action="store_true", help="print the plan and its estimated cost; start nothing"
    )
    submit.add_argument(
        "--priority",
        choices=PRIORITIES,
        default="bulk",
        help="the job queue: urgent runs are placed before the bulk runs queued ahead of them (default bulk)",
    )
    submit.add_argument(
        "--max-cost",
        metavar="USD",
        help="refuse the run when its estimated cost (on-demand) is over USD (overrides options.max_cost)",
    )

    status = command(
        "status", "show a run's latest attempt (or RUN.rN: that attempt) and its children", _cmd_status
    )
    status.add_argument("run_id", metavar="RUN")
    status.add_argument("--json", action="store_true", help="machine-readable output")

    ls = command("ls", "list recent runs: id, catalog, variants, status, start, duration", _cmd_ls)
    ls.add_argument("--limit", type=int, default=20, help="how many (default 20, newest first)")

    logs = command(
        "logs", "print the log of the child that rendered a SKU, or of the failed children", _cmd_logs
    )
    logs.add_argument("run_id", metavar="RUN")
    logs.add_argument("--sku", help="the child that rendered this SKU (default: every failed child)")

    cancel = command(
        "cancel", "stop a run: its Batch job and children end, one CANCELLED message", _cmd_cancel
    )
    cancel.add_argument("run_id", metavar="RUN")
    cancel.add_argument("--timeout", type=float, default=120, help="give up waiting after SECONDS")

    rerun = command(
        "rerun", "render only the missing variants of a run, into the same run (RUN.rN)", _cmd_rerun
    )
    rerun.add_argument("run_id", metavar="RUN")
    rerun.add_argument("--wait", action="store_true", help="show progress until the attempt ends")
    rerun.add_argument("--timeout", type=float, default=None, help="--wait gives up after SECONDS")

    fetch = command("fetch", "download a run's renders, manifest.json and index.html (resumable)", _cmd_fetch)
    fetch.add_argument("run_id", metavar="RUN")
    fetch.add_argument("--out", required=True, metavar="DIR")
    fetch.add_argument(
        "--parts", action="store_true", help="also download the per-child part records and progress objects"
    )
    fetch.add_argument("--workers", type=int, default=8, help="concurrent downloads (default 8)")

    watching = command("watch", watch.HELP, lambda args: watch.cmd_watch(args, _client))
    watch.add_arguments(watching)
