"""Runs a moto Batch job as local subprocesses: dependencies, slots, attempts, retries, timeouts, logs.

What AWS Batch does and we reproduce:
- status walk SUBMITTED -> (PENDING while it waits for dependencies) -> RUNNABLE -> STARTING -> RUNNING ->
  SUCCEEDED | FAILED, back to RUNNABLE before a retry, each change sent to EventBridge (batch_events);
- dependsOn: plain job ids, N_TO_N (child i waits for child i of the other array), SEQUENTIAL (child i waits
  for child i-1); a failed dependency fails the job with "Dependent Job failed";
- array parents do not run; they follow their children and end FAILED when any child failed;
- retryStrategy.attempts and evaluateOnExit (first matching rule wins, no match = retry); a job killed for
  exceeding attemptDurationSeconds is not retried;
- every attempt recorded (exit code, reason, log stream, times); output in /aws/batch/job;
- placement: an attempt runs in the first compute environment of its queue, in order, with free vCPUs for it,
  and at most LOCALCLOUD_BATCH_CONCURRENCY at once (SlotPool); among waiters that fit, the one whose job queue
  has the highest priority goes first, oldest first within a priority; a job no environment can hold stays
  RUNNABLE with AWS's blocked statusReason (MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE, or
  ACTION_REQUIRED when every environment is INVALID);
- jobStateTimeLimitActions of the job queue (patches/batch.py stores them): blocked jobs whose reason an entry
  names are cancelled after its maxTimeSeconds (faults' job_state_time_limit_s in tests) and end FAILED
  "Canceled by JobStateTimeLimit action due to reason: <code> (RUNNABLE for <s> s)"; an array parent whose
  children were cancelled so says it after "Array Child Job failed: N of M";
- Fargate Spot interruptions, when a test switches that fault on (localcloud/faults.py): an attempt placed in
  a Spot environment gets SIGTERM, then SIGKILL, and ends "Your Spot Task was interrupted." (never the last
  attempt).

Two runtimes (localcloud/containers.py, chosen once per cloud): in process mode an attempt is a host process
(batch_env.command_and_env); in container mode it is `podman run` of the job definition's image
(batch_env.container_spec) with the job's MEMORY/VCPU as cgroup limits, and stopping it (terminate, timeout,
Spot) stops the container itself. A container killed for memory ends with AWS's OutOfMemoryError reason and
exit code 137; an image no registry has fails the attempt with CannotPullContainerError.
"""

from __future__ import annotations

import collections
import contextlib
import dataclasses
import fnmatch
import itertools
import logging
import os
import shutil
import signal
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localcloud import batch_env, batch_events, config, containers, ecs_metadata, faults, procs, runtime

log = logging.getLogger("localcloud.batch")

POLL_S = 0.25
LOG_FLUSH_S = 2.0
TIMEOUT_REASON = "Job attempt duration exceeded timeout"
EXITED_REASON = "Essential container in task exited"
DEPENDENCY_REASON = "Dependent Job failed"
CHILD_FAILED_REASON = "Array Child Job failed"
SPOT_TYPES = ("FARGATE_SPOT", "SPOT")
START_FAILED_REASON = "Task failed to start"
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"
PODMAN_START_ERRORS = (125, 126, 127)  # podman itself failed, the command cannot be run, or was not found


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where an attempt runs: the compute environment it was placed in, and the vCPUs it holds there."""

    environment: Any
    vcpus: float


@dataclasses.dataclass(eq=False)
class _Ticket:
    job: Any
    vcpus: float
    order: int  # FIFO position among every waiter
    wake: threading.Condition  # on the pool's lock: a placement wakes this waiter alone
    placement: Placement | None = None
    gone: bool = False  # its job was stopped while it waited: no longer in the pool's queues
    blocked: str | None = None  # the statusReason it carries while blocked (SlotPool._flag)


def job_vcpus(job) -> float:
    """The job's VCPU (resourceRequirements or the legacy vcpus, submit-time overrides on top); 1 if it names
    none or nothing readable."""
    try:
        return max(0.0, float(batch_env.resources(job).get("VCPU") or 1))
    except (TypeError, ValueError):
        return 1.0


def max_vcpus(environment) -> float | None:
    """A compute environment's maxvCpus; None (no ceiling) for one without compute resources (UNMANAGED)."""
    resources = getattr(environment, "compute_resources", None) or {}
    value = resources.get("maxvCpus")
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


# ---- blocked jobs (RUNNABLE, and no compute environment can ever hold them) --------------------------------

# AWS's statusReason of a RUNNABLE job blocked at the head of its queue (job_stuck_in_runnable.html): the code
# before " - " is what a jobStateTimeLimitActions entry names as its `reason`.
MAX_RESOURCE_CODE = "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"
MAX_RESOURCE_REASON = (
    f"{MAX_RESOURCE_CODE} - CE(s) associated with the job queue cannot meet the CPU requirement of the job."
)
INVALID_CODE = "ACTION_REQUIRED"
INVALID_REASON = f"{INVALID_CODE} - CE(s) associated with the job queue are invalid."
ACTIONABLE_CODES = (MAX_RESOURCE_CODE,)  # AWS offers no action for invalid compute environments
TIME_LIMIT_REASON = "Canceled by JobStateTimeLimit action due to reason: "


def blocked_reason(queue, vcpus: float) -> str | None:
    """Why a job of `vcpus` can never run in `queue` (AWS's statusReason), or None: every compute environment
    of the queue INVALID, or every one's maxvCpus below the job's VCPU. A queue without environments is not
    blocked, and the state (ENABLED/DISABLED) of a queue or environment plays no part: on AWS a DISABLED one
    is no blocked reason (the job waits)."""
    environments = list(getattr(queue, "environments", None) or [])
    if not environments:
        return None
    if all(_invalid(env) for env in environments):
        return INVALID_REASON
    ceilings = [max_vcpus(env) for env in environments]
    if all(ceiling is not None and ceiling + 1e-9 < vcpus for ceiling in ceilings):
        return MAX_RESOURCE_REASON
    return None


