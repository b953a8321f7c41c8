"""Runs a moto LambdaFunction's deployed zip, from the zip alone in a container or as a host process, in
warm execution environments (lambda_warm) reused between invocations as AWS does.

The zip is extracted once per code sha256 under <state>/lambda/code/. An environment gets the function's
environment variables, the Lambda runtime variables, AWS_ENDPOINT_URL and its execution role's credentials;
it imports the handler once and serves one invocation at a time (lambda_bootstrap), each killed at the
function's timeout (which discards the environment). Output goes to the function's log group, one log
stream per environment.

- container mode (containers.mode()): `podman run` of images.LAMBDA_IMAGE (Python 3.11 + boto3 closure, what
  the AWS runtime provides) with the code read-only at /var/task, a read-only root file system (only /tmp
  writable), uid 993 (as sbx_user1051), MemorySize as the memory cgroup limit (no swap), host networking to
  reach the endpoint; nothing of the project's virtualenv; credentials through podman's environment, never
  its argv. The timeout kills the container itself; a handler killed by the kernel (memory) ends as AWS
  reports it: Runtime.ExitError "signal: killed".
- process mode: a subprocess of the project's Python (killed with its process group at the timeout).
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from localcloud import config, containers, images, lambda_warm, procs, runtime

log = logging.getLogger("localcloud.lambda")

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
TASK_ROOT = "/var/task"
RESULT_DIR = "/var/result"
# The Lambda Python runtime runs handlers as sbx_user1051 (uid 993, gid 990), never as root.
SANDBOX_USER = (993, 990)
# Passed to podman by name from its own environment, so they never appear in a command line (ps).
_SECRET_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def code_dir(code_bytes: bytes, digest: str | None = None) -> Path:
    digest = digest or hashlib.sha256(code_bytes).hexdigest()
    target = config.state_dir() / "lambda" / "code" / digest
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".extract-"))
    with zipfile.ZipFile(io.BytesIO(code_bytes)) as archive:
        archive.extractall(staging)  # noqa: S202 - our own deployed zips
    staging.chmod(0o755)  # mkdtemp's 0700 would hide /var/task from the sandbox user
    try:
        staging.rename(target)  # atomic: concurrent first invocations race harmlessly
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def execution_role_credentials(fn) -> dict[str, str]:
    """A session of the function's execution role, assumed as lambda.amazonaws.com (one per function for a
    while, as an execution environment keeps its credentials). Raises runtime.RoleNotAssumable."""
    with _credentials_lock(fn.role, fn.function_name):  # concurrent cold starts share one session
        return runtime.role_credentials(fn.role, fn.function_name, runtime.LAMBDA, reuse=True)


_credential_locks: dict[tuple[str, str], threading.Lock] = {}
_credential_locks_lock = threading.Lock()


def _credentials_lock(role: str, function_name: str) -> threading.Lock:
    with _credential_locks_lock:
        return _credential_locks.setdefault((role, function_name), threading.Lock())


def _reserved_variables(fn, log_stream: str) -> dict[str, str]:
    """The runtime's reserved variables of an execution environment (both modes), and what the bootstrap
    reads. The request id and deadline are per invocation: the bootstrap gets them with each event."""
    return {
        "_HANDLER": fn.handler,
        "AWS_EXECUTION_ENV": f"AWS_Lambda_{fn.run_time}",
        "AWS_LAMBDA_FUNCTION_NAME": fn.function_name,
        "AWS_LAMBDA_FUNCTION_VERSION": str(fn.version),
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(fn.memory_size),
        "AWS_LAMBDA_FUNCTION_TIMEOUT": str(fn.timeout),
        "AWS_LAMBDA_LOG_GROUP_NAME": fn.logs_group_name,
        "AWS_LAMBDA_LOG_STREAM_NAME": log_stream,
        "LOCALCLOUD_INVOKED_ARN": fn.function_arn,
        "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
    }


def _environment(fn, log_stream: str, credentials: dict[str, str]) -> dict[str, str]:
    env = procs.base_env()
    env.update({str(k): str(v) for k, v in (fn.environment_vars or {}).items()})
    env.update(_reserved_variables(fn, log_stream))
    env["LAMBDA_TASK_ROOT"] = ""
    # A function always talks to the local cloud, as its execution role.
    env.update(runtime.workload_env(procs.endpoint(), credentials))
    return env


def _error(error_type: str, message: str) -> str:
    return json.dumps({"errorMessage": message, "errorType": error_type, "stackTrace": []})


def _may_write_logs(fn) -> bool:
    """Lambda writes a function's logs with its execution role: without logs:CreateLogStream and
    logs:PutLogEvents on the group, AWS keeps none (the invocation itself is not affected)."""
    from localcloud.iam import authorizer
    from localcloud.iam.model import Call

    # Every invocation's stream has a new name; one placeholder keeps the IAM record aggregated.
    arn = f"arn:aws:logs:{config.REGION}:{fn.account_id}:log-group:{fn.logs_group_name}:log-stream:*"
    calls = [Call("logs:CreateLogStream", arn), Call("logs:PutLogEvents", arn)]
    return authorizer.role_allows(fn.role, calls, session=fn.function_name) is None


def _save_logs(fn, log_stream: str, lines: list[str]) -> None:
    if not _may_write_logs(fn):
        return
    try:
        fn.logs_backend.ensure_log_group(fn.logs_group_name)
        fn.logs_backend.ensure_log_stream(fn.logs_group_name, log_stream)
        now = int(datetime.now(UTC).timestamp() * 1000)
        events = [{"timestamp": now, "message": line} for line in lines] or [
            {"timestamp": now, "message": ""}
        ]
        fn.logs_backend.put_log_events(fn.logs_group_name, log_stream, events)
    except Exception:
        log.exception("could not write the logs of %s", fn.function_name)


def _container_environment(fn, log_stream: str, credentials: dict[str, str]) -> dict[str, str]:
    """What the runtime sets in a container: the function's variables, the reserved ones over them, and
    nothing of the host (the image's PATH is /var/lang/bin first)."""
    env = {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}
    env.update(_reserved_variables(fn, log_stream))
    env.update(
        {
            "LAMBDA_TASK_ROOT": TASK_ROOT,
            "LAMBDA_RUNTIME_DIR": "/var/runtime",
            "LANG": "en_US.UTF-8",
            "TZ": ":UTC",
            "PYTHONUNBUFFERED": "1",
        }
    )
    if os.environ.get(config.BOOT_ID_ENV):
        env[config.BOOT_ID_ENV] = os.environ[config.BOOT_ID_ENV]
    env.update(runtime.workload_env(procs.endpoint(), credentials))
    return env


def _result_dir(name: str) -> Path:
    """A directory the sandbox user may write its results into (mounted at RESULT_DIR)."""
    directory = config.state_dir() / "lambda" / "results" / name
    directory.mkdir(parents=True, mode=0o700)
    if os.geteuid() == 0:
        os.chown(directory, *SANDBOX_USER)
    return directory


def _key(fn, digest: str, mode: str, credentials: dict[str, str]) -> lambda_warm.Key:
    """Everything that makes one execution environment of `fn` differ from another."""
    return lambda_warm.Key(
        function=(fn.function_arn, str(fn.version)),
        code_sha256=digest,
        handler=fn.handler,
        runtime=str(fn.run_time),
        mode=mode,
        memory=int(fn.memory_size or 128),
        timeout=float(fn.timeout or 3),
        variables=tuple(sorted((str(k), str(v)) for k, v in (fn.environment_vars or {}).items())),
        role=fn.role,
        access_key=credentials.get("AWS_ACCESS_KEY_ID", ""),
    )


def _start_container(fn, key, directory: Path, credentials: dict[str, str]) -> lambda_warm.Environment:
    """A new execution environment: `podman run` of images.LAMBDA_IMAGE serving invocations on its stdin."""
    image = images.ensure_lambda_runtime()
    env_id = uuid.uuid4().hex
    log_stream = _log_stream(fn, env_id)
    env = _container_environment(fn, log_stream, credentials)
    result_dir = _result_dir(env_id)
    token = lambda_warm.new_token()
    name = containers.container_name(f"lambda-{env_id}")
    memory = f"{key.memory}m"
    argv = [
        "run", "--rm", "-i", "--pull=never", "--name", name,
        "--label", f"{containers.BOOT_LABEL}={os.environ.get(config.BOOT_ID_ENV, '')}",
        "--label", f"localcloud.function={fn.function_name}",
        "--network", "host", "--memory", memory, "--memory-swap", memory,
        "--read-only", "--user", ":".join(map(str, SANDBOX_USER)),
        "-v", f"{directory}:{TASK_ROOT}:ro",
        "-v", f"{BOOTSTRAP}:/var/runtime/bootstrap.py:ro",
        "-v", f"{result_dir}:{RESULT_DIR}",
        "-w", TASK_ROOT,
    ]  # fmt: skip
    client_env = containers.podman_env()
    for variable, value in env.items():
        if variable in _SECRET_VARIABLES:
            client_env[variable] = value
            argv += ["-e", variable]
        else:
            argv += ["-e", f"{variable}={value}"]
    argv += [image, "python", "/var/runtime/bootstrap.py", fn.handler, RESULT_DIR, token]
    proc = procs.start(
        containers.podman(*argv),
        client_env,
        directory,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return lambda_warm.Environment(key, proc, result_dir, token, log_stream, container=name)


def _start_process(fn, key, directory: Path, credentials: dict[str, str]) -> lambda_warm.Environment:
    """A new execution environment: a host process of the project's Python serving invocations."""
    env_id = uuid.uuid4().hex
    log_stream = _log_stream(fn, env_id)
    env = _environment(fn, log_stream, credentials)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(directory), env.get("PYTHONPATH")]))
    result_dir = _result_dir(env_id)
    token = lambda_warm.new_token()
    proc = procs.start(
        [sys.executable, "-m", "localcloud.lambda_bootstrap", fn.handler, str(result_dir), token],
        env,
        directory,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    return lambda_warm.Environment(key, proc, result_dir, token, log_stream)


def _log_stream(fn, env_id: str) -> str:
    """The execution environment's log stream (AWS: one per environment, not per invocation)."""
    return f"{datetime.now(UTC):%Y/%m/%d}/[{fn.version}]{env_id}"


def _exit_reason(returncode: int | None, in_container: bool) -> str:
    # podman run exits 128+N when the container's process died of signal N (137: SIGKILL, e.g. the kernel's
    # OOM killer at MemorySize); AWS reports that as "signal: killed".
    if in_container and returncode == 137:
        return "signal: killed"
    return f"exit status {returncode}"


def invoke(fn, event) -> tuple[str, bool, str]:
    """Run the handler once, in a warm execution environment of the function when one is idle, else in a new
    one; return (payload JSON, errored, log text) as moto's _invoke_lambda does."""
    request_id = str(uuid.uuid4())
    try:
        credentials = execution_role_credentials(fn)
    except runtime.RoleNotAssumable as err:
        message = (
            f"The role defined for the function cannot be assumed by Lambda: {err.role_arn} ({err.reason})"
        )
        log.warning("%s: %s", fn.function_name, message)
        return _error("AccessDeniedException", message), True, message
    digest = hashlib.sha256(fn.code_bytes).hexdigest()
    timeout = float(fn.timeout or 3)
    payload_in = event if isinstance(event, str) else json.dumps(event)
    in_container = containers.mode() == "container"
    key = _key(fn, digest, "container" if in_container else "process", credentials)
    started = datetime.now(UTC)
    environment = lambda_warm.POOL.take(key)
    outcome = None
    if environment is None:
        directory = code_dir(fn.code_bytes, digest)
        try:
            start = _start_container if in_container else _start_process
            environment = start(fn, key, directory, credentials)
        except images.ImageBuildError as err:
            log.error("no Lambda runtime image: %s", err)
            message = (
                f"RequestId: {request_id} Error: the local Lambda runtime image could not be built: {err}"
            )
            return _error("Runtime.Unknown", message), True, message
        outcome = environment.wait_ready()  # None: initialised
    if outcome is None:
        deadline_ms = int((time.time() + timeout) * 1000)
        request = json.dumps({"request_id": request_id, "payload": payload_in, "deadline_ms": deadline_ms})
        outcome = environment.invoke(request, timeout)
    if outcome.keeps_environment:
        lambda_warm.POOL.give_back(environment)
    elif outcome.result is not None:  # a failed init: AWS retries it in a new environment
        lambda_warm.Pool.stop_in_background([environment])
    else:  # timed out, crashed or killed: the next invocation is cold
        environment.stop(kill=True)
    result = outcome.result
    if outcome.timed_out:
        payload, errored = _error("Sandbox.Timedout", f"Task timed out after {timeout:.2f} seconds"), True
    elif result is None:
        reason = _exit_reason(outcome.returncode, in_container)
        message = f"RequestId: {request_id} Error: Runtime exited with error: {reason}"
        payload, errored = _error("Runtime.ExitError", message), True
    else:
        payload, errored = result["payload"], bool(result["errored"])
    millis = (datetime.now(UTC) - started).total_seconds() * 1000
    lines = [f"START RequestId: {request_id} Version: {fn.version}", *"\n".join(outcome.lines).splitlines()]
    if result is None and not outcome.timed_out:
        lines.append(json.loads(payload)["errorMessage"])
    lines += [f"END RequestId: {request_id}", f"REPORT RequestId: {request_id}\tDuration: {millis:.2f} ms"]
    _save_logs(fn, environment.log_stream, lines)
    return payload, errored, "\n".join(lines)
