"""Where and when the local Batch runs a job (batch_runner.SlotPool): the first compute environment of its
queue, in order, with free vCPUs for it, at most LOCALCLOUD_BATCH_CONCURRENCY at once, FIFO; a job no
environment can hold stays RUNNABLE; the environment an attempt got decides Spot. First the pool itself (in
process, exact), then through the process cloud's Batch API."""

from __future__ import annotations

import os
import time

import pytest

from localcloud import batch_runner, faults
from localcloud.batch_runner import SlotPool
from tests.unit.localcloud.conftest import fargate_queue, unique, wait_for
from tests.unit.localcloud.pool_fakes import Environment, Job, Queue, Waiter, placement_order

# ---- the pool, in process ----------------------------------------------------------------------------------


def waiting(pool: SlotPool, count: int) -> None:
    """Until `count` jobs wait in the pool (each Waiter's thread has queued)."""
    wait_for(lambda: pool.waiting == count, timeout=5, interval=0.01)


def test_jobs_go_to_the_first_environment_with_room_in_queue_order():
    spot, demand = Environment("spot", 2, "FARGATE_SPOT"), Environment("on-demand", 4)
    queue = Queue([spot, demand])
    pool = SlotPool(10)
    first, second, third = (pool.acquire(Job(queue)) for _ in range(3))
    assert [p.environment.name for p in (first, second, third)] == ["spot", "spot", "on-demand"]
    big = pool.acquire(Job(queue, vcpus="2"))  # Spot is full: 1 + 2 <= 4 on demand
    assert (big.environment.name, big.vcpus) == ("on-demand", 2.0)
    assert (pool.held(spot.arn), pool.held(demand.arn), pool.running) == (2.0, 3.0, 4)
    later = Waiter(pool, Job(queue, vcpus="2"))  # fits neither now (Spot 2/2, on demand 3/4)
    waiting(pool, 1)
    pool.release(first)  # one vCPU free on Spot: not enough
    assert not later.done.wait(0.2)
    pool.release(second)  # two: it goes to Spot, the first in order
    assert later.done.wait(5) and later.result.environment.name == "spot"
    assert (pool.held(spot.arn), pool.running) == (2.0, 3)


def test_the_host_cap_bounds_jobs_at_once_whatever_the_environments_allow():
    queue = Queue([Environment("unmanaged", None)])  # no maxvCpus: no ceiling of its own
    pool = SlotPool(2)
    one, two = pool.acquire(Job(queue)), pool.acquire(Job(queue))
    third = Waiter(pool, Job(queue))
    waiting(pool, 1)
    assert not third.done.wait(0.2) and pool.running == 2
    pool.release(one)
    assert third.done.wait(5) and third.result.environment.name == "unmanaged"
    pool.release(two)
    pool.release(third.result)
    assert pool.running == 0 and pool.held(queue.environments[0].arn) == 0


def test_waiters_are_placed_in_arrival_order():
    queue = Queue([Environment("one", 1)])
    pool = SlotPool(4)
    running = pool.acquire(Job(queue))
    waiters = []
    for count in range(1, 6):
        waiters.append(Waiter(pool, Job(queue)))
        waiting(pool, count)  # each one queued before the next arrives
    assert placement_order(pool, running, waiters) == waiters


def test_a_job_no_environment_can_hold_stays_runnable_and_holds_up_nobody():
    queue = Queue([Environment("spot", 1, "FARGATE_SPOT"), Environment("on-demand", 1)])
    pool = SlotPool(4)
    huge = Waiter(pool, Job(queue, vcpus="2"))  # more than either environment's maxvCpus
    waiting(pool, 1)
    small = pool.acquire(Job(queue))  # arrived later, fits: placed at once
    assert small.environment.name == "spot"
    pool.release(small)
    assert not huge.done.wait(0.3)  # still waiting after capacity came back
    huge.job.stop = True  # terminate: the job stops waiting, as it would on AWS
    pool.wake_all()
    assert huge.done.wait(5) and huge.result is None
    assert pool.waiting == 0 and pool.running == 0


def test_terminate_wakes_only_the_stopped_waiter_and_the_capacity_goes_to_the_next():
    queue = Queue([Environment("one", 1)])
    pool = SlotPool(1)
    running = pool.acquire(Job(queue))
    stopped, kept = Waiter(pool, Job(queue)), None
    waiting(pool, 1)
    kept = Waiter(pool, Job(queue))
    waiting(pool, 2)
    stopped.job.stop = True
    pool.wake_all()
    assert stopped.done.wait(5) and stopped.result is None
    assert not kept.done.wait(0.2) and pool.waiting == 1  # the other one still waits for the capacity
    pool.release(running)
    assert kept.done.wait(5) and kept.result.environment.name == "one"
    assert pool.running == 1