def reason_code(reason: str) -> str:
    """The code of a blocked reason (before " - "), what a jobStateTimeLimitActions entry names."""
    return reason.split(" - ", 1)[0]


def _invalid(environment) -> bool:
    return str(getattr(environment, "status", "") or "").upper() == "INVALID"


def queue_priority(queue) -> int:
    """A job queue's priority as an integer (moto keeps what the request sent, maybe a string); 0 if none."""
    try:
        return int(getattr(queue, "priority", 0) or 0)
    except (TypeError, ValueError):
        return 0


def time_limit_seconds(queue, code: str) -> float | None:
    """maxTimeSeconds of the queue's jobStateTimeLimitActions entry for RUNNABLE jobs blocked for `code`
    (the first that matches), None if it has none. Read at each use: UpdateJobQueue may replace the list."""
    for entry in getattr(queue, "job_state_time_limit_actions", None) or []:
        if (
            str(entry.get("state", "")).upper() == "RUNNABLE"
            and entry.get("reason") == code
            and str(entry.get("action", "")).upper() in ("CANCEL", "TERMINATE")
        ):
            try:
                return float(entry["maxTimeSeconds"])
            except (KeyError, TypeError, ValueError):
                return None
    return None


def scope_name(job) -> str:
    """The name faults' `scope` is matched against: an array child's parent's name, else the job's."""
    return str(getattr(getattr(job, "_lc_parent", None) or job, "job_name", "") or "")


def seconds_text(seconds: float) -> str:
    """600 -> "600", 1.004 -> "1", 0.5 -> "0.5": whole seconds from 10 s on, tenths below."""
    return f"{round(seconds) if seconds >= 10 else round(seconds, 1):g}"


@dataclasses.dataclass
class _Block:
    """A (queue, VCPU) whose waiters are blocked: AWS's reason, and since when (monotonic)."""

    reason: str
    since: float


