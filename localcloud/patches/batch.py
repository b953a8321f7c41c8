"""AWS Batch without Docker: jobs run as local subprocesses (localcloud.batch_runner).

Replaced in moto: Job.run (the docker runner), BatchBackend.submit_job (retryStrategy, array children that
know their parent, SUBMITTED events), BatchResponse.submitjob (passes retryStrategy on), and Job.describe
(exit code, reason, retry strategy, array index, like DescribeJobs on AWS). Job._get_container_property is
made side-effect free (moto appends AWS_BATCH_JOB_ID to the override list on every describe).

BatchBackend.delete_compute_environment refuses, as AWS does, to delete an environment that a job queue's
computeEnvironmentOrder still lists (ClientException "Cannot delete, found existing JobQueue relationship.");
moto deletes it and leaves the queue pointing at nothing, which hides failed replacements of an environment.
BatchBackend.update_compute_environment applies new computeResources limits (maxvCpus, ...) in place, as
AWS does; moto ignores them, so a raised maxvCpus never placed a waiting job.

Job queues' jobStateTimeLimitActions (moto ignores them, and Terraform's aws_batch_job_queue reads its
job_state_time_limit_action blocks back from DescribeJobQueues): CreateJobQueue and UpdateJobQueue
(BatchResponse.createjobqueue / updatejobqueue) validate and store them on the queue
(`job_state_time_limit_actions`; UpdateJobQueue with the field replaces the list, without it leaves it),
JobQueue.describe returns them as given; batch_runner.SlotPool applies them to blocked RUNNABLE jobs. After
UpdateJobQueue the scheduler re-reads the queue (priority, environments, actions) at once.
"""

from __future__ import annotations

import json
from typing import Any

from moto.batch import models as batch_models
from moto.batch import responses as batch_responses
from moto.batch.exceptions import ClientException

from localcloud import batch_events, batch_runner

Job = batch_models.Job
_original_describe = Job.describe


def submit_job(
    self,
    job_name: str,
    job_def_id: str,
    job_queue: str,
    array_properties: dict[str, int],
    depends_on: list[dict[str, str]] | None = None,
    container_overrides: dict[str, Any] | None = None,
    eks_properties_override: dict[str, Any] | None = None,
    timeout: dict[str, int] | None = None,
    parameters: dict[str, str] | None = None,
    tags: dict[str, str] | None = None,
    retry_strategy: dict[str, Any] | None = None,
) -> tuple[str, str, str]:
    if batch_models.JOB_NAME_REGEX.match(job_name) is None:
        raise ClientException("Job name should match valid pattern")
    job_def = self.get_job_definition(job_def_id)
    if job_def is None:
        raise ClientException(f"Job definition {job_def_id} does not exist")
    queue = self.get_job_queue(job_queue)
    if queue is None:
        raise ClientException(f"Job queue {job_queue} does not exist")
    array_properties = array_properties or {}
    size = array_properties.get("size")
    if size is not None and not 2 <= int(size) <= 10000:
        raise ClientException("Array job size must be between 2 and 10,000")

    common = {
        "backend": self,
        "log_backend": self.logs_backend,
        "container_overrides": container_overrides,
        "eks_properties_override": eks_properties_override,
        "depends_on": depends_on,
        "all_jobs": self._jobs,
        "timeout": timeout,
        "parameters": parameters,
    }
    job = Job(job_name, job_def, queue, array_properties=array_properties, tags=tags, **common)
    job._lc_retry_strategy = retry_strategy
    self._jobs[job.job_id] = job
    children = []
    if size is not None:
        for index in range(int(size)):
            child = Job(
                job_name,
                job_def,
                queue,
                array_properties={"statusSummary": {}, "index": index},
                provided_job_id=f"{job.job_id}:{index}",
                **common,
            )
            child._lc_retry_strategy = retry_strategy
            child._lc_parent = job
            self._jobs[child.job_id] = child
            children.append(child)
        job._child_jobs = children
    for each in [job, *children]:
        batch_events.set_status(each, "SUBMITTED")
    for each in [job, *children]:
        each.start()
    return job_name, job.job_id, job.arn


