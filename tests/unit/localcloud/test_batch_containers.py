"""Batch jobs in containers (LOCALCLOUD_RUNTIME=container): limits, isolation, OOM, pull errors, stopping.

A cloud of its own in container mode (the session's `cloud` may run either way). Job definitions name the
official `python:3.11-slim`, which the local cloud runs as its Debian-based Python 3.11 image
(localcloud.images.BASE_IMAGE, built once per machine). Skipped only where containers cannot run and the
run did not ask for them (LOCALCLOUD_RUNTIME=container makes an unusable runtime a failure).
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud import config, containers, efs, faults, lifecycle
from tests.unit.localcloud.conftest import (
    CONCURRENCY,
    BatchSetup,
    Cloud,
    fargate_queue,
    start_cloud,
    unique,
    wait_for,
)

IMAGE = "python:3.11-slim"  # mapped to the local base image
REPORT = "REPORT "  # the line a job prints its findings on


def _skip_without_runtime() -> None:
    """Skip where containers cannot run, unless this run asked for them (then the cloud's start fails)."""
    usable, why = containers.available()
    if not usable and os.environ.get(containers.MODE_ENV, "").lower() != "container":
        pytest.skip(f"no container runtime here: {why}")


def _start_cloud(tmp_path_factory: pytest.TempPathFactory, runtime: str, name: str) -> Iterator[Cloud]:
    server_env = {
        "LOCALCLOUD_BATCH_CONCURRENCY": str(CONCURRENCY),
        containers.MODE_ENV: runtime,
        containers.CHOSEN_ENV: None,  # the server decides its own mode
    }
    return start_cloud(tmp_path_factory, name, server_env)


@pytest.fixture(scope="module")
def container_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    _skip_without_runtime()
    yield from _start_cloud(tmp_path_factory, "container", "cloud-container")


@pytest.fixture(scope="module")
def jobs(container_cloud: Cloud, tmp_path_factory: pytest.TempPathFactory) -> BatchSetup:
    from localcloud import images

    images.ensure_base()  # once per machine (about a minute); outside any job's timeout
    return BatchSetup(container_cloud, tmp_path_factory.mktemp("scripts"))


def _definition(jobs: BatchSetup, code: str, memory: int = 512, **extra) -> str:
    container = {"image": IMAGE, "resourceRequirements": _resources(memory), **extra.pop("container", {})}
    return jobs.job_definition(["python", "-c", code], container=container, **extra)


def _resources(memory: int, vcpu: str = "1") -> list[dict]:
    return [{"type": "VCPU", "value": vcpu}, {"type": "MEMORY", "value": str(memory)}]


def _log_lines(cloud: Cloud, job: dict) -> list[str]:
    stream = job["container"]["logStreamName"]
    events = cloud.client("logs").get_log_events(logGroupName="/aws/batch/job", logStreamName=stream)
    return [event["message"] for event in events["events"]]


def _report(cloud: Cloud, job: dict) -> dict:
    lines = _log_lines(cloud, job)
    found = [line[len(REPORT) :] for line in lines if line.startswith(REPORT)]
    assert found, f"no report in the job's log: {lines}"
    return json.loads(found[-1])


def _containers_of(job_id: str) -> list[str]:
    done = containers.run_podman("ps", "-a", "-q", "--filter", f"label=localcloud.job={job_id}")
    return done.stdout.split()


def _running(jobs: BatchSetup, job_id: str) -> bool:
    return jobs.describe(job_id)["status"] == "RUNNING" and bool(_containers_of(job_id))


# ---- the runtime layer on its own ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "ref",
    [
        "python:3.11-slim",
        "python:3.11",
        "python:3.11-slim-bookworm",
        "docker.io/library/python:3.11-slim",
        "public.ecr.aws/docker/library/python:3.11-slim",
        "python:3.11-slim@sha256:" + "a" * 64,
    ],
)
def test_official_python_311_images_are_the_local_base_image(ref):
    from localcloud import images

    assert containers.local_image_for(ref) == images.BASE_IMAGE


@pytest.mark.parametrize("ref", ["python:3.12-slim", "python", "ghcr.io/x/python:3.11-slim", "ubuntu:22.04"])
def test_other_images_are_not_mapped(ref):
    assert containers.local_image_for(ref) is None


