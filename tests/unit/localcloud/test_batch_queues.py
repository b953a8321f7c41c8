"""Job queues as the project uses them (batch_runner.SlotPool, patches/batch.py): a higher-priority queue's
waiters are placed first over the same compute environments; jobStateTimeLimitActions are stored and
described, and cancel jobs blocked in RUNNABLE (every environment's maxvCpus below the job's VCPU) with AWS's
statusReason. First the pool itself (in process, exact), then through the process cloud's Batch API, with
faults' `job_state_time_limit_s` standing in for AWS's 600 s minimum."""

from __future__ import annotations

import inspect
import json
import re
import time
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto.batch.models import JobQueue
from moto.batch.responses import BatchResponse

from localcloud import batch_runner, faults
from localcloud.batch_runner import SlotPool
from tests.unit.localcloud.conftest import batch_events_queue, fargate_queue, unique, wait_for
from tests.unit.localcloud.pool_fakes import Environment, Job, Queue, Waiter, placement_order

MAX_RESOURCE = "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"
BLOCKED_REASON = (
    f"{MAX_RESOURCE} - CE(s) associated with the job queue cannot meet the CPU requirement of the job."
)
INVALID_REASON = "ACTION_REQUIRED - CE(s) associated with the job queue are invalid."
CANCELED = f"Canceled by JobStateTimeLimit action due to reason: {MAX_RESOURCE}"


def waited(reason: str, pattern: str) -> float:
    """The seconds a cancelled job's statusReason reports in place of `{s}` (the time it actually waited)."""
    before, after = pattern.split("{s}")
    found = re.fullmatch(re.escape(before) + r"([0-9.]+)" + re.escape(after), reason)
    assert found, f"{reason!r} does not match {pattern!r}"
    return float(found.group(1))


def action(seconds: float = 600, reason: str = MAX_RESOURCE, **extra) -> dict[str, Any]:
    return {"reason": reason, "state": "RUNNABLE", "maxTimeSeconds": seconds, "action": "CANCEL", **extra}


# ---- the pool, in process ----------------------------------------------------------------------------------


def queued(pool: SlotPool, waiter: Waiter, count: int) -> Waiter:
    """The waiter, once `count` jobs wait in the pool (it queued before the next one arrives)."""
    wait_for(lambda: pool.waiting == count, timeout=5, interval=0.01)
    return waiter


def test_the_higher_priority_queue_is_placed_first_and_fifo_within_a_priority():
    shared = Environment("shared", 1)
    bulk, urgent = Queue([shared], priority=1), Queue([shared], priority="10")  # moto may keep a string
    pool = SlotPool(1)
    running = pool.acquire(Job(bulk))
    b1, b2, b3 = (queued(pool, Waiter(pool, Job(bulk)), n) for n in (1, 2, 3))
    u1 = queued(pool, Waiter(pool, Job(urgent)), 4)
    u2 = queued(pool, Waiter(pool, Job(urgent)), 5)
    assert placement_order(pool, running, [b1, b2, b3, u1, u2]) == [u1, u2, b1, b2, b3]
    assert pool.running == 0


def test_equal_priorities_stay_fifo_across_queues():
    shared = Environment("shared", 1)
    first, second = Queue([shared], priority=5), Queue([shared], priority="5")
    pool = SlotPool(1)
    running = pool.acquire(Job(first))
    waiters = [queued(pool, Waiter(pool, Job(q)), n) for n, q in enumerate([second, first, second, first], 1)]
    assert placement_order(pool, running, waiters) == waiters


def test_a_new_priority_applies_at_the_next_placement():
    """UpdateJobQueue changes the queue object's priority; the pool reads it at each placement."""
    shared = Environment("shared", 1)
    bulk, urgent = Queue([shared], priority=1), Queue([shared], priority=10)
    pool = SlotPool(1)
    running = pool.acquire(Job(bulk))
    late_bulk = queued(pool, Waiter(pool, Job(bulk)), 1)
    urgent_one = queued(pool, Waiter(pool, Job(urgent)), 2)
    bulk.priority = "20"
    assert placement_order(pool, running, [late_bulk, urgent_one]) == [late_bulk, urgent_one]


