"""Lambda without Docker: Invoke runs the deployed zip's handler in a podman container of the local runtime
image, or in a subprocess where containers cannot run (lambda_runner; the cloud's mode, chosen at boot).

An exception escaping the handler is reported as `X-Amz-Function-Error: Unhandled`, as AWS does (moto
always writes "Handled"); `InvocationType=Event` returns at once and runs the function in the background.
"""

from __future__ import annotations

import json
import threading

from moto.awslambda.models import LambdaFunction

from localcloud import lambda_runner

_original_invoke = LambdaFunction.invoke


def _invoke_lambda(self, event=None) -> tuple[str, bool, str]:
    return lambda_runner.invoke(self, event if event is not None else {})


def invoke(self, body, request_headers, response_headers):
    if request_headers.get("X-Amz-Invocation-Type") == "Event":
        event = json.loads(body) if body else {}
        threading.Thread(target=lambda_runner.invoke, args=(self, event), daemon=True).start()
        return b""
    payload = _original_invoke(self, body, request_headers, response_headers)
    if response_headers.get("x-amz-function-error") == "Handled":
        response_headers["x-amz-function-error"] = "Unhandled"
    response_headers["x-amz-executed-version"] = str(self.version)
    return payload


def apply() -> None:
    LambdaFunction._invoke_lambda = _invoke_lambda
    LambdaFunction.invoke = invoke
