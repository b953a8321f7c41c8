"""The job queues on the deployed stack: an urgent run submitted behind a bulk one finishes first, and a run
whose children can never start ends in one failure message that names RUNNABLE.

Children that can never start: the compute environments' maxvCpus lowered below the job definition's vCPU
(an operator's misconfiguration, MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE on AWS), restored after.
The queues cancel such a job after runnable_time_limit_s (jobStateTimeLimitActions, at least 600 s on AWS);
on the local cloud the test shortens that to seconds with the job_state_time_limit_s fault, scoped to its
run (localcloud/faults.py), so it needs the local cloud.
"""

from __future__ import annotations

import time

import pytest

from tests.conftest import make_spec

pytestmark = pytest.mark.live


def test_an_urgent_run_submitted_behind_a_bulk_one_finishes_first(farm, stack):
    if not stack.outputs.get("test_hooks_enabled"):
        pytest.skip("the SLOW- hook needs a stack with test hooks (envs/local)")
    client = farm.client
    # 40 children of 10 SLOW variants: the compute environments run 2 at once, the rest wait in RUNNABLE.
    bulk_id = farm.new_run_id("bulk")
    client.start(
        farm.upload(bulk_id, make_spec("bulk", 40, 10, sku_prefix="SLOW", variants_per_child=10)), bulk_id
    )
    looked = client.status(bulk_id)
    deadline = time.monotonic() + 120
    while not (looked.children_total and looked.children_done >= 2) and time.monotonic() < deadline:
        time.sleep(0.5)
        looked = client.status(bulk_id)
    assert looked.children_total == 40 and looked.children_done < 30, "the bulk run must still be queued"

    urgent_id = farm.new_run_id("urgent")
    client.start(
        farm.upload(urgent_id, make_spec("urgent", 2, 10, sku_prefix="SLOW")), urgent_id, priority="urgent"
    )
    urgent = farm.wait(urgent_id)
    bulk = farm.wait(bulk_id)
    assert (urgent.status, bulk.status) == ("SUCCEEDED", "SUCCEEDED"), (urgent.error, bulk.error)
    assert (
        urgent.validated["priority"] == "urgent"
        and urgent.validated["job_queue"] == stack["job_queue_arns"]["urgent"]
    )
    assert bulk.validated["job_queue"] == stack["job_queue_arns"]["bulk"]
    ahead = (bulk.stopped - urgent.stopped).total_seconds()
    print(f"urgent ended {ahead:.1f} s before the bulk run it followed")
    assert urgent.stopped < bulk.stopped, "the urgent run must overtake the bulk children still RUNNABLE"

    # Placed ahead of the bulk children that were waiting: its job started before the last bulk child did.
    batch = client.client("batch")
    (urgent_job,) = batch.describe_jobs(jobs=[urgent.job_id])["jobs"]
    bulk_children = batch.describe_jobs(jobs=[f"{bulk.job_id}:{i}" for i in range(30, 40)])["jobs"]
    last_bulk_start = max(child["startedAt"] for child in bulk_children)
    assert urgent_job["startedAt"] < last_bulk_start


@pytest.fixture
def environments_too_small(stack):
    """Every compute environment's maxvCpus below one child's vCPU, then back as it was."""
    batch = stack.client("batch")
    arns = stack["compute_environment_arns"]
    described = batch.describe_compute_environments(computeEnvironments=arns)["computeEnvironments"]
    before = {ce["computeEnvironmentArn"]: ce["computeResources"]["maxvCpus"] for ce in described}
    too_small = max(0, int(float(stack["job_resources"]["vcpu"])) - 1)
    try:
        for arn in arns:
            batch.update_compute_environment(computeEnvironment=arn, computeResources={"maxvCpus": too_small})
        yield too_small
    finally:
        for arn, value in before.items():
            batch.update_compute_environment(computeEnvironment=arn, computeResources={"maxvCpus": value})


def test_a_run_whose_children_cannot_start_ends_in_a_failure_naming_runnable(farm, stack, request):
    if not stack.is_local:
        pytest.skip(
            "shortens the queues' RUNNABLE time limit (600 s at least on AWS) with a local-cloud fault"
        )
    from localcloud import faults

    run_id = farm.new_run_id("runnable")
    request.getfixturevalue("environments_too_small")
    with faults.set(stack["endpoint_url"], job_state_time_limit_s=2.0, scope=run_id):
        farm.start(farm.upload(run_id, make_spec("runnable", 2, 10)), run_id)
        state = farm.wait(run_id, timeout=120)
        (message,) = farm.failure(run_id)
    assert state.status == "FAILED", state.status
    print(f"failure message: error {message['error']}, cause {message['cause']}")
    assert message["status"] == "FAILED" and "RUNNABLE" in message["cause"], message
    assert message["error"] == "RenderStuckInRunnable", message["error"]
    assert "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE" in message["cause"], message["cause"]
    assert "Canceled by JobStateTimeLimit action" in message["cause"]
    assert not [k for k in farm.keys(run_id) if k.endswith(".svg")], "nothing rendered"