def test_an_urgent_waiter_does_not_wait_for_a_bulk_job_it_cannot_share_an_environment_with():
    """Priority orders only waiters that fit: a bulk job fitting elsewhere still goes when urgent cannot."""
    small, other = Environment("small", 1), Environment("other", 1)
    urgent, bulk = Queue([small], priority=10), Queue([other], priority=1)
    pool = SlotPool(2)
    running = pool.acquire(Job(urgent))
    blocked_urgent = queued(pool, Waiter(pool, Job(urgent)), 1)  # its environment is full
    assert pool.acquire(Job(bulk)).environment.name == "other"
    assert not blocked_urgent.done.wait(0.2)
    pool.release(running)
    assert blocked_urgent.done.wait(5) and blocked_urgent.result.environment.name == "small"


def test_a_blocked_waiter_carries_awss_reason_until_more_vcpus_place_it():
    environment = Environment("one", 1)
    queue = Queue([environment, Environment("also-one", 1)])
    pool = SlotPool(2)
    fits = pool.acquire(Job(queue))  # 1 vCPU: not blocked
    big = queued(pool, Waiter(pool, Job(queue, vcpus="2")), 1)
    assert big.job.job_stopped_reason == BLOCKED_REASON
    assert pool.blocked() == {(queue.arn, 2.0): BLOCKED_REASON}
    pool.release(fits)
    assert not big.done.wait(0.2)  # capacity alone does not help
    environment.max_vcpus = 2  # UpdateComputeEnvironment, then reconsider (patches/batch.py)
    pool.reconsider()
    assert big.done.wait(5) and big.result.environment.name == "one"
    assert big.job.job_stopped_reason is None and pool.blocked() == {}
    pool.release(big.result)


def test_an_update_that_makes_waiters_blocked_gives_them_the_reason():
    environment = Environment("one", 2)
    queue = Queue([environment])
    pool = SlotPool(1)
    running = pool.acquire(Job(queue, vcpus="2"))
    waiter = queued(pool, Waiter(pool, Job(queue, vcpus="2")), 1)  # waits for capacity: not blocked
    assert waiter.job.job_stopped_reason is None and pool.blocked() == {}
    environment.max_vcpus = 1
    pool.reconsider()
    assert waiter.job.job_stopped_reason == BLOCKED_REASON
    waiter.job.stop = True
    pool.wake_all()
    assert waiter.done.wait(5) and waiter.result is None and pool.blocked() == {}
    pool.release(running)


def test_the_time_limit_cancels_every_blocked_waiter_of_the_queue_at_once():
    queue = Queue([Environment("one", 1)], job_state_time_limit_actions=[action(0.6)])
    pool = SlotPool(2)
    started = time.monotonic()
    blocked = [queued(pool, Waiter(pool, Job(queue, vcpus="2")), 1)]
    time.sleep(0.3)
    blocked += [queued(pool, Waiter(pool, Job(queue, vcpus="4")), 2)]  # later, and another size: with them
    assert all(w.done.wait(5) for w in blocked)
    assert 0.5 <= time.monotonic() - started < 3
    for waiter in blocked:
        assert waiter.result is None and waiter.job.stop
        assert 0.6 <= waited(waiter.job.job_stopped_reason, CANCELED + " (RUNNABLE for {s} s)") < 3
        assert waiter.job._lc_time_limit[0] == MAX_RESOURCE
    assert pool.waiting == 0 and pool.blocked() == {}
    placed = pool.acquire(Job(queue))  # the queue still places what fits
    assert placed.environment.name == "one"


