"""The runtime of one Lambda execution environment: `python bootstrap.py HANDLER RESULT_DIR TOKEN` in the
runtime container (mounted at /var/runtime/bootstrap.py), or `python -m localcloud.lambda_bootstrap HANDLER
RESULT_DIR TOKEN` as a host process. It serves invocations one at a time until its stdin closes.

Init: the handler's module is imported once, at start (its prints belong to the first invocation's log); then
`READY TOKEN` is printed. An import error or a missing handler is answered to the next invocation, which also
tells the runner to discard the environment (AWS retries the init in a new one).

Invocations: one JSON line each on stdin, {"request_id", "payload" (the event as JSON text), "deadline_ms"
(epoch milliseconds)}. The handler's return value (or the error document the Python runtime writes: errorType
= the exception's class name, errorMessage, stackTrace) goes to RESULT_DIR/<request_id>.json as JSON, so
whatever the handler prints stays in the log; then `END TOKEN` is printed on stdout (after everything the
handler printed to stdout and stderr), which ends that invocation's log. The handler reads no protocol: its
stdin is /dev/null. The working directory is the extracted code (/var/task).
Standard library only: in a container this runs on the runtime image's Python, beside the function's zip.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import os
import sys
import time
import traceback
import uuid

READY = "\x1elocalcloud-lambda-ready"
END = "\x1elocalcloud-lambda-end"


class Context:
    """The attributes and method of the Lambda Python runtime's context object that handlers use."""

    def __init__(self, request_id: str = "", deadline_ms: int | None = None) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("LOCALCLOUD_INVOKED_ARN", "")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.aws_request_id = request_id or str(uuid.uuid4())
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        if deadline_ms is None:
            timeout_s = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
            deadline_ms = int((time.time() + timeout_s) * 1000)
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int(self._deadline_ms - time.time() * 1000))


def _error(error_type: str, message: str, trace: list[str] | None = None) -> dict:
    return {"errorMessage": message, "errorType": error_type, "stackTrace": trace or []}


def load(handler_spec: str):
    """(the handler, None) or (None, the error document of a failed init)."""
    module_name, _, function_name = handler_spec.rpartition(".")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as err:
        return None, _error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {err}")
    handler = getattr(module, function_name, None)
    if not callable(handler):
        return None, _error(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'"
        )
    return handler, None


def invoke(handler, event, context: Context) -> tuple[object, bool]:
    try:
        return handler(event, context), False
    except Exception as err:
        trace = traceback.format_list(traceback.extract_tb(err.__traceback__)[1:])
        print(f"[ERROR] {type(err).__name__}: {err}", file=sys.stderr)
        return _error(type(err).__name__, str(err), [line.rstrip("\n") for line in trace]), True


def _emit(fd: int, line: str) -> None:
    """A protocol line on the original stdout, after everything the handler wrote."""
    for stream in (sys.stdout, sys.stderr):
        with contextlib.suppress(OSError, ValueError):
            stream.flush()
    os.write(fd, (line + "\n").encode())


def serve(handler_spec: str, result_dir: str, token: str) -> int:
    sys.path.insert(0, os.getcwd())
    channel = os.fdopen(os.dup(0), "r", encoding="utf-8")
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)  # the handler's stdin: nothing of the protocol
    os.close(null)
    out = os.dup(1)
    handler, init_error = load(handler_spec)
    _emit(out, f"{READY} {token}")
    for line in channel:
        if not line.strip():
            continue
        request = json.loads(line)
        request_id = request["request_id"]
        reset = init_error is not None
        if init_error is not None:
            result, errored = init_error, True
        else:
            raw = request.get("payload") or ""
            event = json.loads(raw) if raw.strip() else {}
            result, errored = invoke(handler, event, Context(request_id, request.get("deadline_ms")))
        try:
            body = json.dumps(result)
        except (TypeError, ValueError) as err:
            body = json.dumps(_error("Runtime.MarshalError", f"Unable to marshal response: {err}"))
            errored = True
        with open(os.path.join(result_dir, f"{request_id}.json"), "w", encoding="utf-8") as done:
            json.dump({"errored": errored, "payload": body, "reset": reset}, done)
        _emit(out, f"{END} {token}")
    return 0


def main(argv: list[str]) -> int:
    handler_spec, result_dir, token = argv
    return serve(handler_spec, result_dir, token)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
