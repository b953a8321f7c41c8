"""Lambdas in container mode run from their zip alone: the runtime image's Python 3.11 and boto3, the zip at
/var/task, MemorySize as the memory limit, the timeout enforced on the container itself; a container is a
warm execution environment that serves the function's next invocations.

A local cloud of its own (LOCALCLOUD_RUNTIME=container, free port, private state dir). Skipped, with the
reason, only where containers cannot run and container mode was not asked for (LOCALCLOUD_RUNTIME).
"""

from __future__ import annotations

import importlib.metadata
import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from localcloud import containers, images
from tests.unit.localcloud.conftest import (
    LAMBDA_LOGS,
    Cloud,
    allow,
    start_cloud,
    unique,
    wait_for,
    workload_role,
)

# What the handlers below need from jsonschema, as the distributions installed in .venv (same Python 3.11,
# same platform: rpds-py's compiled extension works in the runtime image too).
VENDORED = ("jsonschema", "jsonschema-specifications", "referencing", "rpds-py", "attrs", "typing-extensions")

VALIDATE = """
import jsonschema


def handler(event, context):
    jsonschema.validate(event, {"type": "object", "required": ["sku"]})
    return {"valid": True, "jsonschema": jsonschema.__file__}
"""

PROBE = """
import getpass, os, sys, time

import boto3


def _memory_limit():
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            return int(open(path).read().strip())
        except (OSError, ValueError):
            continue
    return None


def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("allocate_mb"):
        hog = bytearray(event["allocate_mb"] * 1024 * 1024)
        hog[::4096] = b"x" * len(hog[::4096])
    caller = boto3.client("sts").get_caller_identity()["Arn"]
    return {
        "version": list(sys.version_info[:2]),
        "executable": sys.executable,
        "path": sys.path,
        "boto3": boto3.__version__,
        "memory_limit": _memory_limit(),
        "sees_work": os.path.exists("/work"),
        "uid": os.getuid(),
        "task_root": os.environ.get("LAMBDA_TASK_ROOT"),
        "cwd": os.getcwd(),
        "pythonpath": os.environ.get("PYTHONPATH"),
        "caller": caller,
        "task_writable": os.access("/var/task", os.W_OK),
    }
"""


WARM = """
import os

calls = 0
STATE = object()


def handler(event, context):
    global calls
    calls += 1
    if event.get("crash"):
        os._exit(3)
    return {"calls": calls, "state": id(STATE), "request_id": context.aws_request_id}
"""


@pytest.fixture(scope="module")
def container_cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cloud]:
    ok, why = containers.available()
    if not ok and containers.requested_mode() != "container":
        pytest.skip(f"containers cannot run here: {why}")
    images.ensure_lambda_runtime()  # once, before any invocation waits for it (~1 min on a new machine)
    server_env = {containers.MODE_ENV: "container", "LOCALCLOUD_BATCH_CONCURRENCY": "2"}
    clouds = start_cloud(tmp_path_factory, "localcloud-containers", server_env)
    cloud = next(clouds)
    try:
        assert _health(cloud)["runtime"] == "container"
        yield cloud
    finally:
        clouds.close()  # stops it


def _health(cloud: Cloud) -> dict:
    import urllib.request

    with urllib.request.urlopen(f"{cloud.endpoint}/_localcloud/health", timeout=10) as answer:  # noqa: S310
        return json.load(answer)


def _zip(files: dict[str, str], vendored: tuple[str, ...] = ()) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        for distribution in vendored:
            dist = importlib.metadata.distribution(distribution)
            for file in dist.files or ():
                if file.parts[0] == ".." or "__pycache__" in file.parts:
                    continue  # console scripts, byte code
                archive.write(Path(dist.locate_file(file)), str(file))
    return buffer.getvalue()


def _function(cloud: Cloud, code: bytes, handler: str, **extra) -> str:
    lam = cloud.client("lambda")
    role = workload_role(cloud, "lambda.amazonaws.com", LAMBDA_LOGS, allow("sts:GetCallerIdentity"))
    name = unique("fn")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler=handler,
        Code={"ZipFile": code},
        Timeout=extra.pop("Timeout", 10),
        **extra,
    )
    return name


def _invoke(cloud: Cloud, name: str, event: dict) -> tuple[dict, dict]:
    response = cloud.client("lambda").invoke(FunctionName=name, Payload=json.dumps(event).encode())
    return response, json.loads(response["Payload"].read() or b"null")


def _containers_of(name: str) -> list[str]:
    done = containers.run_podman("ps", "-a", "-q", "--filter", f"label=localcloud.function={name}")
    return done.stdout.split()