def test_no_action_without_an_entry_for_the_reason_and_none_for_invalid_environments():
    other_reason = Queue(
        [Environment("one", 1)], job_state_time_limit_actions=[action(0.2, reason="CAPACITY:X")]
    )
    invalid = Queue(
        [Environment("bad", 8, status="INVALID")],
        job_state_time_limit_actions=[action(0.2, reason="ACTION_REQUIRED")],
    )
    pool = SlotPool(2)
    waiters = [
        queued(pool, Waiter(pool, Job(other_reason, vcpus="2")), 1),
        queued(pool, Waiter(pool, Job(invalid)), 2),
    ]
    assert [w.job.job_stopped_reason for w in waiters] == [BLOCKED_REASON, INVALID_REASON]
    assert not any(w.done.wait(0.6) for w in waiters)  # still waiting, well past 0.2 s
    for waiter in waiters:
        waiter.job.stop = True
    pool.wake_all()
    assert all(w.done.wait(5) and w.result is None for w in waiters)


def test_an_action_added_later_applies_to_jobs_already_blocked():
    queue = Queue([Environment("one", 1)])
    pool = SlotPool(1)
    waiter = queued(pool, Waiter(pool, Job(queue, vcpus="2")), 1)
    assert not waiter.done.wait(0.3)
    queue.job_state_time_limit_actions = [action(0.1)]  # UpdateJobQueue, then reconsider
    pool.reconsider()  # blocked for 0.3 s already: due at once
    assert waiter.done.wait(5) and waiter.result is None
    assert waiter.job.job_stopped_reason.startswith(CANCELED)


# ---- through the Batch API of the process cloud ------------------------------------------------------------


def _queue(cloud, octet: int, max_vcpus: int = 1, **extra) -> tuple[str, str]:
    """(a job queue over one new FARGATE environment of `max_vcpus`, the environment's name); `extra`: what
    UpdateJobQueue sets right away (priority, jobStateTimeLimitActions)."""
    queue, (environment,) = fargate_queue(cloud, octet, [("FARGATE", max_vcpus)])
    if extra:
        cloud.client("batch").update_job_queue(jobQueue=queue, **extra)
    return queue, environment["computeEnvironmentName"]


def _described(cloud, queue: str) -> dict:
    (found,) = cloud.client("batch").describe_job_queues(jobQueues=[queue])["jobQueues"]
    return found


def _submit(cloud, batch_setup, queue: str, vcpus: int = 2, name: str | None = None, **kwargs) -> str:
    definition = batch_setup.job_definition(["python", "-c", "print('ran')"])
    return cloud.client("batch").submit_job(
        jobName=name or unique("blocked"),
        jobQueue=queue,
        jobDefinition=definition,
        containerOverrides={"resourceRequirements": [{"type": "VCPU", "value": str(vcpus)}]},
        **kwargs,
    )["jobId"]


def _terminate(cloud, batch_setup, job_id: str) -> None:
    cloud.client("batch").terminate_job(jobId=job_id, reason="test clean-up")
    batch_setup.wait_done(job_id, timeout=15)


def test_time_limit_actions_round_trip_through_create_update_and_describe(cloud):
    batch = cloud.client("batch")
    queue, _ = _queue(cloud, 21)
    assert _described(cloud, queue)["jobStateTimeLimitActions"] == []  # never set
    given = [action(600), action(86400, reason="CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", action="TERMINATE")]
    environment = _described(cloud, queue)["computeEnvironmentOrder"]
    created = unique("jq")
    batch.create_job_queue(
        jobQueueName=created,
        state="ENABLED",
        priority=5,
        computeEnvironmentOrder=environment,
        jobStateTimeLimitActions=given,
    )
    assert _described(cloud, created)["jobStateTimeLimitActions"] == given  # as given, in order
    batch.update_job_queue(jobQueue=created, priority=7)  # without the field: left as it was
    assert _described(cloud, created)["jobStateTimeLimitActions"] == given
    assert _described(cloud, created)["priority"] == 7
    batch.update_job_queue(jobQueue=created, jobStateTimeLimitActions=[action(900)])  # replaced
    assert _described(cloud, created)["jobStateTimeLimitActions"] == [action(900)]
    batch.update_job_queue(jobQueue=created, jobStateTimeLimitActions=[])
    assert _described(cloud, created)["jobStateTimeLimitActions"] == []


