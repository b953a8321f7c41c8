"""The ECS task metadata endpoint (v4) of container-mode Batch attempts, as Fargate gives every container.

On Fargate (platform 1.4.0+) each container gets `ECS_CONTAINER_METADATA_URI_V4`; GET on it answers the
container's document, `<uri>/task` the task's (https://docs.aws.amazon.com/AmazonECS/latest/developerguide/
task-metadata-endpoint-v4-fargate.html). Here the URI is `<this cloud's endpoint>/_localcloud/ecs/<task id>`
(host networking: the container reaches 127.0.0.1), set by batch_runner for each container attempt. A record
is kept in memory, keyed by the attempt's task id, from just before `podman run` until the attempt ends; any
other id (an ended attempt, a process-mode attempt, a made-up one) is answered 404.

What the documents hold, and where it comes from:
- `Image`: the job definition's image reference as written (`<repository uri>@sha256:...` after `nox -s
  deploy`), as ECS reports the image the task definition names.
- `ImageID`: the image's digest as podman resolved it. For a reference by digest (what the stack deploys) it
  is that digest: podman pulled the manifest by it and verified it, and it is the digest ECR's
  DescribeImages lists. For a tag of the local registry, the manifest digest the registry serves for it (what
  the pull resolved the tag to; podman's own `.Digest` of an image built here and pushed is its local
  manifest's, not the pushed one's); for an image the cloud built itself (the Debian-based base standing in
  for the official Python image) the digest podman gives it, else `sha256:<image id>`. Fargate reports the
  manifest digest here too (what a task's `imageDigest` says), which is why this is not the config digest
  Docker on EC2 calls the image id.
- `DockerId`: podman's container id (`podman inspect` of the attempt's container `lc-<task id>`), asked when
  the document is read; `DockerName` the container's name; `Name` is `default`, the name AWS Batch gives a
  job's container (the middle part of its log stream name).
- `Limits`: the container's `CPU` in CPU units (1024 per vCPU, as a container definition holds it) and
  `Memory` in MiB; the task's in vCPUs and MiB (the job's VCPU and MEMORY after overrides: podman's
  `--cpus`/`--memory`).
- `Labels`: ECS's `com.amazonaws.ecs.*` labels (cluster, container name, task ARN, task definition family
  and version); the cluster is `localcloud` and the task ARN is the attempt's `taskArn` in DescribeJobs.
  Family and revision are the job definition's (AWS Batch registers a task definition of its own).
- `CreatedAt`/`StartedAt`: when the attempt's container was started (RFC 3339, UTC); `LogDriver` `awslogs` and
  `LogOptions` the attempt's CloudWatch Logs group and stream (the server ships the output there).
- The task document: `Cluster`, `TaskARN`, `Family`, `Revision`, `DesiredStatus`/`KnownStatus` `RUNNING`,
  `Limits`, `Containers` (the one container), `LaunchType` (`FARGATE` on a Fargate or Fargate Spot compute
  environment, else `EC2`), `AvailabilityZone` (`us-east-1a`), `PullStartedAt`/`PullStoppedAt`.
Not provided: `/stats` and `/task/stats` (404), `Networks` (the container shares the host's network, not an
awsvpc interface), `ClockDrift`, `EphemeralStorageMetrics`, task tags.
"""

from __future__ import annotations

import json
import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

log = logging.getLogger("localcloud.ecs_metadata")