class SlotPool:
    """Where and when Batch jobs and array children run, as AWS Batch places them: on the first compute
    environment of the job's queue, in the queue's order, whose free vCPUs (maxvCpus minus the VCPU of the
    jobs running there) hold the job's VCPU; and never more than `size` jobs at once
    (LOCALCLOUD_BATCH_CONCURRENCY, the host's cap, default its cores).

    Order: among the waiters that fit somewhere, the one whose job queue has the highest `priority` goes
    first ("job queues with a higher priority are evaluated first"), the oldest first among equal priorities
    (FIFO). The priority is read at each placement, so UpdateJobQueue applies at the next one. Waiters queue
    per (job queue, VCPU), so a job no environment of its queue can ever hold stays RUNNABLE, as on AWS,
    without holding up jobs that fit. Each waiter sleeps on a condition of its own (no polling; a release
    wakes only the waiter it places, so 10,000 queued children cost no CPU); `wake_all` lets terminated jobs
    stop waiting. Capacity is read at each placement (a job's arrival or release, or `reconsider` after
    UpdateComputeEnvironment / UpdateJobQueue).

    Blocked jobs: a waiter that no compute environment of its queue can ever hold (`blocked_reason`: every
    maxvCpus below its VCPU, or every environment INVALID) carries AWS's statusReason while it waits (the
    job's statusReason in DescribeJobs and ListJobs), cleared when it is placed. Blockedness is per (queue,
    VCPU), found at a waiter's arrival and re-read by `reconsider`. When the queue has a
    jobStateTimeLimitActions entry (state RUNNABLE) naming that reason's code, the queue's blocked jobs are
    cancelled once its head (the oldest blocked waiter of the queue for that reason) has been blocked for
    maxTimeSeconds (faults' `job_state_time_limit_s` instead, for jobs in its scope): every blocked waiter of
    the queue at once, not one head every maxTimeSeconds, so an array whose children are all blocked ends in
    one step. One timer thread per pool sleeps until the earliest such deadline (no polling; it also wakes
    when blockedness, a queue's actions or the fault setting change).
    """

    def __init__(self, size: int):
        self.size = size
        self._lock = threading.Lock()
        self._running = 0
        self._held: dict[str, float] = {}  # compute environment ARN -> VCPU of the jobs running there
        self._waiting: dict[tuple[str, float], collections.deque[_Ticket]] = {}
        self._order = itertools.count()
        self._blocked: dict[tuple[str, float], _Block] = {}  # keys of _waiting whose waiters are blocked
        self._timer = threading.Condition(self._lock)  # the time-limit thread sleeps on it
        self._timer_thread: threading.Thread | None = None
        self._next_wake: float | None = None  # when the timer wakes (monotonic); -inf: a recompute is due

    @property
    def running(self) -> int:
        with self._lock:
            return self._running

    @property
    def waiting(self) -> int:
        """Jobs waiting to be placed (stopped ones leave at once)."""
        with self._lock:
            return sum(1 for queue in self._waiting.values() for t in queue if not t.job.stop)

    def held(self, environment_arn: str) -> float:
        """vCPUs the jobs running in this compute environment hold."""
        with self._lock:
            return self._held.get(environment_arn, 0.0)

    def blocked(self) -> dict[tuple[str, float], str]:
        """(job queue ARN, VCPU) -> the statusReason of its blocked waiters."""
        with self._lock:
            return {key: block.reason for key, block in self._blocked.items()}

    def acquire(self, job) -> Placement | None:
        """Waits until the job is placed (its Placement) or stopped (None): terminated, or cancelled by its
        queue's jobStateTimeLimitActions."""
        vcpus = job_vcpus(job)
        key = (str(getattr(job.job_queue, "arn", "") or id(job.job_queue)), vcpus)
        with self._lock:
            ticket = _Ticket(job, vcpus, next(self._order), threading.Condition(self._lock))
            self._waiting.setdefault(key, collections.deque()).append(ticket)
            self._dispatch()
            if ticket.placement is None and not job.stop:
                self._arrived(key, ticket)
            while ticket.placement is None and not job.stop:
                ticket.wake.wait()
            placement = ticket.placement
            if job.stop:
                if placement is not None:  # placed and stopped at once: hand the capacity back
                    self._give_back(placement)
                else:
                    self._forget(key, ticket)
                return None
            return placement

    def release(self, placement: Placement) -> None:
        with self._lock:
            self._give_back(placement)

    def reconsider(self) -> None:
        """Re-read what compute environments and queues allow (UpdateComputeEnvironment, UpdateJobQueue):
        which waiters are blocked, the queues' time-limit actions, and place what now fits."""
        with self._lock:
            self._reevaluate()
            if self._blocked:
                self._kick_timer()
            self._dispatch()

    def time_limits_changed(self) -> None:
        """How long a jobStateTimeLimitActions entry waits may have changed (job_state_time_limit_s)."""
        with self._lock:
            if self._blocked:
                self._kick_timer()

    def wake_all(self) -> None:
        """Wake every waiter whose job was stopped (terminate calls it), so it stops waiting."""
        with self._lock:
            self._sweep(list(self._waiting))

    # ---- under the lock -------------------------------------------------------------------------------

    def _sweep(self, keys) -> None:
        """Take stopped waiters out of these keys' queues and wake them."""
        for key in keys:
            queue = self._waiting.get(key)
            if queue is None:
                continue
            stopped = [t for t in queue if t.job.stop]
            for ticket in stopped:
                queue.remove(ticket)
                ticket.gone = True
                ticket.wake.notify()
            if not queue:
                self._drop(key)

    def _drop(self, key: tuple[str, float]) -> None:
        """A (queue, VCPU) has no waiters left: it is no longer blocked either."""
        del self._waiting[key]
        self._blocked.pop(key, None)

    def _give_back(self, placement: Placement) -> None:
        arn = placement.environment.arn
        self._held[arn] = max(0.0, self._held.get(arn, 0.0) - placement.vcpus)
        self._running -= 1
        self._dispatch()

    def _forget(self, key: tuple[str, float], ticket: _Ticket) -> None:
        if ticket.gone:
            return
        queue = self._waiting.get(key)
        if queue is not None:
            with contextlib.suppress(ValueError):
                queue.remove(ticket)
            if not queue:
                self._drop(key)
        ticket.gone = True

    def _fit(self, ticket: _Ticket):
        """The first compute environment of the ticket's queue, in order, with room for its vCPUs (an INVALID
        one holds nothing; moto never reports one)."""
        for environment in getattr(ticket.job.job_queue, "environments", None) or []:
            if _invalid(environment):
                continue
            ceiling = max_vcpus(environment)
            if ceiling is None or self._held.get(environment.arn, 0.0) + ticket.vcpus <= ceiling + 1e-9:
                return environment
        return None

    def _dispatch(self) -> None:
        """Place waiters, highest queue priority first, then oldest first, among those that fit, while the
        host cap allows."""
        while self._running < self.size:
            chosen = None  # (rank, environment, queue); rank (-priority, order): the smallest goes first
            for key, queue in list(self._waiting.items()):
                while queue and queue[0].job.stop:  # stopped meanwhile: its waiter returns None
                    stopped = queue.popleft()
                    stopped.gone = True
                    stopped.wake.notify()
                if not queue:
                    self._drop(key)
                    continue
                head = queue[0]
                rank = (-queue_priority(head.job.job_queue), head.order)
                if chosen is not None and rank > chosen[0]:
                    continue
                environment = self._fit(head)
                if environment is not None:
                    chosen = (rank, environment, queue)
            if chosen is None:
                return
            _, environment, queue = chosen
            ticket = queue.popleft()
            ticket.gone = True
            ticket.placement = Placement(environment, ticket.vcpus)
            self._held[environment.arn] = self._held.get(environment.arn, 0.0) + ticket.vcpus
            self._running += 1
            self._unflag(ticket)
            ticket.wake.notify()

    # ---- blocked waiters and jobStateTimeLimitActions (under the lock) -------------------------------------

    def _flag(self, ticket: _Ticket, reason: str) -> None:
        """The waiter is blocked: AWS's reason becomes its job's statusReason while it waits."""
        ticket.blocked = reason
        if not ticket.job.stop:
            ticket.job.job_stopped_reason = reason

    def _unflag(self, ticket: _Ticket) -> None:
        """No longer blocked (placed, or an update made room): clear the reason we set (not a terminate's)."""
        job = ticket.job
        if (
            ticket.blocked is not None
            and not job.stop
            and getattr(job, "job_stopped_reason", None) == ticket.blocked
        ):
            job.job_stopped_reason = None
        ticket.blocked = None

    def _arrived(self, key: tuple[str, float], ticket: _Ticket) -> None:
        """A waiter that was not placed at once: blocked if its (queue, VCPU) is; the blocked clock of a
        (queue, VCPU) starts with its first blocked waiter. O(1) for the 10,000th child of a blocked array."""
        block = self._blocked.get(key)
        if block is None:
            reason = blocked_reason(ticket.job.job_queue, ticket.vcpus)
            if reason is None:
                return
            block = self._blocked[key] = _Block(reason, time.monotonic())
            self._flag(ticket, reason)
            self._kick_timer()
            return
        self._flag(ticket, block.reason)
        deadline = self._deadline(ticket, key, block.reason)  # sooner than the timer's wake: another name
        if deadline is not None and (self._next_wake is None or deadline < self._next_wake):
            self._kick_timer()

    def _reevaluate(self) -> None:
        """Which (queue, VCPU) are blocked now, after an environment or queue changed."""
        now = time.monotonic()
        for key, queue in self._waiting.items():
            waiters = [t for t in queue if not t.job.stop]
            if not waiters:
                continue
            reason = blocked_reason(waiters[0].job.job_queue, key[1])
            block = self._blocked.get(key)
            if reason is None:
                if block is not None:
                    del self._blocked[key]
                    for ticket in waiters:
                        self._unflag(ticket)
            elif block is None or block.reason != reason:
                self._blocked[key] = _Block(reason, now)
                for ticket in waiters:
                    self._flag(ticket, reason)

    def _kick_timer(self) -> None:
        """Have the time-limit thread (started on first use) recompute its deadlines now."""
        if self._timer_thread is None:
            self._timer_thread = threading.Thread(
                target=self._time_limits, name="localcloud-batch-time-limits", daemon=True
            )
            self._timer_thread.start()
        self._next_wake = float("-inf")  # a recompute is pending: arrivals need not kick again
        self._timer.notify()

    def _head_since(self, queue_arn: str, reason: str) -> float | None:
        """Since when the queue's head has been blocked for `reason`: its oldest blocked (queue, VCPU)."""
        found = [b.since for (arn, _), b in self._blocked.items() if arn == queue_arn and b.reason == reason]
        return min(found) if found else None

    def _limit(self, job, code: str, cache: dict[str, float | None] | None = None) -> float | None:
        """Seconds the queue's action for `code` waits for this job: faults' job_state_time_limit_s in scope,
        else maxTimeSeconds; None when the queue has no such action."""
        max_time = time_limit_seconds(job.job_queue, code)
        if max_time is None:
            return None
        name = scope_name(job)
        if cache is not None and name in cache:
            override = cache[name]
        else:
            override = faults.job_state_time_limit(name)
            if cache is not None:
                cache[name] = override
        return max_time if override is None else override

    def _deadline(self, ticket: _Ticket, key: tuple[str, float], reason: str) -> float | None:
        code = reason_code(reason)
        if code not in ACTIONABLE_CODES:
            return None
        limit = self._limit(ticket.job, code)
        since = self._head_since(key[0], reason)
        return None if limit is None or since is None else since + limit

    def _time_limits(self) -> None:
        """The time-limit thread: apply due actions, sleep until the next deadline or a kick."""
        with self._lock:
            while True:
                now = time.monotonic()
                try:
                    self._next_wake = self._apply_time_limits(now)
                except Exception:  # never lose the thread; try again a little later
                    log.exception("jobStateTimeLimitActions: could not apply")
                    self._next_wake = now + 5.0
                self._timer.wait(None if self._next_wake is None else max(0.0, self._next_wake - now))

    def _apply_time_limits(self, now: float) -> float | None:
        """Cancel the blocked waiters whose queue's action is due; when (monotonic) the next one is due. An
        arrival compares its own deadline with that, so the 10,000th child does not wake the thread."""
        groups: dict[tuple[str, str], list[tuple[str, float]]] = {}
        for key, block in self._blocked.items():
            if reason_code(block.reason) in ACTIONABLE_CODES:
                groups.setdefault((key[0], block.reason), []).append(key)
        next_due: float | None = None
        for (queue_arn, reason), keys in groups.items():
            code = reason_code(reason)
            since = self._head_since(queue_arn, reason)
            cache: dict[str, float | None] = {}
            due: list[tuple[str, float]] = []
            for key in keys:
                for ticket in self._waiting.get(key, ()):
                    if ticket.job.stop:
                        continue
                    limit = self._limit(ticket.job, code, cache)
                    if limit is None:
                        break  # the queue has no action for this reason: none of its waiters is due
                    if since + limit <= now:
                        self._cancel(ticket, code, now - since)
                        due.append(key)
                    elif next_due is None or since + limit < next_due:
                        next_due = since + limit
            if due:
                log.info(
                    "queue %s: blocked jobs cancelled by its JobStateTimeLimit action (%s)", queue_arn, code
                )
                self._sweep(set(due))
        return next_due

    def _cancel(self, ticket: _Ticket, code: str, waited: float) -> None:
        """Cancel a blocked waiter as the queue's action does: its job ends FAILED and never runs."""
        job = ticket.job
        seconds = seconds_text(waited)
        job._lc_time_limit = (code, seconds)  # the array parent's statusReason names it (run_array_parent)
        ticket.blocked = None
        job.job_stopped_reason = f"{TIME_LIMIT_REASON}{code} (RUNNABLE for {seconds} s)"
        job.stop = True  # as moto's terminate: the waiter returns None, run_job ends the job FAILED