@pytest.mark.parametrize(
    ("entry", "field_name"),
    [
        (action(599), "maxTimeSeconds"),
        (action(86401), "maxTimeSeconds"),
        ({**action(), "state": "RUNNING"}, "state"),
        ({**action(), "action": "KILL"}, "action"),
        ({**action(), "reason": ""}, "reason"),
    ],
)
def test_bad_time_limit_actions_are_refused_naming_the_field(cloud, entry, field_name):
    batch = cloud.client("batch")
    queue, _ = _queue(cloud, 22, jobStateTimeLimitActions=[action(700)])
    order = _described(cloud, queue)["computeEnvironmentOrder"]
    refused_name = unique("jq")
    with pytest.raises(ClientError) as created:
        batch.create_job_queue(
            jobQueueName=refused_name,
            state="ENABLED",
            priority=1,
            computeEnvironmentOrder=order,
            jobStateTimeLimitActions=[entry],
        )
    with pytest.raises(ClientError) as updated:
        batch.update_job_queue(jobQueue=queue, jobStateTimeLimitActions=[action(800), entry])
    for refused, index in ((created, 0), (updated, 1)):
        error = refused.value.response["Error"]
        assert error["Code"] == "ClientException"
        assert f"jobStateTimeLimitActions[{index}].{field_name}" in error["Message"]
    assert not batch.describe_job_queues(jobQueues=[refused_name])["jobQueues"]  # nothing created
    assert _described(cloud, queue)["jobStateTimeLimitActions"] == [action(700)]  # nothing changed


RECORD_START = """
import os, pathlib, sys, time
marks = pathlib.Path(os.environ["MARKS"])
marks.mkdir(parents=True, exist_ok=True)
(marks / f"{sys.argv[1]}-{os.environ['AWS_BATCH_JOB_ARRAY_INDEX']}").write_text(str(time.time()))
time.sleep(float(sys.argv[2]))
"""


def test_urgent_children_are_placed_before_the_remaining_bulk_children(cloud, batch_setup, tmp_path):
    """The project's two queues over one environment: the urgent array, submitted after a 100-child bulk
    array, runs as soon as the running bulk child ends."""
    batch = cloud.client("batch")
    bulk, _ = _queue(cloud, 23, max_vcpus=1)  # one child at a time
    environment = _described(cloud, bulk)["computeEnvironmentOrder"]
    urgent = unique("urgent")
    batch.create_job_queue(
        jobQueueName=urgent, state="ENABLED", priority=10, computeEnvironmentOrder=environment
    )
    script = batch_setup.script("record_start", RECORD_START)
    env = [{"name": "MARKS", "value": str(tmp_path)}]

    def definition(tag: str, sleep: float) -> str:
        return batch_setup.job_definition(
            ["python", str(script), tag, str(sleep)], container={"environment": env}
        )

    bulk_job = batch.submit_job(
        jobName=unique("bulk"),
        jobQueue=bulk,
        jobDefinition=definition("bulk", 1.5),
        arrayProperties={"size": 100},
    )["jobId"]
    try:
        wait_for(lambda: (tmp_path / "bulk-0").exists(), timeout=30)
        wait_for(lambda: batch_setup.describe(f"{bulk_job}:99")["status"] == "RUNNABLE", timeout=15)
        urgent_job = batch.submit_job(
            jobName=unique("urgent"),
            jobQueue=urgent,
            jobDefinition=definition("urgent", 0),
            arrayProperties={"size": 3},
        )["jobId"]
        assert batch_setup.wait_done(urgent_job, timeout=60)["status"] == "SUCCEEDED"
        started = {path.name: float(path.read_text()) for path in tmp_path.iterdir()}
        urgent_starts = [started.pop(f"urgent-{i}") for i in range(3)]
        bulk_zero = started.pop("bulk-0")
        # bulk-0 was running; every urgent child then started before any other bulk child
        assert bulk_zero < min(urgent_starts) and all(
            max(urgent_starts) < other for other in started.values()
        )
        assert len(started) <= 1  # at most the next bulk child, since the last urgent one ended
    finally:
        _terminate(cloud, batch_setup, bulk_job)


