"""Fixtures of the live suites (tests/smoke/live, tests/integration): the deployed stack and a driver for it.

`stack`: the target (harness.target: FARM_ENV, default local) gives the stack; the local one is deployed when
nothing is, any other env (or FARM_OUTPUTS_JSON) is only read. Tests read every target from the outputs, so
the same tests run against aws. `farm` drives it through farm.client.FarmClient (`farm.client`).

A session that used the local cloud (through `stack`) fails at its end when that cloud counted an unexpected
server error (localcloud/server.py: an answer >= 500 or an unhandled exception) or its log gained a traceback
since `stack` first used it; the errors are printed (pytest_sessionfinish below).

Queues are shared by every run, so tests never take "the next message": a Mailbox drains a queue into files
keyed by run id (or Batch job id), and each test waits for its own key. Files (not memory) so that xdist
workers see each other's deliveries. Nothing here is used by the unit suite: fixtures are lazy.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from farm.polling import poll

LIVE_TIMEOUT = float(os.environ.get("FARM_TEST_RUN_TIMEOUT", "600"))
MESSAGE_TIMEOUT = float(os.environ.get("FARM_TEST_MESSAGE_TIMEOUT", "90"))
PALETTE = [
    ("#D7263D", "Cherry"),
    ("#1B2A49", "Navy"),
    ("#8DA47E", "Sage"),
    ("#D8C3A5", "Sand"),
    ("#36454F", "Charcoal"),
    ("#E4D5B7", "Oatmeal"),
    ("#F46036", "Tangerine"),
    ("#2E294E", "Indigo"),
    ("#1B998B", "Teal"),
    ("#C5D86D", "Lime"),
]
TEMPLATES = ["card", "banner", "swatch"]


# ---- specs ----------------------------------------------------------------------------------------------


def make_spec(
    catalog_id: str,
    products: int,
    variants_per_product: int,
    *,
    variants_per_child: int | None = None,
    crash_flat_indexes: Iterable[int] = (),
    fail_once_flat_indexes: Iterable[int] = (),
    sku_prefix: str = "SKU",
    **options: Any,
) -> dict[str, Any]:
    """A valid catalog of products x variants in every template; `crash_flat_indexes` get CRASH- SKUs (fail
    every attempt), `fail_once_flat_indexes` FAILONCE- SKUs (fail the run's first attempt only), the others
    `sku_prefix` (SLOW: 15 ms longer each, a run long enough to watch); `options`: more spec options."""
    crash, fail_once = set(crash_flat_indexes), set(fail_once_flat_indexes)
    spec: dict[str, Any] = {
        "schema_version": "1.0",
        "catalog_id": catalog_id,
        "locale": "en-US",
        "defaults": {"template": "card", "canvas": {"width": 400, "height": 400, "background": "#FFFFFF"}},
        "products": [],
    }
    if variants_per_child is not None:
        options["variants_per_child"] = variants_per_child
    if options:
        spec["options"] = options
    flat = 0
    for p in range(products):
        variants = []
        for v in range(variants_per_product):
            colour, colour_name = PALETTE[(p + v) % len(PALETTE)]
            prefix = "CRASH" if flat in crash else "FAILONCE" if flat in fail_once else sku_prefix
            variants.append({"sku": f"{prefix}-{p:04d}-{v:03d}", "color": colour, "color_name": colour_name})
            flat += 1
        spec["products"].append(
            {
                "product_id": f"prod-{p:04d}",
                "name": f"Product {p}",
                "template": TEMPLATES[p % len(TEMPLATES)],
                "price": {"amount": f"{10 + p % 90}.99", "currency": "USD"},
                "variants": variants,
            }
        )
    return spec


def flat_variants(spec: dict[str, Any]) -> list[dict[str, Any]]:
    """The flat order of the contract: products in order, then their variants in order."""
    rows = []
    for product in spec["products"]:
        for variant in product["variants"]:
            rows.append(
                {
                    "product": product,
                    "variant": variant,
                    "key": f"{product['product_id']}/{variant['sku']}.svg",
                }
            )
    return rows


def child_slice(index: int, per_child: int, count: int) -> range:
    return range(min(index * per_child, count), min((index + 1) * per_child, count))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# ---- queues ---------------------------------------------------------------------------------------------


class Mailbox:
    """Drains one queue into <directory>/<key>/<message id>.json; what `key_of` refuses is left for others.

    `key_of(message)` (the body unwrapped by the client: SNS envelope or raw) returns the key to store it
    under, or None.
    """

    def __init__(self, client, queue_output: str, directory: Path, key_of: Callable[[Any], str | None]):
        self.client = client
        self.queue_output = queue_output
        self.directory = directory
        self.key_of = key_of
        directory.mkdir(parents=True, exist_ok=True)

    def store(self, key: str, message_id: str, document: Any) -> None:
        folder = self.directory / key
        folder.mkdir(parents=True, exist_ok=True)
        temporary = folder / f".{message_id}.tmp"
        temporary.write_text(json.dumps(document))
        temporary.rename(folder / f"{message_id}.json")

    def _key(self, message: Any) -> str | None:
        try:
            return self.key_of(message)
        except Exception:  # not ours to judge: whoever owns it (or the DLQ) will
            return None

    def collect(self) -> int:
        """One receive (farm.client): store and delete what has a key; the rest is visible again at once."""
        received = self.client.receive(self.queue_output, accept=lambda m: self._key(m) is not None)
        for got in received:
            self.store(self._key(got.message), got.message_id, got.message)
        return len(received)

    def stored(self, key: str) -> list[Any]:
        folder = self.directory / key
        if not folder.is_dir():
            return []
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]

    def wait_for(
        self,
        key: str,
        until: Callable[[list[Any]], bool] = bool,
        timeout: float = MESSAGE_TIMEOUT,
        quiet: float = 0.0,
    ) -> list[Any]:
        """Collect until the messages stored under `key` satisfy `until` and (with `quiet`) `quiet` seconds
        have passed without a new one under `key`, so that a count is final; returns them."""
        last = {"count": -1, "since": 0.0}

        def look() -> tuple[list[Any], float]:
            found = self.stored(key)
            now = time.monotonic()
            if len(found) != last["count"]:
                last.update(count=len(found), since=now)
            return found, now - last["since"]

        def settled(seen: tuple[list[Any], float]) -> bool:
            found, still = seen
            if until(found) and still >= quiet:
                return True
            self.collect()  # waits up to a second for the next delivery
            return False

        try:
            found, _ = poll(
                look,
                settled,
                timeout=timeout,
                interval=0,
                what=lambda seen: f"{self.queue_output}: messages for {key}: {seen[0]}",
            )
        except TimeoutError as exc:
            raise AssertionError(str(exc)) from None
        return found


def run_key(message: dict[str, Any]) -> str | None:
    """A notification's run id; the spec key's first part (our uploads' run id) when run_id is null."""
    if message.get("run_id"):
        return message["run_id"]
    spec_uri = message.get("spec_uri") or ""
    if spec_uri.startswith("s3://") and spec_uri.count("/") >= 4:
        return spec_uri.split("/")[3]
    return None


def notification_key(message: Any) -> str | None:
    """Notifications by run id."""
    return run_key(message) if isinstance(message, dict) else None


def event_key(event: Any) -> str | None:
    """Batch Job State Change events by the parent job id (array children are `<parent>:<index>`)."""
    job_id = (event.get("detail") or {}).get("jobId")
    return job_id.split(":")[0] if job_id else None


# ---- the driver ------------------------------------------------------------------------------------------


@dataclass
class Run:
    run_id: str
    spec_uri: str
    spec: Any
    state: Any  # farm.client.RunState
    seconds: float


class LiveFarm:
    """What the live tests do to the deployed stack, on farm.client.FarmClient (`self.client`), plus the
    mailboxes that sort the shared queues by run."""

    def __init__(self, stack, mailbox_root: Path):
        from farm.client import FarmClient

        self.stack = stack
        self.client = FarmClient(stack)
        self.directory = mailbox_root
        self.notifications = Mailbox(
            self.client, "notifications_queue_url", mailbox_root / "notifications", notification_key
        )
        self.failures = Mailbox(self.client, "failure_queue_url", mailbox_root / "failures", notification_key)
        self.events = Mailbox(self.client, "events_queue_url", mailbox_root / "events", event_key)

    @functools.cached_property
    def cli_env(self) -> dict[str, str]:
        """The environment of a `farm` CLI process: it reads the stack's outputs from a file, as
        FARM_OUTPUTS_JSON lets a user do."""
        saved = self.directory / "outputs.json"
        saved.write_text(json.dumps(self.stack.saved_outputs()))
        return {**os.environ, "FARM_OUTPUTS_JSON": str(saved)}

    def cli(self, *argv: str, timeout: float = LIVE_TIMEOUT) -> subprocess.CompletedProcess:
        """`farm ARGV` as a user runs it (a process of its own: exit code and what it prints)."""
        return subprocess.run(
            [sys.executable, "-m", "farm.cli", *argv],
            capture_output=True,
            text=True,
            timeout=timeout,
            env=self.cli_env,
        )

    @staticmethod
    def new_run_id(label: str) -> str:
        from render_worker.uri import new_run_id

        return new_run_id(f"t-{label}")

    def upload(self, run_id: str, spec: Any, filename: str = "catalog.json") -> str:
        body = spec if isinstance(spec, bytes) else json.dumps(spec).encode()
        return self.client.upload_spec(body, run_id, filename)

    def start(self, spec_uri: str, run_id: str) -> str:
        return self.client.start(spec_uri, run_id)

    def wait(self, run_id: str, timeout: float = LIVE_TIMEOUT):
        return self.client.wait(run_id, timeout=timeout)

    def run(self, spec: Any, label: str, timeout: float = LIVE_TIMEOUT) -> Run:
        """Upload a spec (dict, or raw bytes) under a fresh run id, start the workflow, wait until it ends."""
        run_id = self.new_run_id(label)
        started = time.monotonic()
        spec_uri = self.upload(run_id, spec)
        self.start(spec_uri, run_id)
        state = self.wait(run_id, timeout)
        return Run(run_id, spec_uri, spec, state, time.monotonic() - started)

    def keys(self, run_id: str) -> list[str]:
        """Every object key under the run's prefix, relative to it."""
        return self.client.keys(run_id)

    def get(self, run_id: str, relative: str) -> bytes:
        return self.client.get(run_id, relative)

    def head(self, run_id: str, relative: str) -> dict[str, Any]:
        return self.client.head(run_id, relative)

    def completion(self, run_id: str, timeout: float = MESSAGE_TIMEOUT) -> list[Any]:
        return self.notifications.wait_for(run_id, timeout=timeout)

    def failure(self, run_id: str, timeout: float = MESSAGE_TIMEOUT) -> list[Any]:
        return self.failures.wait_for(run_id, timeout=timeout)

    def scratch_dir(self) -> Path | None:
        """The host directory of the job definition's EFS scratch volume (local cloud only), else None."""
        if not self.stack.is_local:
            return None
        from localcloud import efs

        batch = self.stack.client("batch")
        definition = batch.describe_job_definitions(jobDefinitions=[self.stack["job_definition_arn"]])
        container = definition["jobDefinitions"][0]["containerProperties"]
        for volume in container.get("volumes", []):
            config = volume.get("efsVolumeConfiguration")
            if not config:
                continue
            root = config.get("rootDirectory") or "/"
            access_point = (config.get("authorizationConfig") or {}).get("accessPointId")
            if access_point:
                described = self.stack.client("efs").describe_access_points(AccessPointId=access_point)
                root = described["AccessPoints"][0].get("RootDirectory", {}).get("Path", "/")
            return efs.host_path(config["fileSystemId"], root)
        raise AssertionError("the job definition has no EFS volume")


def _mailbox_root(tmp_path_factory) -> Path:
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent  # shared by every worker of this session
    return base / "mailbox"


# ---- the local cloud's own errors -------------------------------------------------------------------------

_LOCAL_CLOUD: dict[str, Any] = {}  # "marks": where its counter and log stood when `stack` first used it
_MARKS_KEY = "localcloud_marks"  # in an xdist worker's workeroutput


def _mark_local_cloud() -> None:
    """Called by `stack` before it deploys or reads the local stack: nothing else talks to the cloud."""
    if not _LOCAL_CLOUD.get("marks"):
        from localcloud import lifecycle

        _LOCAL_CLOUD["marks"] = [lifecycle.error_mark()]


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node, error) -> None:  # xdist, in the controller: a worker ended
    _LOCAL_CLOUD.setdefault("marks", []).extend(getattr(node, "workeroutput", {}).get(_MARKS_KEY, []))


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):  # an xdist worker: the controller checks
        session.config.workeroutput[_MARKS_KEY] = _LOCAL_CLOUD.get("marks", [])
        return
    marks = _LOCAL_CLOUD.get("marks")
    if not marks:
        return  # the session never used the local cloud
    from localcloud import lifecycle

    status = lifecycle.status() or {}
    _LOCAL_CLOUD["runtime"] = status.get("runtime") or "unknown (the local cloud is not running)"
    problems = lifecycle.new_errors(min(marks, key=lambda m: m["log_offset"]))  # the earliest mark
    if problems:
        _LOCAL_CLOUD["problems"] = problems
        if session.exitstatus == pytest.ExitCode.OK:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


