"""Runs a moto LambdaFunction's deployed zip, from the zip alone in a container or as a host process.

The zip is extracted once per code sha256 under <state>/lambda/code/. The handler gets the function's
environment variables, the Lambda runtime variables, AWS_ENDPOINT_URL and its execution role's credentials,
and is killed at the function's timeout. Output goes to the function's log group.

- container mode (containers.mode()): `podman run` of images.LAMBDA_IMAGE (Python 3.11 + boto3 closure, what
  the AWS runtime provides) with the code read-only at /var/task, a read-only root file system (only /tmp
  writable), uid 993 (as sbx_user1051), MemorySize as the memory cgroup limit (no swap), host networking to
  reach the endpoint; nothing of the project's virtualenv. The timeout kills the container itself; a handler
  killed by the kernel (memory) ends as AWS reports it: Runtime.ExitError "signal: killed".
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
import uuid
import zipfile
from datetime import UTC, datetime
from pathlib import Path

from localcloud import config, containers, images, procs, runtime

log = logging.getLogger("localcloud.lambda")

BOOTSTRAP = Path(__file__).with_name("lambda_bootstrap.py")
TASK_ROOT = "/var/task"
RESULT_DIR = "/var/result"
# The Lambda Python runtime runs handlers as sbx_user1051 (uid 993, gid 990), never as root.
SANDBOX_USER = (993, 990)
# Creating and starting a container costs ~0.3 s before the handler's clock (its context deadline) starts.
CONTAINER_START_ALLOWANCE_S = 1.0
# Passed to podman by name from its own environment, so they never appear in a command line (ps).
_SECRET_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def code_dir(code_bytes: bytes) -> Path:
    digest = hashlib.sha256(code_bytes).hexdigest()
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
    return runtime.role_credentials(fn.role, fn.function_name, runtime.LAMBDA, reuse=True)


def _reserved_variables(fn, log_stream: str, request_id: str) -> dict[str, str]:
    """The runtime's reserved variables of an invocation (both modes), and what the bootstrap reads."""
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
        "LOCALCLOUD_REQUEST_ID": request_id,
    }


def _environment(fn, log_stream: str, request_id: str, credentials: dict[str, str]) -> dict[str, str]:
    env = procs.base_env()
    env.update({str(k): str(v) for k, v in (fn.environment_vars or {}).items()})
    env.update(_reserved_variables(fn, log_stream, request_id))
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