def test_a_blocked_job_shows_the_reason_and_is_cancelled_by_the_queues_action(cloud, batch_setup):
    queue, _ = _queue(cloud, 24, jobStateTimeLimitActions=[action(600)])
    events = batch_events_queue(cloud, queue)
    name = unique("blocked")
    with faults.set(cloud.endpoint, job_state_time_limit_s=1.5, scope=name) as f:
        assert f.get()["settings"]["job_state_time_limit_s"] == 1.5
        started = time.monotonic()
        job_id = _submit(cloud, batch_setup, queue, name=name)
        try:
            runnable = wait_for(
                lambda: (job := batch_setup.describe(job_id)).get("statusReason") and job, 5, 0.05
            )
            assert (runnable["status"], runnable["statusReason"]) == ("RUNNABLE", BLOCKED_REASON)
            listed = cloud.client("batch").list_jobs(jobQueue=queue, jobStatus="RUNNABLE")["jobSummaryList"]
            assert [(j["jobId"], j.get("statusReason")) for j in listed] == [(job_id, BLOCKED_REASON)]
            done = batch_setup.wait_done(job_id, timeout=10)
        finally:
            if batch_setup.describe(job_id)["status"] not in ("SUCCEEDED", "FAILED"):
                _terminate(cloud, batch_setup, job_id)
    assert 1.4 <= time.monotonic() - started < 8
    assert done["status"] == "FAILED"
    assert 1.5 <= waited(done["statusReason"], CANCELED + " (RUNNABLE for {s} s)") < 8
    assert not done.get("attempts")  # it never ran

    sqs = cloud.client("sqs")
    seen: list[dict] = []

    def failed_event():
        for message in sqs.receive_message(QueueUrl=events, MaxNumberOfMessages=10).get("Messages", []):
            seen.append(json.loads(message["Body"]))
        return [
            e["detail"] for e in seen if e["detail"]["jobId"] == job_id and e["detail"]["status"] == "FAILED"
        ]

    (event,) = wait_for(failed_event, timeout=20)
    assert event["statusReason"] == done["statusReason"]
    assert [e["detail"]["status"] for e in seen if e["detail"]["jobId"] == job_id] == [
        "SUBMITTED",
        "RUNNABLE",
        "FAILED",
    ]


def test_a_blocked_job_without_a_matching_action_stays_runnable(cloud, batch_setup):
    queue, _ = _queue(cloud, 25, jobStateTimeLimitActions=[action(600, reason="CAPACITY:SOMETHING_ELSE")])
    name = unique("stays")
    with faults.set(cloud.endpoint, job_state_time_limit_s=0.5, scope=name):
        job_id = _submit(cloud, batch_setup, queue, name=name)
        try:
            wait_for(lambda: batch_setup.describe(job_id).get("statusReason") == BLOCKED_REASON, 5, 0.05)
            time.sleep(2.0)
            job = batch_setup.describe(job_id)
            assert (job["status"], job["statusReason"]) == ("RUNNABLE", BLOCKED_REASON)
        finally:
            _terminate(cloud, batch_setup, job_id)
    done = batch_setup.describe(job_id)
    assert (done["status"], done["statusReason"]) == ("FAILED", "test clean-up")


def test_an_array_whose_children_are_all_blocked_ends_failed_saying_runnable(cloud, batch_setup):
    queue, _ = _queue(cloud, 26, jobStateTimeLimitActions=[action(600)])
    name = unique("blocked-array")
    with faults.set(cloud.endpoint, job_state_time_limit_s=1.0, scope=name):
        job_id = _submit(cloud, batch_setup, queue, name=name, arrayProperties={"size": 3})
        try:
            done = batch_setup.wait_done(job_id, timeout=15)
        finally:
            if batch_setup.describe(job_id)["status"] not in ("SUCCEEDED", "FAILED"):
                _terminate(cloud, batch_setup, job_id)
    assert done["status"] == "FAILED"
    reason = done["statusReason"]
    assert reason.startswith("Array Child Job failed: 3 of 3") and "RUNNABLE" in reason
    assert (
        1 <= waited(reason, "Array Child Job failed: 3 of 3 (" + CANCELED + " after {s} s in RUNNABLE)") < 15
    )
    for index in range(3):
        child = batch_setup.describe(f"{job_id}:{index}")
        assert child["status"] == "FAILED"
        assert 1 <= waited(child["statusReason"], CANCELED + " (RUNNABLE for {s} s)") < 15
        assert not child.get("attempts")


