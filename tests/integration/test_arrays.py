"""Array jobs: an execution whose spec asks for several children, a standalone array job submitted straight
to Batch, and EventBridge's capture of their state changes."""

from __future__ import annotations

import json
import time

import pytest

from tests.conftest import LIVE_TIMEOUT, child_slice, flat_variants, make_spec
from tests.integration import checks

pytestmark = pytest.mark.live

PER_CHILD = 5
ARRAY_SPEC = make_spec("array-test", products=4, variants_per_product=3, variants_per_child=PER_CHILD)
ARRAY_SIZE = 3  # 12 variants, 5 per child: 5, 5 and a short last child of 2


@pytest.fixture(scope="module")
def array_run(farm):
    run = farm.run(ARRAY_SPEC, "array")
    assert run.state.status == "SUCCEEDED", f"{run.state.error}: {run.state.cause}"
    return run


def test_array_execution_renders_every_slice(farm, stack, array_run, manifest_validator):
    bodies = checks.check_all_renders(farm, array_run.run_id, ARRAY_SPEC)
    checks.check_parts(farm, array_run.run_id, PER_CHILD, len(bodies), checks.child_names(ARRAY_SIZE))
    checks.check_manifest(farm, array_run.run_id, ARRAY_SPEC, bodies, manifest_validator)
    checks.check_gallery(farm, array_run.run_id, ARRAY_SPEC)
    state = farm.client.status(array_run.run_id)
    assert (state.children_total, state.children_done, state.children_failed) == (ARRAY_SIZE, ARRAY_SIZE, 0)
    message = checks.only_message(farm, array_run.run_id, "SUCCEEDED")
    assert message["variant_count"] == 12


@pytest.fixture(scope="module")
def standalone_job(farm, stack):
    """A 3-child array job submitted to the job queue directly, with the worker's environment as overrides."""
    spec = make_spec("standalone", products=3, variants_per_product=3)
    run_id = farm.new_run_id("standalone")
    spec_uri = farm.upload(run_id, spec)
    environment = {
        "SPEC_URI": spec_uri,
        "RUN_ID": run_id,
        "OUTPUT_URI": f"s3://{stack['renders_bucket']}/{run_id}/",
        "VARIANTS_PER_CHILD": "4",
        "OUTPUT_KMS_KEY_ID": stack["kms_key_arns"]["storage"],
        "SCRATCH_DIR": stack["scratch_mount_path"],
    }
    batch = stack.client("batch")
    submitted = batch.submit_job(
        jobName=f"standalone-{run_id}"[:128],
        jobQueue=stack["job_queue_arn"],
        jobDefinition=stack["job_definition_arn"],
        arrayProperties={"size": 3},
        containerOverrides={"environment": [{"name": k, "value": v} for k, v in environment.items()]},
    )
    job = checks.wait_for_job(stack, submitted["jobId"], LIVE_TIMEOUT, poll=1)
    return {"run_id": run_id, "spec": spec, "job": job, "job_id": submitted["jobId"]}


def test_standalone_array_children_share_scratch_and_record_progress(farm, standalone_job):
    """The children of one job share the run's scratch: one cached spec, a progress record each. (A run of
    the workflow has its scratch removed when it ends, test_scratch.py; a job submitted straight to Batch
    keeps it.)"""
    scratch = farm.scratch_dir()
    if scratch is None:
        pytest.skip("EFS scratch is only readable from the test host on the local cloud")
    run_dir = scratch / standalone_job["run_id"]
    spec = standalone_job["spec"]
    assert json.loads((run_dir / "spec.json").read_bytes()) == spec
    count = len(flat_variants(spec))
    for index, child in enumerate(checks.child_names(3)):
        lines = (run_dir / "progress" / f"{child}.done").read_text().splitlines()
        done = sorted(int(line.split("\t")[0]) for line in lines)
        assert done == list(child_slice(index, 4, count)), child


def test_standalone_array_job_renders_its_slices(farm, standalone_job):
    job = standalone_job["job"]
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    assert job["arrayProperties"]["size"] == 3
    assert job["arrayProperties"]["statusSummary"].get("SUCCEEDED") == 3
    run_id, spec = standalone_job["run_id"], standalone_job["spec"]
    bodies = checks.check_all_renders(farm, run_id, spec)  # 9 variants, 4 per child: 4, 4, 1
    records = checks.check_parts(farm, run_id, 4, len(bodies), checks.child_names(3))
    for record in records.values():
        for variant in record["variants"]:
            assert variant["key"].endswith(f"{variant['product_id']}/{variant['sku']}.svg")
    assert "manifest.json" not in farm.keys(run_id), "only PublishResults writes the manifest"


def test_eventbridge_captured_the_job_state_changes(farm, stack, standalone_job):
    job_id = standalone_job["job_id"]

    def complete(events: list) -> bool:
        finals = {(e["detail"]["jobId"], e["detail"]["status"]) for e in events}
        return {(job_id, "SUCCEEDED")} | {(f"{job_id}:{i}", "SUCCEEDED") for i in range(3)} <= finals

    events = farm.events.wait_for(job_id, until=complete)
    for event in events:
        assert event["source"] == "aws.batch"
        assert event["detail-type"] == "Batch Job State Change"
        assert event["detail"]["jobQueue"] == stack["job_queue_arn"]
    parent = [e["detail"]["status"] for e in events if e["detail"]["jobId"] == job_id]
    assert "RUNNABLE" in parent or "RUNNING" in parent, f"only final states captured: {parent}"
    # The rule's other target: the log group (delivery there can lag behind the queue on AWS).
    logs, group = stack.client("logs"), stack["events_log_group_name"]
    deadline = time.monotonic() + 60
    while True:
        found = logs.filter_log_events(logGroupName=group, filterPattern=f'"{job_id}"')
        if found["events"]:
            break
        assert time.monotonic() < deadline, "the rule's log group target has no event of the job"
        time.sleep(2)
    assert all(job_id in e["message"] for e in found["events"])