ENV = "ECS_CONTAINER_METADATA_URI_V4"
PATH_PREFIX = "/_localcloud/ecs/"
CONTAINER_NAME = "default"  # AWS Batch's name for a job's container
CLUSTER = "localcloud"  # as batch_runner's taskArn/containerInstanceArn say
AVAILABILITY_ZONE_SUFFIX = "a"
CPU_UNITS_PER_VCPU = 1024
MANIFEST_TYPES = (  # what a pull accepts (patches/ecr.py asks the registry the same way)
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
_TASK_ID = re.compile(r"^[0-9a-f]{32}$")


@dataclass
class TaskRecord:
    task_id: str
    container: str  # podman's name for the attempt's container
    image: str  # the job definition's reference
    local_image: str  # what podman runs (containers.resolve_image)
    region: str
    account: str
    family: str
    revision: int
    memory_mib: int | None
    vcpus: float | None
    log_group: str
    log_stream: str
    launch_type: str
    job_id: str = ""
    pull_started: datetime | None = None
    started: datetime = field(default_factory=lambda: datetime.now(UTC))
    docker_id: str | None = None  # podman's container id, once asked
    image_id: str | None = None

    @property
    def task_arn(self) -> str:
        return f"arn:aws:ecs:{self.region}:{self.account}:task/{CLUSTER}/{self.task_id}"

    @property
    def cluster_arn(self) -> str:
        return f"arn:aws:ecs:{self.region}:{self.account}:cluster/{CLUSTER}"

    @property
    def container_arn(self) -> str:
        return f"arn:aws:ecs:{self.region}:{self.account}:container/{CLUSTER}/{self.task_id}/{CONTAINER_NAME}"


_records: dict[str, TaskRecord] = {}
_lock = threading.Lock()


def uri(task_id: str, endpoint: str | None = None) -> str:
    """The container's ECS_CONTAINER_METADATA_URI_V4."""
    if endpoint is None:
        from localcloud import procs

        endpoint = procs.endpoint()
    return f"{endpoint.rstrip('/')}{PATH_PREFIX}{task_id}"


def _launch_type(job) -> str:
    environments = getattr(job.job_queue, "environments", None) or []
    resources = getattr(environments[0], "compute_resources", None) if environments else None
    kind = str((resources or {}).get("type", "")).upper()
    return "FARGATE" if kind.startswith("FARGATE") else "EC2"


def register(attempt, spec, local_image: str, pull_started: datetime | None = None) -> str:
    """Keep the record of a container attempt about to start (batch_runner.Attempt, batch_env.ContainerSpec,
    the local image podman runs); returns the URI for its environment. `forget` when the attempt ends."""
    job = attempt.job
    definition = job.job_definition
    record = TaskRecord(
        task_id=attempt.task_id,
        container=attempt.container,
        image=spec.image,
        local_image=local_image,
        region=job.backend.region_name,
        account=job.backend.account_id,
        family=definition.name,
        revision=int(definition.revision),
        memory_mib=spec.memory_mib,
        vcpus=spec.vcpus,
        log_group=attempt.log_group,
        log_stream=attempt.log_stream,
        launch_type=_launch_type(job),
        job_id=job.job_id,
        pull_started=pull_started,
    )
    with _lock:
        _records[record.task_id] = record
    return uri(record.task_id)


def forget(task_id: str) -> None:
    with _lock:
        _records.pop(task_id, None)


def record_of(task_id: str) -> TaskRecord | None:
    with _lock:
        return _records.get(task_id)


def running() -> list[str]:
    with _lock:
        return list(_records)


# ---- what podman knows (asked when a document is read, never on an attempt's start path) ----------------


def _digest_in(ref: str) -> str | None:
    _, at, digest = ref.partition("@")
    return digest if at and digest.startswith("sha256:") else None


def image_id(record: TaskRecord) -> str:
    """The digest of the image the container runs, as podman resolved it (see the module's docstring)."""
    if record.image_id:
        return record.image_id
    found = _digest_in(record.image) or _digest_in(record.local_image)
    if not found:
        found = _registry_digest(record.image) or _inspect_image_digest(record.local_image)
    record.image_id = found
    return found


def _loopback(address: str) -> str:
    host, _, port = address.partition(":")
    return f"{'127.0.0.1' if host in ('localhost', '127.0.0.1') else host}:{port}"


def _registry_digest(ref: str) -> str | None:
    """The manifest digest the local registry serves for a tag of it (what the pull resolved the tag to, and
    what DescribeImages lists); None for any other reference. Not podman's own `.Digest`: an image built
    here and pushed keeps the digest of its local manifest there, not the pushed one's."""
    from localcloud import containers, registry

    address = containers.registry_address()
    host, _, rest = ref.partition("/")
    name, _, tag = rest.rpartition(":")
    if not (address and rest and name and tag) or "/" in tag or _loopback(host) != _loopback(address):
        return None
    try:
        answer = registry.api(
            f"/v2/{name}/manifests/{tag}", method="HEAD", headers={"Accept": ", ".join(MANIFEST_TYPES)}
        )
    except Exception as err:  # the registry stopped: fall back on podman's view
        log.warning("no digest from the registry for %s: %s", ref, err)
        return None
    digest = answer.headers.get("docker-content-digest", "") if answer.status == 200 else ""
    return digest if digest.startswith("sha256:") else None


def _inspect_image_digest(image: str) -> str:
    from localcloud import containers

    done = containers.run_podman(
        "image", "inspect", "--format", "{{.Digest}} {{.Id}}", image, check=False, timeout=60
    )
    digest, _, ident = done.stdout.strip().rpartition(" ") if done.returncode == 0 else ("", "", "")
    if digest.startswith("sha256:"):
        return digest
    if ident:
        return f"sha256:{ident.removeprefix('sha256:')}"
    log.warning("no digest for image %s: %s", image, (done.stderr or "").strip()[-300:])
    return ""


def docker_id(record: TaskRecord) -> str:
    if record.docker_id:
        return record.docker_id
    from localcloud import containers

    found = containers.inspect(record.container) or {}
    if found.get("Id"):
        record.docker_id = str(found["Id"])
        return record.docker_id
    return f"{record.task_id}-{CONTAINER_NAME}"  # not created yet: Fargate's own <task id>-<n> shape


# ---- the documents ---------------------------------------------------------------------------------------


def _time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def container_document(record: TaskRecord) -> dict[str, Any]:
    limits: dict[str, Any] = {}
    if record.vcpus:
        limits["CPU"] = int(round(record.vcpus * CPU_UNITS_PER_VCPU))
    if record.memory_mib:
        limits["Memory"] = record.memory_mib
    return {
        "DockerId": docker_id(record),
        "Name": CONTAINER_NAME,
        "DockerName": record.container,
        "Image": record.image,
        "ImageID": image_id(record),
        "Labels": {
            "com.amazonaws.ecs.cluster": record.cluster_arn,
            "com.amazonaws.ecs.container-name": CONTAINER_NAME,
            "com.amazonaws.ecs.task-arn": record.task_arn,
            "com.amazonaws.ecs.task-definition-family": record.family,
            "com.amazonaws.ecs.task-definition-version": str(record.revision),
        },
        "DesiredStatus": "RUNNING",
        "KnownStatus": "RUNNING",
        "Limits": limits,
        "CreatedAt": _time(record.started),
        "StartedAt": _time(record.started),
        "Type": "NORMAL",
        "ContainerARN": record.container_arn,
        "LogDriver": "awslogs",
        "LogOptions": {
            "awslogs-create-group": "true",
            "awslogs-group": record.log_group,
            "awslogs-region": record.region,
            "awslogs-stream": record.log_stream,
        },
    }


def task_document(record: TaskRecord) -> dict[str, Any]:
    limits: dict[str, Any] = {}
    if record.vcpus:
        limits["CPU"] = record.vcpus
    if record.memory_mib:
        limits["Memory"] = record.memory_mib
    document = {
        "Cluster": record.cluster_arn,
        "TaskARN": record.task_arn,
        "Family": record.family,
        "Revision": str(record.revision),
        "DesiredStatus": "RUNNING",
        "KnownStatus": "RUNNING",
        "Limits": limits,
        "PullStartedAt": _time(record.pull_started or record.started),
        "PullStoppedAt": _time(record.started),
        "AvailabilityZone": f"{record.region}{AVAILABILITY_ZONE_SUFFIX}",
        "LaunchType": record.launch_type,
        "Containers": [container_document(record)],
    }
    return document


# ---- the route -------------------------------------------------------------------------------------------


def handles(path: str | None) -> bool:
    return bool(path) and path.startswith(PATH_PREFIX)


def _answer(start_response: Callable, status: str, doc: dict[str, Any]) -> list[bytes]:
    body = json.dumps(doc).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def route(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
    """GET <prefix><task id> (the container) and <prefix><task id>/task (the task); anything else 404."""
    path = environ.get("PATH_INFO") or ""
    rest = path[len(PATH_PREFIX) :].rstrip("/")
    task_id, _, sub = rest.partition("/")
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD"):
        return _answer(start_response, "405 Method Not Allowed", {"error": "only GET"})
    record = record_of(task_id) if _TASK_ID.match(task_id) else None
    if record is None or sub not in ("", "task"):
        return _answer(start_response, "404 Not Found", {"error": f"no running task {task_id!r} here"})
    document = task_document(record) if sub == "task" else container_document(record)
    return _answer(start_response, "200 OK", document)