def submitjob(self) -> str:
    name, job_id, job_arn = self.batch_backend.submit_job(
        self._get_param("jobName"),
        self._get_param("jobDefinition"),
        self._get_param("jobQueue"),
        depends_on=self._get_param("dependsOn"),
        container_overrides=self._get_param("containerOverrides"),
        eks_properties_override=self._get_param("eksPropertiesOverride"),
        timeout=self._get_param("timeout"),
        array_properties=self._get_param("arrayProperties", {}),
        parameters=self._get_param("parameters"),
        tags=self._get_param("tags"),
        retry_strategy=self._get_param("retryStrategy"),
    )
    return json.dumps({"jobId": job_id, "jobName": name, "jobArn": job_arn})


def describe(self) -> dict[str, Any]:
    result = _original_describe(self)
    container = result.get("container")
    if isinstance(container, dict):
        if self.exit_code is not None:
            container["exitCode"] = self.exit_code
        last = self.attempts[-1]["container"] if self.attempts else {}
        if last.get("reason"):
            container["reason"] = last["reason"]
        if last.get("logStreamName"):
            container["logStreamName"] = last["logStreamName"]
    strategy = batch_runner.retry_strategy(self)
    if strategy:
        result["retryStrategy"] = strategy
    if getattr(self, "_lc_parent", None) is not None:
        result["arrayProperties"] = {"index": self.array_properties["index"]}
    if self.job_stopped_reason:
        result["statusReason"] = self.job_stopped_reason
    return result


def _get_container_property(self, p: str, default: Any) -> Any:
    if p == "environment":
        from localcloud.batch_env import merged_environment

        env = [{"name": k, "value": v} for k, v in merged_environment(self).items()]
        return [*env, {"name": "AWS_BATCH_JOB_ID", "value": self.job_id}]
    return _original_get_container_property(self, p, default)


_original_get_container_property = Job._get_container_property


_original_terminate = Job.terminate


def terminate(self, reason: str) -> None:
    """moto's terminate only sets a flag; also wake the job if it is waiting for a run slot."""
    _original_terminate(self, reason)
    batch_runner.slots().wake_all()


# AWS's message, full stop included (what DeleteComputeEnvironment answers with HTTP 400 today).
JOB_QUEUE_RELATIONSHIP = "Cannot delete, found existing JobQueue relationship."

_original_delete_compute_environment = batch_models.BatchBackend.delete_compute_environment


def delete_compute_environment(self, compute_environment_name: str) -> None:
    """Refuse while a job queue still lists the environment; deleting the queue, or pointing it at other
    environments with UpdateJobQueue, lets the delete through. An unknown name stays a no-op, as in moto."""
    compute_env = self.get_compute_environment(compute_environment_name) if compute_environment_name else None
    if compute_env is not None and any(
        env.arn == compute_env.arn for queue in self._job_queues.values() for env in queue.environments
    ):
        raise ClientException(JOB_QUEUE_RELATIONSHIP)
    _original_delete_compute_environment(self, compute_environment_name)


_original_update_compute_environment = batch_models.BatchBackend.update_compute_environment
UPDATABLE_RESOURCES = ("minvCpus", "maxvCpus", "desiredvCpus", "subnets", "securityGroupIds")


def update_compute_environment(self, compute_environment_name, state, compute_resources, service_role):
    """As AWS does (moto leaves a TODO): the new computeResources limits apply in place, and jobs waiting in
    RUNNABLE are placed at once where the new maxvCpus holds them (a job no longer blocked loses its
    blocked statusReason; one that became blocked gets it)."""
    result = _original_update_compute_environment(
        self, compute_environment_name, state, compute_resources, service_role
    )
    if compute_resources:
        compute_env = self.get_compute_environment(compute_environment_name)
        current = getattr(compute_env, "compute_resources", None)
        if isinstance(current, dict):
            current.update({k: v for k, v in compute_resources.items() if k in UPDATABLE_RESOURCES})
    batch_runner.slots().reconsider()  # what fits, and which waiting jobs are blocked, may have changed
    return result


# ---- job queues: jobStateTimeLimitActions, priority -------------------------------------------------------

