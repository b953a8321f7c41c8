"""EFS scratch: what the children leave there while a run lasts (the cached spec, its validity stamp, the
progress records a retried child resumes from), and that it is gone once the run ends. After its one message,
an execution that got past ValidateInput submits `<run_id>-scratch-cleanup` (`python -m render_worker cleanup`
on the same queue and job definition): after a success and after a render failure it SUCCEEDS and the run's
directory no longer exists, while another run's directory is untouched; a run refused before validation
submits none. A standalone job (no workflow) leaves its scratch until a clean-up job is submitted for it, as
`farm cancel` will (issue 14).

The host-side checks of the scratch directory run on the local cloud only (farm.scratch_dir()); the clean-up
jobs, their log line and the messages are checked everywhere."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from tests.conftest import LIVE_TIMEOUT, flat_variants, make_spec, sha256
from tests.integration import checks

pytestmark = pytest.mark.live

CLEAN_UP_STATES = ("CleanUpScratch", "CleanUpScratchAfterFailure")
RUN_FILES = ["progress/plain.done", "spec.json", "spec.valid"]  # a plain job's scratch
LEFTOVER_SPEC = make_spec("scratch-left", products=2, variants_per_product=3)
RUN_SPEC = make_spec("scratch-run", products=2, variants_per_product=2)


def _submit_clean_up(stack, run_id: str) -> dict:
    """A clean-up job submitted by hand, exactly as the workflow submits it; waited for."""
    submitted = stack.client("batch").submit_job(
        jobName=f"{run_id}-scratch-cleanup",
        jobQueue=stack["job_queue_arn"],
        jobDefinition=stack["job_definition_arn"],
        containerOverrides={
            "command": ["python", "-m", "render_worker", "cleanup"],
            "environment": [{"name": "RUN_ID", "value": run_id}],
        },
    )
    return checks.wait_for_job(stack, submitted["jobId"], LIVE_TIMEOUT)


def _clean_up_of(stack, run_id: str) -> dict | None:
    """The clean-up job the run's execution submitted, once it has ended; None when it submitted none."""
    from farm.client import FarmClient

    events = FarmClient(stack).history(run_id)
    state, job_ids = None, []
    for event in events:
        if "stateEnteredEventDetails" in event:
            state = event["stateEnteredEventDetails"]["name"]
        elif event["type"] == "TaskSucceeded" and state in CLEAN_UP_STATES:
            job_ids.append(json.loads(event["taskSucceededEventDetails"]["output"])["JobId"])
    assert len(job_ids) <= 1, f"{run_id} submitted {len(job_ids)} clean-up jobs"
    return checks.wait_for_job(stack, job_ids[0], LIVE_TIMEOUT) if job_ids else None


def _jobs_named(stack, name: str) -> list[dict]:
    batch = stack.client("batch")
    found = batch.list_jobs(jobQueue=stack["job_queue_arn"], filters=[{"name": "JOB_NAME", "values": [name]}])
    return found["jobSummaryList"]


def _log_record(stack, job: dict, message: str) -> dict:
    """The JSON log record `message` of the job's (last) attempt, from CloudWatch Logs."""
    batch, logs = stack.client("batch"), stack.client("logs")
    definition = batch.describe_job_definitions(jobDefinitions=[job["jobDefinition"]])["jobDefinitions"][0]
    options = (definition["containerProperties"].get("logConfiguration") or {}).get("options") or {}
    group = options.get("awslogs-group", "/aws/batch/job")
    stream = job["container"]["logStreamName"]
    deadline = time.monotonic() + 60  # delivery can lag on AWS
    while True:
        try:
            page = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)
            events = page["events"]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        for event in events:
            try:
                record = json.loads(event["message"])
            except ValueError:
                continue
            if isinstance(record, dict) and record.get("message") == message:
                return record
        assert time.monotonic() < deadline, f"no {message!r} record in {group}/{stream}: {events}"
        time.sleep(2)


def _files(directory: Path) -> dict[str, bytes]:
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    return {str(p.relative_to(directory)): p.read_bytes() for p in files}


def _check_clean_up(stack, run_id: str, job: dict | None, files: int) -> None:
    """The run's clean-up job SUCCEEDED, named for the run, and logged that it removed `files` files."""
    assert job is not None, f"{run_id} submitted no clean-up job"
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    assert job["jobName"] == f"{run_id}-scratch-cleanup"
    assert job["jobQueue"] == stack["job_queue_arn"]
    assert job["container"]["command"][-1] == "cleanup"
    record = _log_record(stack, job, "scratch removed")
    assert (record["correlation_id"], record["files"]) == (run_id, files), record
    assert record["path"].endswith(f"/{run_id}") and record["bytes"] > 0, record


# ---- a standalone job: what the children write on scratch (no workflow, so nothing removes it) -------------


@pytest.fixture(scope="module")
def leftover(farm, stack):
    """A plain job submitted to the queue directly: its run directory stays until someone cleans it up."""
    run_id = farm.new_run_id("scratch-left")
    spec_uri = farm.upload(run_id, LEFTOVER_SPEC)
    environment = {
        "SPEC_URI": spec_uri,
        "RUN_ID": run_id,
        "OUTPUT_URI": f"s3://{stack['renders_bucket']}/{run_id}/",
    }
    submitted = stack.client("batch").submit_job(
        jobName=run_id,
        jobQueue=stack["job_queue_arn"],
        jobDefinition=stack["job_definition_arn"],
        containerOverrides={"environment": [{"name": k, "value": v} for k, v in environment.items()]},
    )
    job = checks.wait_for_job(stack, submitted["jobId"], LIVE_TIMEOUT)
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    return run_id