_slots: SlotPool | None = None
_slots_lock = threading.Lock()


def slots() -> SlotPool:
    global _slots
    with _slots_lock:
        if _slots is None:
            _slots = SlotPool(config.batch_concurrency())
        return _slots


def _time_limits_changed() -> None:
    """faults' job_state_time_limit_s was set or cleared: blocked jobs' deadlines move at once."""
    pool = _slots
    if pool is not None:
        pool.time_limits_changed()


faults.on_change(_time_limits_changed)


def _millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)


# ---- dependencies ----------------------------------------------------------------------------------------


def dependencies(job) -> list:
    """The jobs this job (or array child) must see SUCCEEDED before it may run."""
    parent = getattr(job, "_lc_parent", None)
    entries = (parent.depends_on if parent is not None else job.depends_on) or []
    index = job.array_properties.get("index") if parent is not None else None
    found = []
    for entry in entries:
        kind = (entry.get("type") or "").upper()
        if kind == "SEQUENTIAL":
            if index:
                found.append(job.all_jobs.get(f"{parent.job_id}:{index - 1}"))
        elif kind == "N_TO_N":
            if index is not None:
                found.append(job.all_jobs.get(f"{entry.get('jobId')}:{index}"))
        elif entry.get("jobId"):
            found.append(job.all_jobs.get(entry["jobId"]))
    return [dep for dep in found if dep is not None]