def test_a_job_stopped_before_it_asks_never_takes_capacity():
    queue = Queue([Environment("one", 1)])
    pool = SlotPool(1)
    job = Job(queue)
    job.stop = True
    assert pool.acquire(job) is None
    assert (pool.running, pool.waiting, pool.held(queue.environments[0].arn)) == (0, 0, 0)


def test_a_jobs_vcpus_come_from_its_requirements_legacy_vcpus_and_overrides():
    queue = Queue([])
    assert batch_runner.job_vcpus(Job(queue, vcpus="0.25")) == 0.25
    assert batch_runner.job_vcpus(Job(queue, vcpus="2", legacy=True)) == 2
    override = {"resourceRequirements": [{"type": "VCPU", "value": "4"}]}
    assert batch_runner.job_vcpus(Job(queue, vcpus="1", overrides=override)) == 4
    assert batch_runner.job_vcpus(Job(queue, vcpus=None)) == 1  # names none: one vCPU


def test_a_queue_without_environments_places_nothing():
    pool = SlotPool(2)
    lost = Waiter(pool, Job(Queue([])))
    waiting(pool, 1)
    assert not lost.done.wait(0.2)
    lost.job.stop = True
    pool.wake_all()
    assert lost.done.wait(5) and lost.result is None


# ---- through the Batch API of the process cloud (LOCALCLOUD_BATCH_CONCURRENCY = 2) -------------------------

RECORD_PLACEMENT = """
import os, pathlib, time
marks = pathlib.Path(os.environ["MARKS"]) / os.environ.get("AWS_BATCH_JOB_ARRAY_INDEX", "plain")
marks.mkdir(parents=True, exist_ok=True)
attempt = os.environ["AWS_BATCH_JOB_ATTEMPT"]
(marks / f"attempt-{attempt}").write_text(os.environ["AWS_BATCH_CE_NAME"] + " " + str(time.time()))
time.sleep(float(os.environ["SLEEP"]) if attempt == "1" else 0)
(marks / f"attempt-{attempt}").write_text(os.environ["AWS_BATCH_CE_NAME"] + " " + str(time.time()) + " done")
"""


@pytest.fixture(scope="module")
def mixed_queue(cloud) -> tuple[str, str, str]:
    """(queue, Spot environment name, on-demand environment name): Fargate Spot then Fargate, one vCPU each,
    the farm's local shape (envs/local: one job per environment)."""
    queue, created = fargate_queue(cloud, 11, [("FARGATE_SPOT", 1), ("FARGATE", 1)])
    return queue, created[0]["computeEnvironmentName"], created[1]["computeEnvironmentName"]


def _definition(batch_setup, marks, sleep: float, retry: dict | None = None) -> str:
    script = batch_setup.script("placement", RECORD_PLACEMENT)
    environment = {"MARKS": str(marks), "SLEEP": str(sleep)}
    return batch_setup.job_definition(
        ["python", str(script)],
        container={"environment": [{"name": k, "value": v} for k, v in environment.items()]},
        **({"retryStrategy": retry} if retry else {}),
    )


def _attempt(marks, index: int | str, attempt: int) -> tuple[str, float]:
    name, stamp, *_ = (marks / str(index) / f"attempt-{attempt}").read_text().split()
    return name, float(stamp)


def test_children_fill_spot_then_on_demand_and_a_job_too_big_stays_runnable(
    cloud, batch_setup, mixed_queue, tmp_path
):
    queue, spot, on_demand = mixed_queue
    batch = cloud.client("batch")
    # Two vCPUs: more than either environment's maxvCpus of 1, so it never runs (as on AWS).
    too_big = batch.submit_job(
        jobName=unique("too-big"),
        jobQueue=queue,
        jobDefinition=_definition(batch_setup, tmp_path / "big", 0),
        containerOverrides={"resourceRequirements": [{"type": "VCPU", "value": "2"}]},
    )["jobId"]
    wait_for(lambda: batch_setup.describe(too_big)["status"] == "RUNNABLE", timeout=15)
    marks = tmp_path / "array"
    array = batch.submit_job(
        jobName=unique("placed"),
        jobQueue=queue,
        jobDefinition=_definition(batch_setup, marks, 2.0),
        arrayProperties={"size": 3},
    )["jobId"]
    assert batch_setup.wait_done(array, timeout=60)["status"] == "SUCCEEDED"
    placed = {index: _attempt(marks, index, 1) for index in range(3)}
    # The first two ran at once, one per environment; the third waited for one of them to end.
    first_two = sorted(placed.values(), key=lambda p: p[1])[:2]
    assert {name for name, _ in first_two} == {spot, on_demand}
    assert {name for name, _ in placed.values()} <= {spot, on_demand}
    assert (
        batch_setup.describe(too_big)["status"] == "RUNNABLE"
    )  # still, after all that capacity came and went
    batch.terminate_job(jobId=too_big, reason="too big for this queue")
    done = batch_setup.wait_done(too_big, timeout=15)
    assert (done["status"], done["statusReason"]) == ("FAILED", "too big for this queue")
    assert not done.get("attempts")  # it never ran