def test_unknown_image_cannot_be_pulled():
    with pytest.raises(containers.CannotPullContainerError) as raised:
        containers.resolve_image("ghcr.io/nobody/nothing:1")
    assert str(raised.value) == (
        "CannotPullContainerError: ghcr.io/nobody/nothing:1: not found in any reachable registry"
    )


def test_mode_resolution(monkeypatch):
    monkeypatch.setattr(containers, "_available", (False, "podman not installed"))
    assert containers.resolve_mode("process") == "process"
    assert containers.resolve_mode("auto") == "process"
    with pytest.raises(containers.ContainerRuntimeUnavailable, match="podman not installed"):
        containers.resolve_mode("container")
    with pytest.raises(ValueError, match="LOCALCLOUD_RUNTIME"):
        containers.resolve_mode("docker")
    monkeypatch.setattr(containers, "_available", (True, "podman"))
    assert containers.resolve_mode("auto") == "container"
    monkeypatch.setenv(containers.CHOSEN_ENV, "process")
    assert containers.mode() == "process"  # what the server chose at boot wins


def test_podman_argv_carries_this_machines_settings(monkeypatch, tmp_path):
    monkeypatch.setenv(containers.STORE_ENV, str(tmp_path))
    argv = containers.podman("ps")
    assert argv[:5] == ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs"]
    assert argv[-1] == "ps" and f"{tmp_path}/storage" in argv and f"{tmp_path}/run" in argv
    assert "overlay" in argv
    env = containers.podman_env()
    assert (tmp_path / "containers.conf").read_text() == "[containers]\ndefault_ulimits = []\n"
    assert env["CONTAINERS_CONF"] == str(tmp_path / "containers.conf")


# ---- jobs in containers ----------------------------------------------------------------------------------


def test_the_cloud_runs_containers(container_cloud):
    assert lifecycle.health(container_cloud.port)["runtime"] == "container"


INSPECT = """
import json, os
def read(path):
    try:
        return open(path).read().strip()
    except OSError as err:
        return f"unreadable: {err.__class__.__name__}"
v1 = "/sys/fs/cgroup/memory/memory.limit_in_bytes"
limit = read(v1) if os.path.exists(v1) else read("/sys/fs/cgroup/memory.max")
found = {
    "memory_limit": limit,
    "uid": os.getuid(),
    "path": os.environ.get("PATH"),
    "pythonpath": os.environ.get("PYTHONPATH"),
    "home_var": os.environ.get("HOME"),
    "endpoint": os.environ.get("AWS_ENDPOINT_URL"),
    "job_id": os.environ.get("AWS_BATCH_JOB_ID"),
    "greeting": os.environ.get("GREETING"),
    "secret_file": read(SECRET),
    "efs_write": None,
    "ro_write": None,
}
for key, path in (("efs_write", "/mnt/efs/out.txt"), ("ro_write", "/mnt/ro/out2.txt")):
    if os.path.isdir(os.path.dirname(path)):
        try:
            open(path, "w").write("from the job")
            found[key] = "ok"
        except OSError as err:
            found[key] = err.__class__.__name__
print("REPORT " + json.dumps(found), flush=True)
"""


def _inspect_code(secret: Path) -> str:
    return f"SECRET = {str(secret)!r}\n" + INSPECT


def test_job_sees_its_memory_limit_its_environment_and_not_the_host(container_cloud, jobs):
    secret = container_cloud.state_dir / config.BOOT_ID_FILE  # a file of the cloud itself, on the host
    assert secret.exists()
    definition = _definition(
        jobs,
        _inspect_code(secret),
        memory=768,
        container={"environment": [{"name": "GREETING", "value": "hello"}]},
    )
    job = jobs.wait_done(jobs.submit(definition), timeout=120)
    assert job["status"] == "SUCCEEDED", job
    found = _report(container_cloud, job)
    assert int(found["memory_limit"]) == 768 * 1024 * 1024
    assert found["uid"] == 0  # the base image runs as root; `user` in the job definition changes it
    assert found["path"] == "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"  # the image's
    assert found["pythonpath"] is None
    assert found["home_var"] in (None, "/root")  # the image's, not the host user's
    assert found["endpoint"] == container_cloud.endpoint  # host network: 127.0.0.1 is the host's
    assert found["job_id"] == job["jobId"]
    assert found["greeting"] == "hello"
    assert found["secret_file"].startswith("unreadable"), "a host path that is not a volume was readable"