def wait_for_dependencies(job) -> bool:
    """True when every dependency succeeded; False (fail the job) when one failed or the job was stopped."""
    pending = dependencies(job)
    while pending:
        if job.stop:
            return False
        for dep in list(pending):
            if dep.status == "SUCCEEDED":
                pending.remove(dep)
            elif dep.status == "FAILED":
                return False
        if pending:
            time.sleep(POLL_S)
    return True


# ---- retries ---------------------------------------------------------------------------------------------


def retry_strategy(job) -> dict:
    return getattr(job, "_lc_retry_strategy", None) or job.job_definition.retry_strategy or {}


def decide(strategy: dict, exit_code: int | None, reason: str, status_reason: str) -> str:
    """evaluateOnExit as AWS documents it: the first rule whose patterns all match decides; none = RETRY."""
    subjects = {
        "onExitCode": "" if exit_code is None else str(exit_code),
        "onReason": reason or "",
        "onStatusReason": status_reason or "",
    }
    for rule in strategy.get("evaluateOnExit") or []:
        patterns = {key: rule[key] for key in subjects if rule.get(key) is not None}
        if patterns and all(fnmatch.fnmatchcase(subjects[k], p) for k, p in patterns.items()):
            return str(rule.get("action", "RETRY")).upper()
    return "RETRY"


# ---- one attempt -----------------------------------------------------------------------------------------