def test_spot_reclaims_only_the_attempt_placed_in_the_spot_environment(
    cloud, batch_setup, mixed_queue, tmp_path
):
    queue, spot, on_demand = mixed_queue
    name = unique("placed-spot")
    retry = {"attempts": 3, "evaluateOnExit": [{"onStatusReason": "Your Spot*", "action": "RETRY"}]}
    settings = {"spot_reclaim": 1.0, "max_repeats": 1, "spot_reclaim_after_s": [0.3, 0.6], "scope": name}
    with faults.set(cloud.endpoint, **settings) as f:
        job_id = cloud.client("batch").submit_job(
            jobName=name,
            jobQueue=queue,
            jobDefinition=_definition(batch_setup, tmp_path, 3.0, retry),
            arrayProperties={"size": 2},
        )["jobId"]
        assert batch_setup.wait_done(job_id, timeout=60)["status"] == "SUCCEEDED"
        injected = f.get()["injected"]["spot_reclaim"]
    children = [batch_setup.describe(f"{job_id}:{index}") for index in range(2)]
    first_places = [_attempt(tmp_path, index, 1)[0] for index in range(2)]
    assert sorted(first_places) == sorted([spot, on_demand])  # one child in each at once
    for child, place in zip(children, first_places, strict=True):
        assert child["status"] == "SUCCEEDED"
        if place == spot:
            assert [a["statusReason"] for a in child["attempts"]] == ["Your Spot Task was interrupted.", ""]
        else:  # on demand: never reclaimed, one attempt
            assert [a["statusReason"] for a in child["attempts"]] == [""]
    assert injected == 1


def test_a_waiting_job_costs_no_cpu(cloud, batch_setup, mixed_queue, tmp_path):
    """Waiters sleep on conditions: 50 children queued behind 2 running ones leave the server idle."""
    queue, _, _ = mixed_queue
    batch = cloud.client("batch")
    job_id = batch.submit_job(
        jobName=unique("idle"),
        jobQueue=queue,
        jobDefinition=_definition(batch_setup, tmp_path, 4.0),
        arrayProperties={"size": 50},
    )["jobId"]
    wait_for(lambda: batch_setup.describe(f"{job_id}:1")["status"] in ("RUNNABLE", "RUNNING"), timeout=15)
    server = int((cloud.state_dir / "localcloud.pid").read_text())
    time.sleep(1.0)
    before = _cpu_seconds(server)
    time.sleep(2.0)
    spent = _cpu_seconds(server) - before
    batch.terminate_job(jobId=job_id, reason="enough")
    assert batch_setup.wait_done(job_id, timeout=30)["status"] == "FAILED"
    assert spent < 0.5, f"the server spent {spent:.2f} CPU-seconds in 2 s with 48 children waiting"


def _cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (all its threads), from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as stat:  # noqa: PTH123
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_raising_maxvcpus_places_a_waiting_job_at_once(cloud, batch_setup, tmp_path):
    """UpdateComputeEnvironment applies maxvCpus in place (moto ignores it): a job that did not fit runs."""
    batch = cloud.client("batch")
    queue, (environment,) = fargate_queue(cloud, 12, [("FARGATE", 1)])
    job = batch.submit_job(
        jobName=unique("waits"),
        jobQueue=queue,
        jobDefinition=_definition(batch_setup, tmp_path, 0),
        containerOverrides={"resourceRequirements": [{"type": "VCPU", "value": "2"}]},
    )["jobId"]
    wait_for(lambda: batch_setup.describe(job)["status"] == "RUNNABLE", timeout=15)
    time.sleep(1)
    assert batch_setup.describe(job)["status"] == "RUNNABLE"  # 2 vCPUs do not fit in 1
    batch.update_compute_environment(computeEnvironment=environment["computeEnvironmentName"],
                                     computeResources={"maxvCpus": 2})  # fmt: skip
    described = batch.describe_compute_environments(
        computeEnvironments=[environment["computeEnvironmentName"]]
    )
    assert described["computeEnvironments"][0]["computeResources"]["maxvCpus"] == 2
    assert batch_setup.wait_done(job, timeout=30)["status"] == "SUCCEEDED"
