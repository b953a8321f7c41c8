"""Stand-ins for moto's Batch objects, as batch_runner.SlotPool reads them (an environment's ARN, compute
resources and status; a queue's environments, priority and time limit actions; a job's queue, definition,
overrides and stop flag), and a waiter that calls acquire() in a thread of its own, as a job thread does."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from localcloud.batch_runner import SlotPool
from tests.unit.localcloud.conftest import unique, wait_for


@dataclass
class Environment:
    name: str
    max_vcpus: int | None  # None: UNMANAGED, no compute resources
    kind: str = "FARGATE"
    status: str = "VALID"

    @property
    def arn(self) -> str:
        return f"arn:aws:batch:us-east-1:123456789012:compute-environment/{self.name}"

    @property
    def compute_resources(self) -> dict | None:
        return None if self.max_vcpus is None else {"type": self.kind, "maxvCpus": self.max_vcpus}


@dataclass
class Queue:
    environments: list[Environment]
    priority: int | str = 1
    job_state_time_limit_actions: list[dict] = field(default_factory=list)
    arn: str = field(default_factory=lambda: f"arn:aws:batch:us-east-1:123456789012:job-queue/{unique('q')}")


@dataclass
class Definition:
    container_properties: dict[str, Any]


class Job:
    def __init__(
        self,
        queue: Queue,
        vcpus: str | None = "1",
        legacy: bool = False,
        overrides: dict | None = None,
        name: str = "job",
    ):
        props: dict[str, Any] = {"image": "x"}
        if vcpus is not None:
            requirement = [{"type": "VCPU", "value": vcpus}]
            props.update({"vcpus": int(vcpus)} if legacy else {"resourceRequirements": requirement})
        self.job_queue = queue
        self.job_name = name
        self.job_definition = Definition(props)
        self.container_overrides = overrides or {}
        self.stop = False
        self.job_stopped_reason: str | None = None


class Waiter:
    """acquire() in a thread of its own: what a job thread of batch_runner does."""

    def __init__(self, pool: SlotPool, job: Job):
        self.job = job
        self.result: Any = "pending"
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._run, args=(pool,), daemon=True)
        self.thread.start()

    def _run(self, pool: SlotPool) -> None:
        self.result = pool.acquire(self.job)
        self.done.set()


def placement_order(pool: SlotPool, running, waiters: list[Waiter]) -> list[Waiter]:
    """Release the running job, then each placed one in turn: the order the waiters were placed in."""
    order: list[Waiter] = []
    for _ in waiters:
        pool.release(running)
        placed = wait_for(lambda: [w for w in waiters if w.done.is_set() and w not in order], timeout=5)
        assert len(placed) == 1  # a release places exactly one
        order.append(placed[0])
        running = placed[0].result
    pool.release(running)
    return order