def test_efs_volume_is_mounted_owned_by_the_access_point_user(container_cloud, jobs):
    efs_client = container_cloud.client("efs")
    fs_id = efs_client.create_file_system(CreationToken=unique("fs"))["FileSystemId"]
    access_point = efs_client.create_access_point(
        FileSystemId=fs_id,
        PosixUser={"Uid": 10001, "Gid": 10001},
        RootDirectory={
            "Path": "/farm",
            "CreationInfo": {"OwnerUid": 10001, "OwnerGid": 10001, "Permissions": "750"},
        },
    )["AccessPointId"]
    volume = {
        "name": "shared",
        "efsVolumeConfiguration": {
            "fileSystemId": fs_id,
            "transitEncryption": "ENABLED",
            "authorizationConfig": {"accessPointId": access_point, "iam": "ENABLED"},
        },
    }
    definition = _definition(
        jobs,
        _inspect_code(Path("/nonexistent")),
        container={
            "user": "10001",
            "volumes": [volume],
            "mountPoints": [
                {"sourceVolume": "shared", "containerPath": "/mnt/efs", "readOnly": False},
                {"sourceVolume": "shared", "containerPath": "/mnt/ro", "readOnly": True},
            ],
        },
    )
    job = jobs.wait_done(jobs.submit(definition), timeout=120)
    assert job["status"] == "SUCCEEDED", job
    found = _report(container_cloud, job)
    assert found["uid"] == 10001
    assert found["efs_write"] == "ok"
    assert found["ro_write"] == "OSError"  # EROFS
    host = efs.host_path(fs_id, "/farm", container_cloud.state_dir)
    assert (host / "out.txt").read_text() == "from the job"
    assert (host.stat().st_uid, host.stat().st_gid) == (10001, 10001)
    assert (host / "out.txt").stat().st_uid == 10001


def test_job_over_its_memory_ends_out_of_memory_and_is_not_retried(container_cloud, jobs):
    definition = _definition(
        jobs,
        "print('allocating', flush=True); data = b'x' * (2 * 1024**3); print('survived')",
        memory=512,
        retryStrategy={
            "attempts": 3,
            "evaluateOnExit": [
                {"onReason": "OutOfMemoryError*", "action": "EXIT"},
                {"onReason": "*", "action": "RETRY"},
            ],
        },
    )
    job = jobs.wait_done(jobs.submit(definition), timeout=120)
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "OutOfMemoryError: Container killed due to memory usage"
    assert len(job["attempts"]) == 1
    attempt = job["attempts"][0]["container"]
    assert attempt["reason"] == "OutOfMemoryError: Container killed due to memory usage"
    assert attempt["exitCode"] == 137
    assert "survived" not in _log_lines(container_cloud, job)


def test_exit_137_of_its_own_is_not_out_of_memory(jobs):
    # (A SIGKILL the job sends itself does nothing: it is PID 1 of its container, as on AWS without init.)
    definition = _definition(jobs, "import sys; sys.exit(137)")
    job = jobs.wait_done(jobs.submit(definition), timeout=120)
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "Essential container in task exited"
    assert job["attempts"][0]["container"]["exitCode"] == 137
    assert "reason" not in job["attempts"][0]["container"]


def test_image_no_registry_has_fails_with_cannot_pull(jobs):
    definition = jobs.job_definition(
        ["python", "-c", "print(1)"],
        container={"image": "ghcr.io/nobody/nothing:1.0", "resourceRequirements": _resources(512)},
    )
    job = jobs.wait_done(jobs.submit(definition), timeout=60)
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "Task failed to start"
    reason = job["attempts"][0]["container"]["reason"]
    assert reason.startswith("CannotPullContainerError: ghcr.io/nobody/nothing:1.0"), reason
    assert "exitCode" not in job["attempts"][0]["container"]


def test_missing_command_fails_to_start(jobs):
    definition = jobs.job_definition(
        ["no-such-program", "x"], container={"image": IMAGE, "resourceRequirements": _resources(512)}
    )
    job = jobs.wait_done(jobs.submit(definition), timeout=60)
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "Task failed to start"
    reason = job["attempts"][0]["container"]["reason"]
    assert reason.startswith("CannotStartContainerError:") and "no-such-program" in reason, reason


