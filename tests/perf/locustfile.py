"""Locust users that drive the deployed stack through farm.client.FarmClient; each step is a locust request.

Run by tests/perf/load.py as `locust -f tests/perf/locustfile.py --headless ...` with PERF_CONFIG naming a
JSON file (see load.py) and FARM_OUTPUTS_JSON naming the stack outputs. Every user starts `iterations`
runs, then stops; when the last user stops, locust quits (run time bounds it too).

- ExecutionUser: upload a small spec, start a Step Functions execution named after the run id, wait for it,
  check every expected SVG, part record, manifest and gallery, and wait for its completion message.
- BatchUser: upload a small spec, submit a standalone Batch array job straight to the queue, wait for
  SUCCEEDED, check every expected SVG and part record.
"""

from __future__ import annotations

import itertools
import json
import os
import time
from pathlib import Path
from typing import Any

import gevent
from locust import User, constant, events, task
from locust.exception import StopUser

from farm import stack as farm_stack
from farm.client import FarmClient
from farm.polling import poll
from render_worker.uri import new_run_id
from tests.perf import ops, specs
from tests.perf.ledger import Ledger

CONFIG: dict[str, Any] = json.loads(Path(os.environ["PERF_CONFIG"]).read_text())
# One connection per concurrent user: the stack's default pool (32) is too few for the stress profile.
FARM = FarmClient(farm_stack.load().with_pool(CONFIG["execution_users"] + CONFIG["batch_users"] + 8))

LEDGER = Ledger(Path(CONFIG["ledger"]))
RUN_NUMBERS = itertools.count(1)
MESSAGE_WAIT_S = 60.0


class Notifications:
    """The only reader of the notifications queue here, so users do not steal each other's messages."""

    def __init__(self) -> None:
        self.arrivals: dict[str, float] = {}  # run id -> first arrival (epoch seconds)
        self._reader: gevent.Greenlet | None = None
        self._stopping = False

    def start(self) -> None:
        if self._reader is None:
            self._reader = gevent.spawn(self._read)

    def stop(self) -> None:
        self._stopping = True
        if self._reader is not None:
            self._reader.join(timeout=5)

    def _read(self) -> None:
        while not self._stopping:
            try:
                received = ops.session_messages(FARM, CONFIG["session"], wait_seconds=1)
            except Exception as exc:  # keep reading: a lost message is judged at the end, not here
                events.request.fire(
                    request_type="sqs",
                    name="ReceiveMessage",
                    response_time=0,
                    response_length=0,
                    exception=exc,
                )
                gevent.sleep(1)
                continue
            now = time.time()
            for got in received:
                run_id = got.message.get("run_id")
                LEDGER.write(
                    "message", message_id=got.message_id, run_id=run_id, status=got.message.get("status")
                )
                if run_id:
                    self.arrivals.setdefault(run_id, now)

    def wait_for(self, run_id: str, timeout: float) -> float:
        """When the run's completion message arrived (epoch seconds); the reader greenlet records it."""
        poll(
            lambda: run_id in self.arrivals,
            bool,
            timeout=timeout,
            interval=0.2,  # time.sleep is gevent's here: the reader runs meanwhile
            what=lambda _: f"no completion message for {run_id}",
        )
        return self.arrivals[run_id]


NOTIFICATIONS = Notifications()
USERS_DONE = itertools.count(1)


@events.test_stop.add_listener
def _stop_reader(**_kwargs: Any) -> None:
    NOTIFICATIONS.stop()