def test_a_child_caches_the_spec_and_records_its_progress_on_scratch(farm, leftover):
    scratch = farm.scratch_dir()
    if scratch is None:
        pytest.skip("EFS scratch is only readable from the test host on the local cloud")
    run_dir = scratch / leftover
    assert sorted(_files(run_dir)) == RUN_FILES
    assert json.loads((run_dir / "spec.json").read_bytes()) == LEFTOVER_SPEC
    bodies = checks.check_all_renders(farm, leftover, LEFTOVER_SPEC)
    rows = flat_variants(LEFTOVER_SPEC)
    lines = [line.split("\t") for line in (run_dir / "progress" / "plain.done").read_text().splitlines()]
    assert sorted(int(index) for index, _, _ in lines) == list(range(len(rows)))
    for index, digest, size in lines:
        body = bodies[rows[int(index)]["key"]]
        assert (digest, int(size)) == (sha256(body), len(body))


# ---- runs of the workflow: the clean-up job after the one message ------------------------------------------


@pytest.fixture(scope="module")
def succeeded(farm, leftover):
    run = farm.run(RUN_SPEC, "scratch-ok")
    assert run.state.status == "SUCCEEDED", f"{run.state.error}: {run.state.cause}"
    return run


def test_a_succeeded_run_s_scratch_is_removed_and_no_other(farm, stack, succeeded, leftover):
    scratch = farm.scratch_dir()
    before = _files(scratch / leftover) if scratch else None
    job = _clean_up_of(stack, succeeded.run_id)
    _check_clean_up(stack, succeeded.run_id, job, files=len(RUN_FILES))
    checks.only_message(farm, succeeded.run_id, "SUCCEEDED")
    assert succeeded.state.output["run_id"] == succeeded.run_id, "the output is still the completion message"
    if scratch:
        assert not (scratch / succeeded.run_id).exists()
        assert _files(scratch / leftover) == before, "another run's scratch changed"


def test_a_run_failing_after_its_render_has_its_scratch_removed(farm, stack, notification_validator):
    if not stack["test_hooks_enabled"]:
        pytest.skip("the DROP- hook exists only where the job definition sets FARM_TEST_HOOKS=1")
    spec = make_spec("scratch-drop", products=2, variants_per_product=2)
    spec["products"][1]["variants"][0]["sku"] = "DROP-0001-000"  # rendered and recorded, never uploaded
    run = farm.run(spec, "scratch-drop")
    assert (run.state.status, run.state.error) == ("FAILED", "RenderFailed.RenderIncomplete"), run.state
    job = _clean_up_of(stack, run.run_id)
    _check_clean_up(stack, run.run_id, job, files=len(RUN_FILES))
    message = checks.only_message(farm, run.run_id, "FAILED", notification_validator)
    assert message["error"] == "RenderIncomplete"
    scratch = farm.scratch_dir()
    if scratch:
        assert not (scratch / run.run_id).exists()


def test_a_child_crashing_on_every_attempt_has_its_scratch_removed(farm, stack):
    """The Render state itself fails (the Batch job FAILED after its retries): the records of every attempt
    go, since no attempt is left to resume from them."""
    if not stack["test_hooks_enabled"]:
        pytest.skip("the CRASH- hook exists only where the job definition sets FARM_TEST_HOOKS=1")
    spec = make_spec("scratch-crash", products=1, variants_per_product=2, crash_flat_indexes=[1])
    run = farm.run(spec, "scratch-crash")
    assert (run.state.status, run.state.error) == ("FAILED", "RenderFailed.States.TaskFailed"), run.state
    job = _clean_up_of(stack, run.run_id)
    _check_clean_up(stack, run.run_id, job, files=len(RUN_FILES))
    assert checks.only_message(farm, run.run_id, "FAILED")["error"] == "States.TaskFailed"
    scratch = farm.scratch_dir()
    if scratch:
        assert not (scratch / run.run_id).exists()


def test_a_run_refused_before_validation_submits_no_clean_up(farm, stack):
    schema_invalid = {**RUN_SPEC, "products": [{**RUN_SPEC["products"][0], "template": "poster"}]}
    run = farm.run(schema_invalid, "scratch-invalid")
    assert (run.state.status, run.state.error) == ("FAILED", "RenderFailed.SpecInvalid"), run.state
    assert checks.only_message(farm, run.run_id, "FAILED")["error"] == "SpecInvalid"
    assert _clean_up_of(stack, run.run_id) is None
    assert _jobs_named(stack, f"{run.run_id}-scratch-cleanup") == []


def test_a_clean_up_submitted_by_hand_removes_a_leftover_and_repeats_harmlessly(farm, stack, leftover):
    """What `farm cancel` (issue 14) must submit for a run it stops: the same job, the same result."""
    scratch = farm.scratch_dir()
    job = _submit_clean_up(stack, leftover)
    _check_clean_up(stack, leftover, job, files=len(RUN_FILES))
    if scratch:
        assert not (scratch / leftover).exists()
    again = _submit_clean_up(stack, leftover)
    assert again["status"] == "SUCCEEDED", again.get("statusReason")
    assert _log_record(stack, again, "no scratch to remove")["files"] == 0