def test_the_fault_set_after_jobs_blocked_acts_at_once_and_only_within_its_scope(cloud, batch_setup):
    queue, _ = _queue(cloud, 28, jobStateTimeLimitActions=[action(600)])
    inside, outside = unique("in-scope"), unique("out-of-scope")
    jobs = {name: _submit(cloud, batch_setup, queue, name=name) for name in (inside, outside)}
    try:
        for job_id in jobs.values():
            wait_for(
                lambda job_id=job_id: batch_setup.describe(job_id).get("statusReason") == BLOCKED_REASON, 5
            )
        time.sleep(0.5)  # blocked for longer than the limit about to be set
        with faults.set(cloud.endpoint, job_state_time_limit_s=0.2, scope=inside):
            done = batch_setup.wait_done(jobs[inside], timeout=5)
            assert done["statusReason"].startswith(f"{CANCELED} (RUNNABLE for ")
            time.sleep(0.5)
            kept = batch_setup.describe(jobs[outside])
            assert (kept["status"], kept["statusReason"]) == ("RUNNABLE", BLOCKED_REASON)  # keeps its 600 s
    finally:
        for job_id in jobs.values():
            if batch_setup.describe(job_id)["status"] not in ("SUCCEEDED", "FAILED"):
                _terminate(cloud, batch_setup, job_id)


@pytest.mark.parametrize("value", [0, -1, "soon", True])
def test_a_bad_job_state_time_limit_is_refused_with_400(cloud, value):
    with pytest.raises(ValueError, match="HTTP 400.*job_state_time_limit_s"):
        faults.set(cloud.endpoint, job_state_time_limit_s=value)
    assert faults.get(cloud.endpoint)["active"] is False


def test_raising_maxvcpus_before_the_deadline_places_the_job_and_clears_the_reason(cloud, batch_setup):
    queue, environment = _queue(cloud, 27, jobStateTimeLimitActions=[action(600)])
    name = unique("rescued")
    with faults.set(cloud.endpoint, job_state_time_limit_s=4.0, scope=name):
        job_id = _submit(cloud, batch_setup, queue, name=name)
        try:
            wait_for(lambda: batch_setup.describe(job_id).get("statusReason") == BLOCKED_REASON, 5, 0.05)
            cloud.client("batch").update_compute_environment(
                computeEnvironment=environment, computeResources={"maxvCpus": 2}
            )
            done = batch_setup.wait_done(job_id, timeout=30)
        finally:
            if batch_setup.describe(job_id)["status"] not in ("SUCCEEDED", "FAILED"):
                _terminate(cloud, batch_setup, job_id)
    assert done["status"] == "SUCCEEDED"
    assert not done.get("statusReason")
    assert len(done["attempts"]) == 1


# ---- what the patch relies on in moto ----------------------------------------------------------------------


def test_moto_internals_the_queue_patch_relies_on():
    assert list(inspect.signature(JobQueue.describe).parameters) == ["self"]
    for method, operation in ((BatchResponse.createjobqueue, "create_job_queue"),
                              (BatchResponse.updatejobqueue, "update_job_queue")):  # fmt: skip
        source = inspect.getsource(method)
        assert f"self.batch_backend.{operation}(" in source and '"jobQueueArn"' in source
    assert (
        batch_runner.time_limit_seconds(Queue([], job_state_time_limit_actions=[action(700)]), MAX_RESOURCE)
        == 700
    )