RUNTIME_NOTES = {
    "container": "each Batch job and Lambda ran in a podman container",
    "process": "each Batch job and Lambda ran as a host process (no runtime, or LOCALCLOUD_RUNTIME)",
}


def pytest_terminal_summary(terminalreporter) -> None:
    runtime = _LOCAL_CLOUD.get("runtime")
    if runtime:
        terminalreporter.write_line(f"local cloud runtime: {runtime} ({RUNTIME_NOTES.get(runtime, '?')})")
    problems = _LOCAL_CLOUD.get("problems")
    if problems:
        terminalreporter.section("the local cloud had unexpected server errors: session FAILED", red=True)
        for line in problems:
            terminalreporter.write_line(line)


@pytest.fixture(scope="session")
def stack():
    """The deployed stack: the local one is deployed when missing; aws (or saved outputs) is only read."""
    from harness.target import Target

    target = Target.of()
    if target.deploys_when_missing:
        _mark_local_cloud()  # before the deploy: errors while deploying count too
    return target.stack()


@pytest.fixture(scope="session")
def farm(stack, tmp_path_factory) -> LiveFarm:
    return LiveFarm(stack, _mailbox_root(tmp_path_factory))


@pytest.fixture(scope="session")
def notification_validator():
    from render_worker import schemas

    return schemas.validator("notification")


@pytest.fixture(scope="session")
def manifest_validator():
    from render_worker import schemas

    return schemas.validator("manifest")