def test_terminate_stops_the_container(container_cloud, jobs):
    definition = _definition(jobs, "import time; print('up', flush=True); time.sleep(120)")
    job_id = jobs.submit(definition)
    wait_for(lambda: _running(jobs, job_id), timeout=60)
    started = time.monotonic()
    container_cloud.client("batch").terminate_job(jobId=job_id, reason="stop it")
    job = jobs.wait_done(job_id, timeout=30)
    assert time.monotonic() - started < 15
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "stop it"
    assert _containers_of(job_id) == []  # killed and removed, not only its podman client


def test_attempt_duration_timeout_kills_the_container(jobs):
    # AWS's minimum attemptDurationSeconds is 60; moto (and so the local cloud) takes any positive value.
    definition = _definition(jobs, "import time; time.sleep(120)", timeout={"attemptDurationSeconds": 3})
    started = time.monotonic()
    job_id = jobs.submit(definition)
    job = jobs.wait_done(job_id, timeout=60)
    assert time.monotonic() - started < 30
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "Job attempt duration exceeded timeout"
    assert job["attempts"][0]["container"]["exitCode"] == 137
    assert _containers_of(job_id) == []


def test_array_children_share_one_image_and_run_in_containers(container_cloud, jobs):
    code = "import os; print('REPORT ' + os.environ['AWS_BATCH_JOB_ARRAY_INDEX'])"
    parent = jobs.submit(_definition(jobs, code), arrayProperties={"size": 3})
    job = jobs.wait_done(parent, timeout=120)
    assert job["status"] == "SUCCEEDED"
    for index in range(3):
        child = jobs.describe(f"{parent}:{index}")
        assert _log_lines(container_cloud, child) == [f"REPORT {index}"]


# ---- start overhead: container against process ---------------------------------------------------------


@pytest.fixture(scope="module")
def process_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    _skip_without_runtime()
    yield from _start_cloud(tmp_path_factory, "process", "cloud-process")


def _median_attempt_seconds(setup: BatchSetup, definition: str, count: int = 5) -> tuple[float, float]:
    """Median attempt duration (startedAt -> stoppedAt) and median submit -> SUCCEEDED, jobs one by one."""
    attempts, totals = [], []
    for _ in range(count):
        started = time.monotonic()
        job = setup.wait_done(setup.submit(definition), timeout=60)
        totals.append(time.monotonic() - started)
        assert job["status"] == "SUCCEEDED", job
        attempt = job["attempts"][0]
        attempts.append((attempt["stoppedAt"] - attempt["startedAt"]) / 1000)
    return statistics.median(attempts), statistics.median(totals)


ARRAY = 20


def _array_seconds(setup: BatchSetup, definition: str) -> float:
    """Submit -> parent SUCCEEDED of an array of ARRAY trivial children."""
    started = time.monotonic()
    job = setup.wait_done(setup.submit(definition, arrayProperties={"size": ARRAY}), timeout=120)
    assert job["status"] == "SUCCEEDED", job
    return time.monotonic() - started


def test_start_overhead_container_against_process(jobs, process_cloud, tmp_path_factory, record_property):
    assert lifecycle.health(process_cloud.port)["runtime"] == "process"
    in_process = BatchSetup(process_cloud, tmp_path_factory.mktemp("scripts-process"))
    process_attempt, process_total = _median_attempt_seconds(
        in_process, in_process.job_definition(["python", "-c", "pass"])
    )
    container_attempt, container_total = _median_attempt_seconds(jobs, _definition(jobs, "pass"))
    process_array = _array_seconds(in_process, in_process.job_definition(["python", "-c", "pass"]))
    container_array = _array_seconds(jobs, _definition(jobs, "pass"))
    summary = (
        f"trivial job, median of 5: attempt {process_attempt:.3f} s in a process, {container_attempt:.3f} s "
        f"in a container; submit->SUCCEEDED {process_total:.3f} s / {container_total:.3f} s; "
        f"array of {ARRAY} on {CONCURRENCY} slots: {process_array:.2f} s / {container_array:.2f} s"
    )
    print(summary)
    record_property("start_overhead", summary)
    assert container_attempt < 10  # a sanity bound, not a benchmark (the machine is shared)


# ---- Fargate Spot reclaim of a container -----------------------------------------------------------------

SPOT_JOB = """
import os, signal, sys, time
if os.environ["AWS_BATCH_JOB_ATTEMPT"] != "1":
    sys.exit(0)
if os.environ["AWS_BATCH_JOB_ARRAY_INDEX"] == "0":  # child 0 handles SIGTERM; child 1 (PID 1) ignores it
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
print("waiting for the reclaim", flush=True)
time.sleep(60)
"""


