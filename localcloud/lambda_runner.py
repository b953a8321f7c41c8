"""Runs a moto LambdaFunction's deployed zip in a subprocess with the project's Python (no Docker).

The zip is extracted once per code sha256 under <state>/lambda/code/. The process gets the function's
environment variables, the Lambda runtime variables, AWS_ENDPOINT_URL and its execution role's credentials,
and is killed (with its process group) at the function's timeout. Output goes to the function's log group.
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

from localcloud import config, procs, runtime

log = logging.getLogger("localcloud.lambda")


def code_dir(code_bytes: bytes) -> Path:
    digest = hashlib.sha256(code_bytes).hexdigest()
    target = config.state_dir() / "lambda" / "code" / digest
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=".extract-"))
    with zipfile.ZipFile(io.BytesIO(code_bytes)) as archive:
        archive.extractall(staging)  # noqa: S202 - our own deployed zips
    try:
        staging.rename(target)  # atomic: concurrent first invocations race harmlessly
    except OSError:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def execution_role_credentials(fn) -> dict[str, str]:
    """A session of the function's execution role, assumed as lambda.amazonaws.com (one per function for a
    while, as an execution environment keeps its credentials). Raises runtime.RoleNotAssumable."""
    return runtime.role_credentials(fn.role, fn.function_name, runtime.LAMBDA, reuse=True)


def _environment(fn, log_stream: str, request_id: str, credentials: dict[str, str]) -> dict[str, str]:
    env = procs.base_env()
    env.update({str(k): str(v) for k, v in (fn.environment_vars or {}).items()})
    env.update(
        {
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
            "LAMBDA_TASK_ROOT": "",
        }
    )
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
    env = _environment(fn, log_stream, request_id, credentials)
    env["AWS_LAMBDA_FUNCTION_TIMEOUT"] = str(fn.timeout)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(directory), env.get("PYTHONPATH")]))
    timeout = float(fn.timeout or 3)
    result_file = Path(tempfile.mkstemp(prefix="result-", suffix=".json", dir=config.state_dir())[1])
    payload_in = event if isinstance(event, str) else json.dumps(event)
    started = datetime.now(UTC)
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
        output, _ = proc.communicate(payload_in.encode(), timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        procs.kill_tree(proc)
        output, _ = proc.communicate()
    finally:
        procs.kill_tree(proc)
        procs.forget(proc)
    text = output.decode("utf-8", errors="replace")
    try:
        result = json.loads(result_file.read_text()) if result_file.stat().st_size else None
    except (OSError, ValueError):
        result = None
    finally:
        result_file.unlink(missing_ok=True)
    if timed_out:
        payload, errored = _error("Sandbox.Timedout", f"Task timed out after {timeout:.2f} seconds"), True
    elif result is None:
        message = f"RequestId: {request_id} Error: Runtime exited with error: exit status {proc.returncode}"
        payload, errored = _error("Runtime.ExitError", message), True
    else:
        payload, errored = result["payload"], bool(result["errored"])
    millis = (datetime.now(UTC) - started).total_seconds() * 1000
    lines = [f"START RequestId: {request_id} Version: {fn.version}", *text.splitlines()]
    lines += [f"END RequestId: {request_id}", f"REPORT RequestId: {request_id}\tDuration: {millis:.2f} ms"]
    _save_logs(fn, log_stream, lines)
    return payload, errored, "\n".join(lines)