class Attempt:
    def __init__(self, job, number: int, environment=None):
        self.job = job
        self.number = number  # 1-based, as AWS_BATCH_JOB_ATTEMPT
        self.environment = environment  # the compute environment the scheduler placed it in (SlotPool)
        self.task_id = uuid.uuid4().hex
        self.log_group, self.log_stream = batch_env.log_destination(job, self.task_id)
        self.exit_code: int | None = None
        self.reason = ""  # the container's reason (CannotStartContainerError ...)
        self.status_reason = ""  # the job's statusReason for this attempt
        self.timed_out = False
        self.reclaimed = False  # Fargate Spot took the capacity back (an injected fault)
        self.started = datetime.now()
        self.stopped: datetime | None = None
        self.lines: list[dict] = []
        self._shipped = 0  # lines already in CloudWatch Logs

    def record(self) -> dict:
        backend = self.job.backend
        container = {
            "containerInstanceArn": f"arn:aws:ecs:{backend.region_name}:{backend.account_id}:"
            "container-instance/localcloud/localhost",
            "taskArn": f"arn:aws:ecs:{backend.region_name}:{backend.account_id}:"
            f"task/localcloud/{self.task_id}",
            "logStreamName": self.log_stream,
            "networkInterfaces": [],
        }
        if self.exit_code is not None:
            container["exitCode"] = self.exit_code
        if self.reason:
            container["reason"] = self.reason
        return {
            "container": container,
            "startedAt": _millis(self.started),
            "stoppedAt": _millis(self.stopped or datetime.now()),
            "statusReason": self.status_reason,
        }

    def _read(self, stream) -> None:
        for raw in iter(stream.readline, b""):
            message = raw.decode("utf-8", errors="replace").rstrip("\n")
            self.lines.append({"timestamp": int(time.time() * 1000), "message": message})
        stream.close()

    def run(self) -> None:
        if containers.mode() == "container":
            self._run_container()
            return
        job = self.job
        try:
            argv, env = batch_env.command_and_env(job, self.number)
        except runtime.RoleNotAssumable as err:  # as on AWS, the task never starts; the reason names the role
            self.reason = f"CannotStartContainerError: {err}"
            self.status_reason = f"Task failed to start: {err}"
            self.stopped = datetime.now()
            return
        workdir = config.state_dir() / "batch" / "work" / self.task_id
        workdir.mkdir(parents=True, exist_ok=True)
        try:
            self._run_process(argv, env, workdir)
        finally:
            self.stopped = datetime.now()
            shutil.rmtree(workdir, ignore_errors=True)
            self._ship_logs()

    def _run_process(self, argv: list[str], env: dict[str, str], workdir: Path) -> None:
        job = self.job
        if not argv:
            self.reason = "CannotStartContainerError: the job has no command"
            self.status_reason = "Task failed to start"
            return
        try:
            proc = procs.start(
                argv, env, workdir, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
            )
        except OSError as err:  # missing executable, not executable, bad cwd
            self.reason = f"CannotStartContainerError: {err}"
            self.status_reason = "Task failed to start"
            self.lines.append({"timestamp": int(time.time() * 1000), "message": self.reason})
            return
        reader = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        reader.start()
        limit = batch_env.attempt_duration(job)
        deadline = time.monotonic() + limit if limit else None
        next_flush = time.monotonic() + LOG_FLUSH_S
        reclaim_at = self._spot_reclaim_at()
        try:
            while proc.poll() is None:
                if time.monotonic() >= next_flush:  # long jobs: output shows up while they run
                    self._ship_logs()
                    next_flush = time.monotonic() + LOG_FLUSH_S
                if job.stop:
                    self.status_reason = job.job_stopped_reason or "Job terminated"
                    break
                if deadline is not None and time.monotonic() > deadline:
                    self.timed_out = True
                    self.status_reason = TIMEOUT_REASON
                    break
                if reclaim_at is not None and time.monotonic() >= reclaim_at:
                    if faults.active():  # not switched off meanwhile
                        self._reclaim(proc)
                        reclaim_at = None
                        break
                    reclaim_at = None
                try:
                    proc.wait(timeout=POLL_S)
                except subprocess.TimeoutExpired:
                    continue
        finally:
            procs.kill_tree(proc)  # the timeout/stop case, and grandchildren left behind by a finished job
            proc.wait()
            procs.forget(proc)
            reader.join(timeout=5)
        if reclaim_at is not None:
            faults.record_missed()  # the attempt ended before its reclaim was due
        code = proc.returncode
        self.exit_code = 128 - code if code < 0 else code  # killed by signal N -> 128+N, as Docker reports
        if not self.status_reason:
            self.status_reason = EXITED_REASON if self.exit_code else ""

    # ---- container mode ----------------------------------------------------------------------------------

    @property
    def container(self) -> str:
        return containers.container_name(self.task_id)

    @property
    def cgroup(self) -> str:
        return containers.cgroup_parent(os.environ.get(config.BOOT_ID_ENV, ""), self.task_id)

    def _run_container(self) -> None:
        job = self.job
        try:
            try:
                spec = batch_env.container_spec(job, self.number)
            except runtime.RoleNotAssumable as err:  # as in process mode: the task never starts
                self.reason = f"CannotStartContainerError: {err}"
                self.status_reason = f"Task failed to start: {err}"
                return
            pulled_from = datetime.now(UTC)
            try:
                image = containers.resolve_image(spec.image)
            except containers.CannotPullContainerError as err:
                self._failed_to_start(str(err))
                return
            except Exception as err:  # building the base image failed, podman broke: the task cannot start
                log.exception("job %s: no image for %s", job.job_id, spec.image)
                self._failed_to_start(f"CannotPullContainerError: {spec.image}: {err}")
                return
            if job.stop:  # terminated while its image was pulled: nothing started
                self.status_reason = job.job_stopped_reason or "Job terminated"
                return
            spec.env[ecs_metadata.ENV] = ecs_metadata.register(self, spec, image, pulled_from)
            try:
                self._podman_run(spec, image)
            finally:
                ecs_metadata.forget(self.task_id)
        finally:
            self.stopped = datetime.now()
            self._ship_logs()

    def _failed_to_start(self, reason: str) -> None:
        self.reason = reason
        self.status_reason = START_FAILED_REASON
        self.lines.append({"timestamp": int(time.time() * 1000), "message": reason})

    def _podman_argv(self, spec: batch_env.ContainerSpec, image: str) -> tuple[list[str], dict[str, str]]:
        return podman_run_argv(spec, image, name=self.container, job_id=self.job.job_id, cgroup=self.cgroup)

    def _podman_run(self, spec: batch_env.ContainerSpec, image: str) -> None:
        argv, env = self._podman_argv(spec, image)
        try:
            proc = procs.start(
                argv,
                env,
                config.state_dir(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        except OSError as err:  # podman vanished since the cloud started
            self._failed_to_start(f"CannotStartContainerError: {err}")
            return
        reader = threading.Thread(target=self._read, args=(proc.stdout,), daemon=True)
        reader.start()
        killed = False  # we stopped it: a 137 is ours, not the kernel's OOM killer
        try:
            reclaim_at, killed = self._supervise(proc, self._reclaim_container)
        finally:
            if proc.poll() is None:
                killed = True
                self._stop_container(proc)
            proc.wait()
            procs.forget(proc)
            reader.join(timeout=5)
        if reclaim_at is not None:
            faults.record_missed()
        try:
            self._container_result(proc.returncode, killed or self.reclaimed, spec)
        finally:
            containers.remove(self.container)
            containers.remove_cgroup(self.cgroup)

    def _supervise(self, proc: subprocess.Popen, reclaim) -> tuple[float | None, bool]:
        """Wait for the attempt, shipping logs; stop waiting on terminate, timeout or a Spot reclaim (done by
        `reclaim(proc)`). Returns (a reclaim that was due but not reached, whether it stopped early)."""
        job = self.job
        limit = batch_env.attempt_duration(job)
        deadline = time.monotonic() + limit if limit else None
        next_flush = time.monotonic() + LOG_FLUSH_S
        reclaim_at = self._spot_reclaim_at()
        while proc.poll() is None:
            if time.monotonic() >= next_flush:
                self._ship_logs()
                next_flush = time.monotonic() + LOG_FLUSH_S
            if job.stop:
                self.status_reason = job.job_stopped_reason or "Job terminated"
                return reclaim_at, True
            if deadline is not None and time.monotonic() > deadline:
                self.timed_out = True
                self.status_reason = TIMEOUT_REASON
                return reclaim_at, True
            if reclaim_at is not None and time.monotonic() >= reclaim_at:
                if faults.active():
                    reclaim(proc)
                    return None, True
                reclaim_at = None
            try:
                proc.wait(timeout=POLL_S)
            except subprocess.TimeoutExpired:
                continue
        return reclaim_at, False

    def _stop_container(self, proc: subprocess.Popen) -> None:
        """Kill the container itself (the podman client only follows it); a container still being created
        when the stop came is killed once it exists, or removed."""
        for _ in range(3):
            containers.kill(self.container, "KILL")
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=5)
                return
        containers.remove(self.container)
        procs.kill_tree(proc)

    def _reclaim_container(self, proc: subprocess.Popen) -> None:
        """A Fargate Spot interruption in container mode: SIGTERM to the container, SIGKILL after the stop
        timeout (then _podman_run's finally)."""
        self.reclaimed = True
        self.status_reason = faults.SPOT_REASON
        faults.record("spot_reclaim", self.job.job_id)
        log.info("job %s attempt %d: Spot task interrupted (injected)", self.job.job_id, self.number)
        containers.kill(self.container, "TERM")
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=faults.SPOT_STOP_TIMEOUT_S)

    def _container_result(self, client_code: int, killed: bool, spec: batch_env.ContainerSpec) -> None:
        """Exit code and reasons from the exited container: OOM (podman's State.OOMKilled, or on cgroup v1,
        where podman does not notice, a SIGKILL while the attempt's cgroup was at its memory limit), a
        container that never started (podman's own error), else the container's exit code."""
        state = {}
        if client_code != 0:
            found = containers.inspect(self.container)
            state = (found or {}).get("State") or {}
            never_ran = state.get("Status") in (None, "", "created", "configured")
            if client_code in PODMAN_START_ERRORS and never_ran:
                self._failed_to_start(f"CannotStartContainerError: {self._podman_error(client_code)}")
                return
        code = state.get("ExitCode", client_code) if state.get("Status") == "exited" else client_code
        code = 128 - code if code < 0 else code
        self.exit_code = code
        oom = bool(state.get("OOMKilled")) or (
            code == 137 and not killed and _hit_memory_limit(self.cgroup, spec.memory_mib)
        )
        if oom:
            self.reason = OOM_REASON
            self.status_reason = OOM_REASON
            self.exit_code = 137
        elif not self.status_reason:
            self.status_reason = EXITED_REASON if self.exit_code else ""

    def _podman_error(self, code: int) -> str:
        """podman's own complaint (its last "Error: ..." line in the output), else what its code means."""
        for line in reversed(self.lines[-20:]):
            message = line["message"]
            if message.startswith("Error: "):
                return message[len("Error: ") :]
        return f"podman run exited {code}"

    def _spot_reclaim_at(self) -> float | None:
        """When (monotonic) Fargate Spot reclaims this attempt, if the spot_reclaim fault picks it: only on a
        Spot compute environment, never on the job's last attempt (a retry must remain, as it would on AWS
        for all but the unluckiest task), at most max_repeats times per job or child."""
        if not faults.active():
            return None
        job = self.job
        attempts = max(1, int(retry_strategy(job).get("attempts") or 1))
        if self.number >= attempts or not _on_spot(self.environment):
            return None
        parent = getattr(job, "_lc_parent", None)
        name = (parent or job).job_name
        if not faults.draw("spot_reclaim", job.job_id, name):
            return None
        return time.monotonic() + faults.spot_delay()

    def _reclaim(self, proc: subprocess.Popen) -> None:
        """A Fargate Spot interruption: SIGTERM to the task's processes, SIGKILL after the stop timeout; the
        exit code is what the process died of (143 for SIGTERM, 137 if it had to be killed)."""
        self.reclaimed = True
        self.status_reason = faults.SPOT_REASON
        faults.record("spot_reclaim", self.job.job_id)
        log.info("job %s attempt %d: Spot task interrupted (injected)", self.job.job_id, self.number)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, signal.SIGTERM)  # the task's whole process group (procs.start: own session)
        with contextlib.suppress(subprocess.TimeoutExpired):  # then _run_process's finally kills the group
            proc.wait(timeout=faults.SPOT_STOP_TIMEOUT_S)

    @property
    def succeeded(self) -> bool:
        return self.exit_code == 0 and not self.timed_out and not self.job.stop and not self.reclaimed

    def _ship_logs(self) -> None:
        """Send the lines not sent yet (the stream always exists once an attempt ended)."""
        job = self.job
        end = len(self.lines)  # the reader thread may append meanwhile
        if end == self._shipped and self._shipped > 0:
            return
        try:
            logs = job._log_backend
            logs.ensure_log_group(self.log_group)
            logs.ensure_log_stream(self.log_group, self.log_stream)
            for start in range(self._shipped, end, 5000):
                logs.put_log_events(
                    self.log_group, self.log_stream, self.lines[start : min(start + 5000, end)]
                )
            self._shipped = end
        except Exception:
            log.exception("could not write the logs of job %s", job.job_id)