def test_a_zip_without_its_dependency_fails_to_import_although_the_venv_has_it(container_cloud):
    importlib.metadata.version("jsonschema")  # the project's environment has it
    name = _function(container_cloud, _zip({"app.py": VALIDATE}), "app.handler")
    response, payload = _invoke(container_cloud, name, {"sku": "A-1"})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ImportModuleError", payload
    assert "jsonschema" in payload["errorMessage"]


def test_the_same_zip_with_the_dependency_vendored_works(container_cloud):
    code = _zip({"app.py": VALIDATE}, VENDORED)
    name = _function(container_cloud, code, "app.handler")
    response, payload = _invoke(container_cloud, name, {"sku": "A-1"})
    assert "FunctionError" not in response, payload
    assert payload == {"valid": True, "jsonschema": "/var/task/jsonschema/__init__.py"}
    response, payload = _invoke(container_cloud, name, {})
    assert response["FunctionError"] == "Unhandled" and payload["errorType"] == "ValidationError"


def test_the_handler_runs_on_the_runtime_python_with_its_memory_size_and_role(container_cloud):
    name = _function(container_cloud, _zip({"probe.py": PROBE}), "probe.handler", MemorySize=256)
    response, payload = _invoke(container_cloud, name, {})
    assert "FunctionError" not in response, payload
    assert payload["version"] == [3, 11]
    assert payload["executable"].startswith("/var/lang/")
    assert not any(".venv" in entry or entry.startswith("/work") for entry in payload["path"])
    assert payload["pythonpath"] is None
    # boto3 is the runtime's, at the version of the lock (requirements/runtime.txt)
    assert (
        payload["boto3"] == dict(line.split(" ")[0].split("==") for line in images.lambda_pins()[0])["boto3"]
    )
    assert payload["memory_limit"] == 256 * 1024 * 1024
    assert payload["sees_work"] is False
    assert payload["uid"] == 993 and payload["task_writable"] is False
    assert payload["task_root"] == "/var/task" == payload["cwd"]
    assert ":assumed-role/" in payload["caller"]  # the execution role's credentials, the local endpoint


def test_a_handler_past_its_timeout_is_stopped_with_its_container(container_cloud):
    name = _function(container_cloud, _zip({"probe.py": PROBE}), "probe.handler", Timeout=2)
    response, payload = _invoke(container_cloud, name, {"sleep": 30})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Sandbox.Timedout"
    assert payload["errorMessage"] == "Task timed out after 2.00 seconds"
    assert _containers_of(name) == []


def test_a_handler_over_its_memory_size_is_killed_as_on_aws(container_cloud):
    name = _function(container_cloud, _zip({"probe.py": PROBE}), "probe.handler", MemorySize=128)
    response, payload = _invoke(container_cloud, name, {"allocate_mb": 400})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "Runtime.ExitError"
    assert payload["errorMessage"].endswith("Error: Runtime exited with error: signal: killed")
    assert _containers_of(name) == []


def test_an_event_invocation_runs_in_the_background_and_logs(container_cloud):
    name = _function(container_cloud, _zip({"probe.py": PROBE}), "probe.handler")
    response = container_cloud.client("lambda").invoke(
        FunctionName=name, InvocationType="Event", Payload=json.dumps({"sleep": 1}).encode()
    )
    assert response["StatusCode"] == 202
    logs = container_cloud.client("logs")

    def ended() -> bool:
        try:
            events = logs.filter_log_events(logGroupName=f"/aws/lambda/{name}")["events"]
        except logs.exceptions.ResourceNotFoundException:
            return False
        return any(event["message"].startswith("END RequestId:") for event in events)

    wait_for(ended, timeout=30)
    assert len(_containers_of(name)) == 1  # its execution environment stays warm


def test_a_warm_container_serves_the_next_invocation_and_a_crash_discards_it(container_cloud):
    name = _function(container_cloud, _zip({"warm.py": WARM}), "warm.handler")
    _, first = _invoke(container_cloud, name, {})
    _, second = _invoke(container_cloud, name, {})
    assert (first["calls"], second["calls"]) == (1, 2) and first["state"] == second["state"]
    assert first["request_id"] != second["request_id"]
    assert len(_containers_of(name)) == 1
    response, payload = _invoke(container_cloud, name, {"crash": True})
    assert response["FunctionError"] == "Unhandled" and payload["errorType"] == "Runtime.ExitError"
    assert payload["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
    assert _containers_of(name) == []
    _, after = _invoke(container_cloud, name, {})
    assert after["calls"] == 1  # a cold environment
