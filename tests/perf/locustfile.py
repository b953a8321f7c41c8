"""Locust users that drive the deployed stack through boto3; each step is reported as a locust request.

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

import boto3
import gevent
from botocore.config import Config
from locust import User, constant, events, task
from locust.exception import StopUser

from farm import stack as farm_stack
from tests.perf import ops, specs
from tests.perf.ledger import Ledger

CONFIG: dict[str, Any] = json.loads(Path(os.environ["PERF_CONFIG"]).read_text())
STACK = farm_stack.load()
# One connection per concurrent user: farm.stack's shared clients pool 32, too few for the stress profile.
POOL = CONFIG["execution_users"] + CONFIG["batch_users"] + 8
_CLIENTS: dict[str, Any] = {}


def client(service: str):
    if service not in _CLIENTS:
        kwargs: dict[str, Any] = {"region_name": STACK["region"]}
        if STACK.is_local:
            kwargs.update(STACK.local_credentials())
        config = Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=POOL)
        _CLIENTS[service] = boto3.client(service, config=config, **kwargs)
    return _CLIENTS[service]


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
        sqs, url = client("sqs"), STACK["notifications_queue_url"]
        while not self._stopping:
            try:
                received = ops.receive_notifications(sqs, url, CONFIG["session"], wait_seconds=1)
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
            for message_id, message in received:
                run_id = (message or {}).get("run_id")
                LEDGER.write(
                    "message", message_id=message_id, run_id=run_id, status=(message or {}).get("status")
                )
                if run_id:
                    self.arrivals.setdefault(run_id, now)

    def wait_for(self, run_id: str, timeout: float) -> float:
        deadline = time.monotonic() + timeout
        while run_id not in self.arrivals:
            if time.monotonic() > deadline:
                raise ops.RunFailed(f"no completion message for {run_id} within {timeout:.0f} s")
            gevent.sleep(0.2)
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
        return f"{CONFIG['session']}-{self.kind}-{next(RUN_NUMBERS):04d}"

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
        uri = self.step(
            "s3",
            "PutObject spec",
            ops.put_spec,
            client("s3"),
            STACK["specs_bucket"],
            f"perf/{run_id}.json",
            spec,
            STACK["kms_key_arns"].get("storage"),
        )
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
        sfn = client("stepfunctions")
        arn = self.step(
            "sfn", "StartExecution", ops.start_execution, sfn, STACK["state_machine_arn"], run_id, spec_uri
        )
        LEDGER.write("started", run_id=run_id, execution_arn=arn)
        described = self.step("sfn", "execution (start to end)", self._wait_succeeded, sfn, arn)
        s3, renders = client("s3"), STACK["renders_bucket"]
        self.step(
            "s3",
            "check outputs (execution)",
            ops.check_outputs,
            s3,
            renders,
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

    def _wait_succeeded(self, sfn, arn: str) -> dict[str, Any]:
        described = ops.wait_execution(sfn, arn, CONFIG["run_timeout_s"])
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
        renders = STACK["renders_bucket"]
        batch = client("batch")
        job_id = self.step(
            "batch",
            "SubmitJob",
            ops.submit_batch_job,
            batch,
            queue=STACK["job_queue_arn"],
            definition=STACK["job_definition_arn"],
            run_id=run_id,
            spec_uri=spec_uri,
            output_uri=f"s3://{renders}/{run_id}/",
            variants_per_child=k,
            array_size=array_size,
            kms_key_id=STACK["kms_key_arns"].get("storage"),
        )
        LEDGER.write("started", run_id=run_id, job_id=job_id)
        self.step("batch", "array job (submit to end)", self._wait_succeeded, batch, job_id)
        self.step(
            "s3",
            "check outputs (batch)",
            ops.check_outputs,
            client("s3"),
            renders,
            run_id,
            spec,
            array_size,
            published=False,
        )

    def _wait_succeeded(self, batch, job_id: str) -> None:
        job = ops.wait_batch_job(batch, job_id, CONFIG["run_timeout_s"])
        if job["status"] != "SUCCEEDED":
            raise ops.RunFailed(f"job {job_id} ended {job['status']}: {job.get('statusReason', '')}")
