"""One Lambda invocation: `python bootstrap.py HANDLER RESULT_FILE` in the runtime container (mounted at
/var/runtime/bootstrap.py), or `python -m localcloud.lambda_bootstrap HANDLER RESULT_FILE` as a host process.

The event arrives on stdin; the handler's return value (or the error document the Python runtime writes:
errorType = the exception's class name, errorMessage, stackTrace) goes to RESULT_FILE as JSON, so whatever
the handler prints stays in the log. The working directory is the extracted code (/var/task).
Standard library only: in a container this runs on the runtime image's Python, beside the function's zip.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
import traceback
import uuid


class Context:
    """The attributes and method of the Lambda Python runtime's context object that handlers use."""

    def __init__(self) -> None:
        self.function_name = os.environ.get("AWS_LAMBDA_FUNCTION_NAME", "")
        self.function_version = os.environ.get("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        self.invoked_function_arn = os.environ.get("LOCALCLOUD_INVOKED_ARN", "")
        self.memory_limit_in_mb = os.environ.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        self.aws_request_id = os.environ.get("LOCALCLOUD_REQUEST_ID") or str(uuid.uuid4())
        self.log_group_name = os.environ.get("AWS_LAMBDA_LOG_GROUP_NAME", "")
        self.log_stream_name = os.environ.get("AWS_LAMBDA_LOG_STREAM_NAME", "")
        self.identity = None
        self.client_context = None
        timeout_s = float(os.environ.get("AWS_LAMBDA_FUNCTION_TIMEOUT", "3"))
        self._deadline = time.monotonic() + timeout_s

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


def _error(error_type: str, message: str, trace: list[str] | None = None) -> dict:
    return {"errorMessage": message, "errorType": error_type, "stackTrace": trace or []}


def invoke(handler_spec: str, event) -> tuple[object, bool]:
    module_name, _, function_name = handler_spec.rpartition(".")
    try:
        module = importlib.import_module(module_name.replace("/", "."))
    except Exception as err:
        return _error("Runtime.ImportModuleError", f"Unable to import module '{module_name}': {err}"), True
    handler = getattr(module, function_name, None)
    if not callable(handler):
        return _error(
            "Runtime.HandlerNotFound", f"Handler '{function_name}' missing on module '{module_name}'"
        ), True
    context = Context()
    try:
        return handler(event, context), False
    except Exception as err:
        trace = traceback.format_list(traceback.extract_tb(err.__traceback__)[1:])
        print(f"[ERROR] {type(err).__name__}: {err}", file=sys.stderr)
        return _error(type(err).__name__, str(err), [line.rstrip("\n") for line in trace]), True


def main(argv: list[str]) -> int:
    handler_spec, result_file = argv
    sys.path.insert(0, os.getcwd())
    raw = sys.stdin.read()
    event = json.loads(raw) if raw.strip() else {}
    result, errored = invoke(handler_spec, event)
    try:
        body = json.dumps(result)
    except (TypeError, ValueError) as err:
        body, errored = json.dumps(_error("Runtime.MarshalError", f"Unable to marshal response: {err}")), True
    with open(result_file, "w", encoding="utf-8") as out:
        json.dump({"errored": errored, "payload": body}, out)
    sys.stdout.flush()
    sys.stderr.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