TIME_LIMIT_ACTIONS = "jobStateTimeLimitActions"
TIME_LIMIT_STATES = ("RUNNABLE",)
TIME_LIMIT_ACTION_NAMES = ("CANCEL", "TERMINATE")  # CANCEL for ECS/Fargate/EKS queues; the API lists both
MIN_TIME_S, MAX_TIME_S = 600, 86400


def time_limit_actions(value: Any) -> list[dict[str, Any]]:
    """A request's jobStateTimeLimitActions, validated as AWS does (ClientException naming the field), as
    stored and described: each {reason, state, maxTimeSeconds, action}, in the order given."""
    if not isinstance(value, list):
        raise ClientException(f"{TIME_LIMIT_ACTIONS} must be a list")
    actions = []
    for index, entry in enumerate(value):
        where = f"{TIME_LIMIT_ACTIONS}[{index}]"
        if not isinstance(entry, dict):
            raise ClientException(f"{where} must be an object with reason, state, maxTimeSeconds and action")
        reason, state = entry.get("reason"), entry.get("state")
        seconds, action = entry.get("maxTimeSeconds"), entry.get("action")
        if not isinstance(reason, str) or not reason.strip():
            raise ClientException(f"{where}.reason must be a non-empty string")
        if state not in TIME_LIMIT_STATES:
            raise ClientException(
                f"{where}.state must be one of {' | '.join(TIME_LIMIT_STATES)}, not {state!r}"
            )
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int)
            or not MIN_TIME_S <= seconds <= MAX_TIME_S
        ):
            raise ClientException(
                f"{where}.maxTimeSeconds must be an integer from {MIN_TIME_S} to {MAX_TIME_S},"
                f" not {seconds!r}"
            )
        if action not in TIME_LIMIT_ACTION_NAMES:
            raise ClientException(
                f"{where}.action must be one of {' | '.join(TIME_LIMIT_ACTION_NAMES)}, not {action!r}"
            )
        actions.append({"reason": reason, "state": state, "maxTimeSeconds": seconds, "action": action})
    return actions


_original_createjobqueue = batch_responses.BatchResponse.createjobqueue
_original_updatejobqueue = batch_responses.BatchResponse.updatejobqueue
_original_queue_describe = batch_models.JobQueue.describe


def createjobqueue(self) -> str:
    """moto's CreateJobQueue, plus jobStateTimeLimitActions (validated before anything is created)."""
    requested = self._get_param(TIME_LIMIT_ACTIONS)
    actions = time_limit_actions(requested) if requested is not None else []
    answer = _original_createjobqueue(self)
    queue = self.batch_backend.get_job_queue(json.loads(answer)["jobQueueArn"])
    if queue is not None:
        queue.job_state_time_limit_actions = actions
    return answer


def updatejobqueue(self) -> str:
    """moto's UpdateJobQueue, plus jobStateTimeLimitActions (replaced when given, else left); the scheduler
    then re-reads the queue: a new priority, order of environments or action applies at once."""
    requested = self._get_param(TIME_LIMIT_ACTIONS)
    actions = time_limit_actions(requested) if requested is not None else None
    answer = _original_updatejobqueue(self)
    if actions is not None:
        queue = self.batch_backend.get_job_queue(json.loads(answer)["jobQueueArn"])
        if queue is not None:
            queue.job_state_time_limit_actions = actions
    batch_runner.slots().reconsider()
    return answer


def describe_job_queue(self) -> dict[str, Any]:
    result = _original_queue_describe(self)
    result[TIME_LIMIT_ACTIONS] = [dict(entry) for entry in getattr(self, "job_state_time_limit_actions", [])]
    return result


def apply() -> None:
    batch_responses.BatchResponse.createjobqueue = createjobqueue
    batch_responses.BatchResponse.updatejobqueue = updatejobqueue
    batch_models.JobQueue.describe = describe_job_queue
    batch_models.BatchBackend.delete_compute_environment = delete_compute_environment
    batch_models.BatchBackend.update_compute_environment = update_compute_environment
    Job.terminate = terminate
    Job.run = batch_runner.run
    Job.describe = describe
    Job._get_container_property = _get_container_property
    batch_models.BatchBackend.submit_job = submit_job
    batch_responses.BatchResponse.submitjob = submitjob