def _hit_memory_limit(cgroup: str, memory_mib: int | None) -> bool:
    """Whether the attempt's memory reached its limit: cgroup v2 counts OOM kills (memory.events, which is
    hierarchical); cgroup v1 only keeps the peak (memory.max_usage_in_bytes of the attempt's parent cgroup,
    which outlives the container)."""
    if not memory_mib:
        return False
    for directory in containers.cgroup_dirs(cgroup):
        with contextlib.suppress(OSError, ValueError):
            events = directory / "memory.events"
            if events.exists():
                for line in events.read_text().splitlines():
                    name, _, value = line.partition(" ")
                    if name == "oom_kill" and int(value) > 0:
                        return True
            peak = directory / "memory.max_usage_in_bytes"
            if peak.exists() and int(peak.read_text()) >= memory_mib * 1024 * 1024:
                return True
    return False


def _on_spot(environment) -> bool:
    """Whether an attempt placed in this compute environment runs on Spot capacity (FARGATE_SPOT or SPOT)."""
    resources = getattr(environment, "compute_resources", None)
    return str((resources or {}).get("type", "")).upper() in SPOT_TYPES


# ---- the job ---------------------------------------------------------------------------------------------


def _finish(job, success: bool, reason: str | None, exit_code: int | None = None) -> None:
    job.exit_code = exit_code
    if reason:
        job.job_stopped_reason = reason
    job.latest_attempt = None  # our attempts are complete records; keep moto from rewriting the last one
    job._mark_stopped(success=success)
    batch_events.set_status(job, "SUCCEEDED" if success else "FAILED")


