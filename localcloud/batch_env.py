"""What a Batch job's process or container gets: its command (Ref:: parameters, overrides) and environment.

Process mode (command_and_env): environment = the host basics (PATH with the local cloud's Python first,
HOME, ...), AWS_ENDPOINT_URL pointing back at the local cloud with credentials of the job role
(localcloud/runtime.py), the job definition's environment with the submit-time overrides on top, and the
Batch variables. Container mount paths of volumes (EFS or host) are replaced by the host directories that
stand for them, in environment values and command arguments.

Container mode (container_spec): the image, the command as written (it replaces the image's CMD; none =
the image's CMD), the same environment without any host variable (no PATH, HOME, PYTHONPATH: the image's
own apply), the volumes bind-mounted at their containerPath (no path mapping), and the job's MEMORY and VCPU
as cgroup limits.
"""

from __future__ import annotations

import dataclasses
import logging
import os

from localcloud import config, efs, procs, runtime

log = logging.getLogger("localcloud.batch")


def container_property(job, name: str, default):
    """A container property with the submit-time override on top (for command, environment, ...)."""
    props = job.job_definition.container_properties or {}
    return job.container_overrides.get(name, props.get(name, default))


def merged_environment(job) -> dict[str, str]:
    props = job.job_definition.container_properties or {}
    env = {e["name"]: str(e.get("value", "")) for e in props.get("environment") or []}
    env.update({e["name"]: str(e.get("value", "")) for e in job.container_overrides.get("environment") or []})
    return env


DEFAULT_LOG_GROUP = "/aws/batch/job"


def log_destination(job, task_id: str) -> tuple[str, str]:
    """(log group, stream) as AWS names them: <prefix or job definition name>/default/<task id>, in
    /aws/batch/job unless the awslogs logConfiguration names another group."""
    log_config = container_property(job, "logConfiguration", None) or {}
    options = (log_config.get("options") or {}) if log_config.get("logDriver") == "awslogs" else {}
    group = options.get("awslogs-group") or DEFAULT_LOG_GROUP
    prefix = options.get("awslogs-stream-prefix") or job.job_definition.name
    return group, f"{prefix}/default/{task_id}"


def attempt_duration(job) -> int | None:
    for source in (job.timeout, job.job_definition.timeout):
        if source and source.get("attemptDurationSeconds"):
            return int(source["attemptDurationSeconds"])
    return None


def _efs_host_dir(job, volume_config: dict):
    from moto.efs.models import efs_backends

    fs_id = volume_config["fileSystemId"]
    access_point_id = (volume_config.get("authorizationConfig") or {}).get("accessPointId")
    root = volume_config.get("rootDirectory") or "/"
    creation_info = None
    if access_point_id:
        backend = efs_backends[job.backend.account_id][job.backend.region_name]
        access_point = backend.access_points.get(access_point_id)
        if access_point is not None:
            root = (access_point.root_directory or {}).get("Path") or "/"
            creation_info = (access_point.root_directory or {}).get("CreationInfo")
        else:
            log.warning(
                "job %s: access point %s not found; using the file system root", job.job_id, access_point_id
            )
    return efs.ensure_dir(efs.host_path(fs_id, root), creation_info=creation_info)


def _volume_dirs(job) -> dict[str, str]:
    """volume name -> the host directory standing for it (EFS access point root, or a host sourcePath)."""
    volumes = {}
    for volume in container_property(job, "volumes", []) or []:
        if volume.get("efsVolumeConfiguration"):
            volumes[volume["name"]] = str(_efs_host_dir(job, volume["efsVolumeConfiguration"]))
        elif (volume.get("host") or {}).get("sourcePath"):
            volumes[volume["name"]] = volume["host"]["sourcePath"]
    return volumes


def mount_map(job) -> dict[str, str]:
    """containerPath -> host directory for every mount point whose volume we can stand in for."""
    volumes = _volume_dirs(job)
    mapping = {}
    for mount in container_property(job, "mountPoints", []) or []:
        host = volumes.get(mount.get("sourceVolume"))
        if host and mount.get("containerPath"):
            mapping[mount["containerPath"].rstrip("/") or "/"] = host
    return mapping


def _map_path(value: str, mapping: dict[str, str]) -> str:
    for container_path, host in sorted(mapping.items(), key=lambda item: -len(item[0])):
        if value == container_path or value.startswith(container_path + "/"):
            return host + value[len(container_path) :]
    return value


def batch_variables(job, attempt: int) -> dict[str, str]:
    queue = job.job_queue
    env = {
        "AWS_BATCH_JOB_ID": job.job_id,
        "AWS_BATCH_JOB_ATTEMPT": str(attempt),
        "AWS_BATCH_JQ_NAME": queue.name,
    }
    placed = getattr(job, "_lc_compute_environment", None)  # where batch_runner's SlotPool placed the attempt
    if placed is not None or queue.environments:
        env["AWS_BATCH_CE_NAME"] = (placed or queue.environments[0]).name
    index = job.array_properties.get("index")
    if index is not None:
        env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(index)
    return env