def test_spot_reclaim_sends_sigterm_to_the_container_then_kills_it(container_cloud, jobs):
    batch = container_cloud.client("batch")
    queue, _ = fargate_queue(container_cloud, 9, [("FARGATE_SPOT", 4)])
    retry = {
        "attempts": 2,
        "evaluateOnExit": [{"onStatusReason": "Your Spot Task was interrupted*", "action": "RETRY"}],
    }
    definition = _definition(jobs, SPOT_JOB, retryStrategy=retry)
    name = unique("spot-run")
    settings = {"spot_reclaim": 1.0, "max_repeats": 1, "spot_reclaim_after_s": [1.5, 2.0], "scope": name}
    with faults.set(container_cloud.endpoint, **settings) as fault:
        parent = batch.submit_job(
            jobName=name, jobQueue=queue, jobDefinition=definition, arrayProperties={"size": 2}
        )["jobId"]
        job = jobs.wait_done(parent, timeout=90)
        state = fault.get()
    assert job["status"] == "SUCCEEDED"
    assert state["injected"]["spot_reclaim"] == 2
    codes = []
    for index in range(2):
        child = jobs.describe(f"{parent}:{index}")
        first, second = child["attempts"]
        assert first["statusReason"] == faults.SPOT_REASON
        assert second["container"]["exitCode"] == 0
        codes.append(first["container"]["exitCode"])
    assert codes == [143, 137]  # its handler's exit; killed after the stop timeout
    assert _containers_of(f"{parent}:0") == [] and _containers_of(f"{parent}:1") == []


# ---- images from the local ECR ---------------------------------------------------------------------------


def test_job_image_from_ecr_by_digest_and_a_missing_tag(container_cloud, jobs, tmp_path):
    from localcloud import images

    if not lifecycle.health(container_cloud.port).get("registry"):
        pytest.skip("this cloud runs no ECR registry (docker-registry not installed)")
    ecr = container_cloud.client("ecr")
    repo = ecr.create_repository(repositoryName=unique("lc-test/job"))["repository"]["repositoryUri"]
    data = ecr.get_authorization_token()["authorizationData"][0]
    creds = base64.b64decode(data["authorizationToken"]).decode()
    digest_file = tmp_path / "digest"
    containers.run_podman("tag", images.BASE_IMAGE, f"{repo}:v1")
    try:
        containers.run_podman(
            "push", "--quiet", "--tls-verify=false", "--creds", creds, "--digestfile", str(digest_file),
            f"{repo}:v1",
        )  # fmt: skip
    finally:
        containers.run_podman("untag", images.BASE_IMAGE, f"{repo}:v1", check=False)  # the job must pull it
    digest = digest_file.read_text().strip()
    pinned = jobs.job_definition(
        ["python", "-c", "print('REPORT {}')"],
        container={"image": f"{repo}@{digest}", "resourceRequirements": _resources(512)},
    )
    missing = jobs.job_definition(
        ["python", "-c", "print(1)"],
        container={"image": f"{repo}:no-such-tag", "resourceRequirements": _resources(512)},
    )
    ran, failed = (jobs.wait_done(jobs.submit(d), timeout=120) for d in (pinned, missing))
    assert ran["status"] == "SUCCEEDED", ran
    assert _report(container_cloud, ran) == {}
    assert failed["status"] == "FAILED"
    assert failed["statusReason"] == "Task failed to start"
    reason = failed["attempts"][0]["container"]["reason"]
    assert reason == f"CannotPullContainerError: {repo}:no-such-tag: not found in any reachable registry"
    containers.run_podman("rmi", f"{repo}@{digest}", check=False)


def test_down_removes_the_containers_of_running_jobs(jobs, tmp_path_factory):
    _skip_without_runtime()
    stopped_cloud = _start_cloud(tmp_path_factory, "container", "cloud-down")
    cloud = next(stopped_cloud)
    setup = BatchSetup(cloud, tmp_path_factory.mktemp("scripts-down"))
    boot = lifecycle.health(cloud.port)["boot_id"]
    job_id = setup.submit(_definition(setup, "import time; time.sleep(120)"))
    wait_for(lambda: _running(setup, job_id), timeout=60)
    assert containers.boot_containers(boot)
    with contextlib.suppress(StopIteration):
        next(stopped_cloud)  # lifecycle.down
    assert containers.boot_containers(boot) == []