def run_job(job) -> None:
    """The body of a (non-parent) job's thread."""
    if dependencies(job):  # as on AWS: PENDING only while waiting for other jobs, else straight to RUNNABLE
        batch_events.set_status(job, "PENDING")
    if not wait_for_dependencies(job):
        _finish(job, False, job.job_stopped_reason if job.stop else DEPENDENCY_REASON)
        return
    strategy = retry_strategy(job)
    attempts = max(1, int(strategy.get("attempts") or 1))
    number = 1
    while True:
        batch_events.set_status(job, "RUNNABLE")
        placement = slots().acquire(job)
        if placement is None:
            _finish(job, False, job.job_stopped_reason or "Job terminated")
            return
        try:
            if number == 1:
                job.job_started_at = datetime.now()
            job._lc_compute_environment = placement.environment  # AWS_BATCH_CE_NAME of this attempt
            batch_events.set_status(job, "STARTING")
            attempt = Attempt(job, number, placement.environment)
            job.log_stream_name = attempt.log_stream
            batch_events.set_status(job, "RUNNING")
            attempt.run()
        finally:
            slots().release(placement)
        job.attempts.append(attempt.record())
        if attempt.succeeded:
            _finish(job, True, None, attempt.exit_code)
            return
        action = decide(strategy, attempt.exit_code, attempt.reason, attempt.status_reason)
        final = job.stop or attempt.timed_out or number >= attempts or action == "EXIT"
        if final:
            _finish(job, False, attempt.status_reason or EXITED_REASON, attempt.exit_code)
            return
        log.info("job %s attempt %d failed (%s); retrying", job.job_id, number, attempt.status_reason)
        number += 1


def run_array_parent(job) -> None:
    """An array parent runs nothing: it follows its children and ends when all of them have ended."""
    batch_events.set_status(job, "PENDING")
    children = job._child_jobs or []
    order = ["SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"]
    interval = POLL_S if len(children) <= 100 else 1.0  # a status sweep over 10,000 children is not free
    while True:
        if job.stop:
            for child in children:
                child.terminate(job.job_stopped_reason or "Job terminated")
        states = [child.status for child in children]
        if all(s in ("SUCCEEDED", "FAILED") for s in states):
            failed = states.count("FAILED")
            job.job_started_at = job.job_started_at if job.job_started_at.year > 1970 else datetime.now()
            reason = f"{CHILD_FAILED_REASON}: {failed} of {len(states)}" if failed else None
            limited = next((c._lc_time_limit for c in children if getattr(c, "_lc_time_limit", None)), None)
            if reason and limited:  # what Step Functions' .sync shows the operator: why the children failed
                reason += f" ({TIME_LIMIT_REASON}{limited[0]} after {limited[1]} s in RUNNABLE)"
            if job.stop:  # TerminateJob of the parent: as on AWS, DescribeJobs then returns its reason
                reason = job.job_stopped_reason or "Job terminated"
            _finish(job, failed == 0 and not job.stop, reason)
            return
        furthest = max((order.index(s) if s in order else len(order) - 1) for s in states)
        if furthest >= order.index("RUNNING") and job.job_started_at.year == 1970:
            job.job_started_at = datetime.now()
        if furthest > order.index(job._lc_emitted if job._lc_emitted in order else "PENDING"):
            batch_events.set_status(job, order[furthest])
        time.sleep(interval)


def run(job) -> None:
    """Replacement for moto.batch.models.Job.run: never leaves a job unfinished."""
    try:
        if job._child_jobs:
            run_array_parent(job)
        else:
            run_job(job)
    except Exception as err:
        log.exception("job %s crashed in the local cloud", job.job_id)
        if not job.job_stopped:
            _finish(job, False, f"localcloud error: {err}")


def podman_run_argv(
    spec: batch_env.ContainerSpec, image: str, *, name: str, job_id: str, cgroup: str
) -> tuple[list[str], dict[str, str]]:
    """`podman run` of a job attempt's container, and the podman client's environment (also what the perf
    bench times). Variable values travel in the client's environment (`-e NAME` takes it from there), never on
    a command line `ps` shows; names podman itself needs (PATH, HOME, ...) go as NAME=VALUE."""
    boot = os.environ.get(config.BOOT_ID_ENV, "")
    args = [
        "--log-level=error",
        "run",
        "--name",
        name,
        "--label",
        f"{containers.BOOT_LABEL}={boot}",
        "--label",
        f"localcloud.job={job_id}",
        "--cgroup-parent",
        cgroup,
        "--network",
        "host",
        "--pull",
        "never",
        "--log-driver",
        "none",
        "--http-proxy=false",  # the host's proxy variables are not the job's
    ]
    if spec.memory_mib:
        args += ["--memory", f"{spec.memory_mib}m", "--memory-swap", f"{spec.memory_mib}m"]
    if spec.vcpus:
        args += ["--cpus", f"{spec.vcpus:g}"]
    if spec.user:
        args += ["--user", spec.user]
    if spec.read_only_root:
        args.append("--read-only")
    if spec.init:
        args.append("--init")
    if spec.shm_mib:
        args += ["--shm-size", f"{spec.shm_mib}m"]
    client_env = containers.podman_env()
    client_env.update({config.BOOT_ID_ENV: boot} if boot else {})  # `down` finds the client by it
    args += containers.environment_args(spec.env, client_env)
    for host, container_path, read_only in spec.mounts:
        args += ["-v", f"{host}:{container_path}" + (":ro" if read_only else "")]
    args.append(image)
    args += spec.command
    return containers.podman(*args), client_env