def command_and_env(job, attempt: int) -> tuple[list[str], dict[str, str]]:
    mapping = mount_map(job)
    command = job._add_parameters_to_command(container_property(job, "command", []) or [])
    argv = [_map_path(part, mapping) for part in command]
    env = procs.base_env()
    env.update({name: _map_path(value, mapping) for name, value in merged_environment(job).items()})
    env.update(batch_variables(job, attempt))
    # A job always talks to the local cloud, as its job role (none without jobRoleArn, as on AWS).
    env.update(runtime.workload_env(procs.endpoint(), job_role_credentials(job)))
    return argv, env


@dataclasses.dataclass
class ContainerSpec:
    image: str  # as the job definition names it (containers.resolve_image finds the local image)
    command: list[str]  # replaces the image's CMD; empty = the image's CMD
    env: dict[str, str]
    mounts: list[tuple[str, str, bool]]  # (host dir, containerPath, read only)
    memory_mib: int | None
    vcpus: float | None
    user: str | None = None
    read_only_root: bool = False
    init: bool = False
    shm_mib: int | None = None


def resources(job) -> dict[str, str]:
    """The job's resourceRequirements by type (VCPU, MEMORY, GPU), submit-time overrides replacing the job
    definition's per type, the legacy vcpus/memory properties underneath."""
    return resources_of(job.job_definition.container_properties or {}, job.container_overrides or {})


def resources_of(props: dict, overrides: dict) -> dict[str, str]:
    """resources() of container properties and overrides (for callers without a moto job: the perf bench)."""
    found: dict[str, str] = {}
    for source in (props, overrides):
        if source.get("vcpus") is not None:
            found["VCPU"] = str(source["vcpus"])
        if source.get("memory") is not None:
            found["MEMORY"] = str(source["memory"])
        for requirement in source.get("resourceRequirements") or []:
            if requirement.get("type") and requirement.get("value") is not None:
                found[str(requirement["type"]).upper()] = str(requirement["value"])
    return found


def spec_of(
    props: dict,
    overrides: dict,
    command: list[str],
    env: dict[str, str],
    mounts: list[tuple[str, str, bool]],
) -> ContainerSpec:
    """The ContainerSpec of container properties (image, limits, user, Linux settings) with this command,
    environment and mounts."""
    found = resources_of(props, overrides)
    linux = props.get("linuxParameters") or {}
    return ContainerSpec(
        image=str(props.get("image") or ""),
        command=[str(part) for part in command],
        env=env,
        mounts=mounts,
        memory_mib=int(float(found["MEMORY"])) if found.get("MEMORY") else None,
        vcpus=float(found["VCPU"]) if found.get("VCPU") else None,
        user=props.get("user") or None,
        read_only_root=bool(props.get("readonlyRootFilesystem")),
        init=bool(linux.get("initProcessEnabled")),
        shm_mib=int(linux["sharedMemorySize"]) if linux.get("sharedMemorySize") else None,
    )


def container_spec(job, attempt: int) -> ContainerSpec:
    """What `podman run` needs for this attempt (container mode). Raises runtime.RoleNotAssumable as
    command_and_env does."""
    props = job.job_definition.container_properties or {}
    command = job._add_parameters_to_command(container_property(job, "command", []) or [])
    env = dict(merged_environment(job))
    env.update(batch_variables(job, attempt))
    env.update(runtime.workload_env(procs.endpoint(), job_role_credentials(job)))
    if os.environ.get(config.BOOT_ID_ENV):
        env[config.BOOT_ID_ENV] = os.environ[config.BOOT_ID_ENV]
    volumes = _volume_dirs(job)
    mounts = []
    for mount in container_property(job, "mountPoints", []) or []:
        host = volumes.get(mount.get("sourceVolume"))
        if host and mount.get("containerPath"):
            mounts.append((host, mount["containerPath"], bool(mount.get("readOnly"))))
    return spec_of(props, job.container_overrides or {}, command, env, mounts)


def job_role_credentials(job) -> dict[str, str] | None:
    """What the ECS agent hands the job's containers: a session of the job definition's jobRoleArn, assumed as
    ecs-tasks.amazonaws.com (its trust policy must admit that service). Raises runtime.RoleNotAssumable
    (naming the role) when it does not; the job then fails to start."""
    role_arn = container_property(job, "jobRoleArn", None)
    if not role_arn:
        return None
    # ECS names the task as aws:SourceArn (trust policies bind it with arn:aws:ecs:<region>:<account>:*).
    task = f"arn:aws:ecs:{job.backend.region_name}:{job.backend.account_id}:task/localcloud/{job.job_id}"
    return runtime.role_credentials(role_arn, job.job_id, runtime.ECS_TASKS, source_arn=task)
