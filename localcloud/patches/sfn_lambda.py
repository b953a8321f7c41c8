"""Step Functions `lambda:invoke`: the `lambda_throttle` fault (localcloud/faults.py), off unless switched on.

moto's integration (`lambda_eval_utils._invoke_lambda_function`, called by StateTaskServiceLambda) invokes the
function through boto3 with retries off. While the fault is on, a share of those calls fail before reaching
the function, as Lambda's API fails them when concurrency runs out: HTTP 429 `TooManyRequestsException`
"Rate Exceeded." (Reason `ReservedFunctionConcurrentInvocationLimitExceeded`). The integration turns it into
the state error `Lambda.TooManyRequestsException` with AWS's cause text, which the state's Retry sees.
"""

from __future__ import annotations

import uuid

from botocore.exceptions import ClientError
from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils

from localcloud import faults

_original_invoke = lambda_eval_utils._invoke_lambda_function


def throttled(operation: str = "Invoke") -> ClientError:
    """The ClientError botocore raises for Lambda's 429 answer."""
    request_id = str(uuid.uuid4())
    return ClientError(
        {
            "Error": {"Code": "TooManyRequestsException", "Message": faults.THROTTLE_MESSAGE},
            "ResponseMetadata": {
                "RequestId": request_id,
                "HTTPStatusCode": 429,
                "HTTPHeaders": {
                    "content-type": "application/json",
                    "x-amzn-requestid": request_id,
                    "x-amzn-errortype": "TooManyRequestsException",
                },
                "RetryAttempts": 0,
            },
            "Type": "User",
            "message": faults.THROTTLE_MESSAGE,
            "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded",
        },
        operation,
    )


def _invoke_lambda_function(parameters: dict, region: str, state_credentials):
    if faults.active():
        payload = parameters.get("Payload") or b""
        text = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
        target = f"{parameters.get('FunctionName')}\n{text}"  # the same state's retries share it
        if faults.draw("lambda_throttle", target):
            raise throttled()
    return _original_invoke(parameters, region, state_credentials)


def apply() -> None:
    lambda_eval_utils._invoke_lambda_function = _invoke_lambda_function