class FarmUser(User):
    abstract = True
    wait_time = constant(0)
    kind = "run"

    def on_start(self) -> None:
        self.runs_left = CONFIG["iterations"]

    def new_run_id(self) -> str:
        return new_run_id(f"{CONFIG['session']}-{self.kind}-{next(RUN_NUMBERS):04d}")

    def step(self, request_type: str, name: str, fn, *args: Any, **kwargs: Any) -> Any:
        """Run one operation and report it to locust (time, and the exception if it raised)."""
        started = time.perf_counter()
        try:
            result = fn(*args, **kwargs)
        except Exception as exc:
            self.report(request_type, name, started, exc)
            raise
        self.report(request_type, name, started, None)
        return result

    def report(self, request_type: str, name: str, started: float, exc: Exception | None) -> None:
        elapsed_ms = (time.perf_counter() - started) * 1000
        self.environment.events.request.fire(
            request_type=request_type, name=name, response_time=elapsed_ms, response_length=0, exception=exc
        )

    def upload_spec(self, run_id: str) -> tuple[dict[str, Any], str]:
        spec = specs.make_spec("perf-load", CONFIG["run_variants"], CONFIG["run_variants_per_child"])
        uri = self.step("s3", "PutObject spec", ops.put_spec, FARM, run_id, spec)
        return spec, uri

    def finish_run(self) -> None:
        self.runs_left -= 1
        if self.runs_left <= 0:
            if next(USERS_DONE) == CONFIG["execution_users"] + CONFIG["batch_users"]:
                gevent.spawn_later(0.5, self.environment.runner.quit)  # the last user out ends the test
            raise StopUser()

    def run_and_record(self, run_id: str, body) -> None:
        try:
            body(run_id)
        except Exception as exc:
            LEDGER.write("end", run_id=run_id, ok=False, error=f"{type(exc).__name__}: {exc}")
        else:
            LEDGER.write("end", run_id=run_id, ok=True, error=None)
        self.finish_run()


class ExecutionUser(FarmUser):
    fixed_count = CONFIG["execution_users"]
    kind = "ex"

    @task
    def render_catalog(self) -> None:
        NOTIFICATIONS.start()
        self.run_and_record(self.new_run_id(), self.execution)

    def execution(self, run_id: str) -> None:
        spec, spec_uri = self.upload_spec(run_id)
        array_size = -(-CONFIG["run_variants"] // CONFIG["run_variants_per_child"])
        LEDGER.write(
            "start",
            kind="execution",
            run_id=run_id,
            variant_count=CONFIG["run_variants"],
            variants_per_child=CONFIG["run_variants_per_child"],
            array_size=array_size,
        )
        arn = self.step("sfn", "StartExecution", FARM.start, spec_uri, run_id)
        LEDGER.write("started", run_id=run_id, execution_arn=arn)
        described = self.step("sfn", "execution (start to end)", self._wait_succeeded, run_id)
        self.step(
            "s3",
            "check outputs (execution)",
            ops.check_outputs,
            FARM,
            run_id,
            spec,
            array_size,
            published=True,
        )
        stopped = described["stopDate"].timestamp()
        arrived = NOTIFICATIONS.wait_for(run_id, MESSAGE_WAIT_S)
        self.environment.events.request.fire(
            request_type="sqs",
            name="completion message (after stop)",
            response_time=max(0.0, arrived - stopped) * 1000,
            response_length=0,
            exception=None,
        )

    def _wait_succeeded(self, run_id: str) -> dict[str, Any]:
        described = FARM.wait_execution(run_id, timeout=CONFIG["run_timeout_s"])
        if described["status"] != "SUCCEEDED":
            detail = described.get("error") or described.get("cause") or ""
            raise ops.RunFailed(f"execution ended {described['status']} {detail}".strip())
        return described


class BatchUser(FarmUser):
    fixed_count = CONFIG["batch_users"]
    kind = "job"

    @task
    def render_slice(self) -> None:
        self.run_and_record(self.new_run_id(), self.batch_job)

    def batch_job(self, run_id: str) -> None:
        spec, spec_uri = self.upload_spec(run_id)
        k = CONFIG["run_variants_per_child"]
        array_size = -(-CONFIG["run_variants"] // k)
        LEDGER.write(
            "start",
            kind="batch",
            run_id=run_id,
            variant_count=CONFIG["run_variants"],
            variants_per_child=k,
            array_size=array_size,
        )
        job_id = self.step(
            "batch",
            "SubmitJob",
            FARM.submit_job,
            run_id,
            spec_uri,
            variants_per_child=k,
            array_size=array_size,
        )
        LEDGER.write("started", run_id=run_id, job_id=job_id)
        self.step("batch", "array job (submit to end)", self._wait_succeeded, job_id)
        self.step(
            "s3", "check outputs (batch)", ops.check_outputs, FARM, run_id, spec, array_size, published=False
        )

    def _wait_succeeded(self, job_id: str) -> None:
        job = FARM.wait_job(job_id, timeout=CONFIG["run_timeout_s"])
        if job["status"] != "SUCCEEDED":
            raise ops.RunFailed(f"job {job_id} ended {job['status']}: {job.get('statusReason', '')}")