def _container_environment(
    fn, log_stream: str, request_id: str, credentials: dict[str, str]
) -> dict[str, str]:
    """What the runtime sets in a container: the function's variables, the reserved ones over them, and
    nothing of the host (the image's PATH is /var/lang/bin first)."""
    env = {str(k): str(v) for k, v in (fn.environment_vars or {}).items()}
    env.update(_reserved_variables(fn, log_stream, request_id))
    env.update(
        {
            "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
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


def _result_dir(request_id: str) -> Path:
    """A directory the sandbox user may write its result into (mounted at RESULT_DIR)."""
    directory = config.state_dir() / "lambda" / "results" / request_id
    directory.mkdir(parents=True, mode=0o700)
    if os.geteuid() == 0:
        os.chown(directory, *SANDBOX_USER)
    return directory


def _run_container(
    fn, directory: Path, env: dict[str, str], payload: bytes, request_id: str, result_dir: Path
):
    """(output, timed out, exit code) of one invocation in a container of images.LAMBDA_IMAGE."""
    image = images.ensure_lambda_runtime()
    name = containers.container_name(f"lambda-{request_id}")
    memory = f"{int(fn.memory_size or 128)}m"
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
    for key, value in env.items():
        if key in _SECRET_VARIABLES:
            client_env[key] = value
            argv += ["-e", key]
        else:
            argv += ["-e", f"{key}={value}"]
    argv += [image, "python", "/var/runtime/bootstrap.py", fn.handler, f"{RESULT_DIR}/result.json"]
    proc = procs.start(
        containers.podman(*argv),
        client_env,
        directory,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    timed_out = False
    try:
        output, _ = proc.communicate(payload, timeout=float(fn.timeout or 3) + CONTAINER_START_ALLOWANCE_S)
    except subprocess.TimeoutExpired:
        timed_out = True
        containers.kill(name)  # the container itself, not only the podman client
        containers.remove(name)
        try:
            output, _ = proc.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            procs.kill_tree(proc)
            output, _ = proc.communicate()
            containers.remove(name)  # in case the client was still creating it
    finally:
        procs.forget(proc)
    return output, timed_out, proc.returncode


def _run_process(fn, directory: Path, env: dict[str, str], payload: bytes, result_file: Path):
    """(output, timed out, exit code) of one invocation as a host process of the project's Python."""
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(directory), env.get("PYTHONPATH")]))
    proc = procs.start(
        [sys.executable, "-m", "localcloud.lambda_bootstrap", fn.handler, str(result_file)],
        env,
        directory,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    timed_out = False
    try:
        output, _ = proc.communicate(payload, timeout=float(fn.timeout or 3))
    except subprocess.TimeoutExpired:
        timed_out = True
        procs.kill_tree(proc)
        output, _ = proc.communicate()
    finally:
        procs.kill_tree(proc)
        procs.forget(proc)
    return output, timed_out, proc.returncode


def _exit_reason(returncode: int | None, in_container: bool) -> str:
    # podman run exits 128+N when the container's process died of signal N (137: SIGKILL, e.g. the kernel's
    # OOM killer at MemorySize); AWS reports that as "signal: killed".
    if in_container and returncode == 137:
        return "signal: killed"
    return f"exit status {returncode}"


def invoke(fn, event) -> tuple[str, bool, str]:
    """Run the handler once; return (payload JSON, errored, log text) as moto's _invoke_lambda does."""
    request_id = str(uuid.uuid4())
    today = datetime.now(UTC)
    log_stream = f"{today:%Y/%m/%d}/[{fn.version}]{uuid.uuid4().hex}"
    try:
        credentials = execution_role_credentials(fn)
    except runtime.RoleNotAssumable as err:
        message = (
            f"The role defined for the function cannot be assumed by Lambda: {err.role_arn} ({err.reason})"
        )
        log.warning("%s: %s", fn.function_name, message)
        return _error("AccessDeniedException", message), True, message
    directory = code_dir(fn.code_bytes)
    timeout = float(fn.timeout or 3)
    payload_in = (event if isinstance(event, str) else json.dumps(event)).encode()
    in_container = containers.mode() == "container"
    started = datetime.now(UTC)
    if in_container:
        result_dir = _result_dir(request_id)
        result_file = result_dir / "result.json"
        env = _container_environment(fn, log_stream, request_id, credentials)
        try:
            output, timed_out, returncode = _run_container(
                fn, directory, env, payload_in, request_id, result_dir
            )
        except images.ImageBuildError as err:
            shutil.rmtree(result_dir, ignore_errors=True)
            log.error("no Lambda runtime image: %s", err)
            message = (
                f"RequestId: {request_id} Error: the local Lambda runtime image could not be built: {err}"
            )
            return _error("Runtime.Unknown", message), True, message
    else:
        result_dir = None
        result_file = Path(tempfile.mkstemp(prefix="result-", suffix=".json", dir=config.state_dir())[1])
        env = _environment(fn, log_stream, request_id, credentials)
        output, timed_out, returncode = _run_process(fn, directory, env, payload_in, result_file)
    text = output.decode("utf-8", errors="replace")
    try:
        result = json.loads(result_file.read_text()) if result_file.stat().st_size else None
    except (OSError, ValueError):
        result = None
    finally:
        result_file.unlink(missing_ok=True)
        if result_dir is not None:
            shutil.rmtree(result_dir, ignore_errors=True)
    if timed_out:
        payload, errored = _error("Sandbox.Timedout", f"Task timed out after {timeout:.2f} seconds"), True
    elif result is None:
        reason = _exit_reason(returncode, in_container)
        message = f"RequestId: {request_id} Error: Runtime exited with error: {reason}"
        payload, errored = _error("Runtime.ExitError", message), True
    else:
        payload, errored = result["payload"], bool(result["errored"])
    millis = (datetime.now(UTC) - started).total_seconds() * 1000
    lines = [f"START RequestId: {request_id} Version: {fn.version}", *text.splitlines()]
    if result is None and not timed_out:
        lines.append(json.loads(payload)["errorMessage"])
    lines += [f"END RequestId: {request_id}", f"REPORT RequestId: {request_id}\tDuration: {millis:.2f} ms"]
    _save_logs(fn, log_stream, lines)
    return payload, errored, "\n".join(lines)
