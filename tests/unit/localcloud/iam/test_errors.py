"""Denials reach SDKs as the errors AWS gives (localcloud/iam/errors.py).

Each answer goes back to a real boto3 client in place of the server's, so the assertions are on the
ClientError a workload would catch; the SQS query protocol, which boto3 no longer speaks, goes through
botocore's own query parser.
"""

from __future__ import annotations

import urllib.parse

import pytest
from botocore.awsrequest import AWSResponse
from botocore.exceptions import ClientError
from botocore.parsers import create_parser
from urllib3 import HTTPHeaderDict
from werkzeug.test import EnvironBuilder

from localcloud.iam import errors, requests
from localcloud.server import request_service

from .test_requests import client, on_send

MESSAGE = (
    "User: arn:aws:sts::123456789012:assumed-role/farm-worker/job-1 is not authorized to perform: "
    "s3:PutObject on resource: arn:aws:s3:::b/k because no identity-based policy allows the "
    "s3:PutObject action"
)
QUEUE_URL = "http://127.0.0.1:4599/123456789012/q"
TOPIC = "arn:aws:sns:us-east-1:123456789012:t"


class _Raw:
    def __init__(self, body: bytes):
        self._body = body

    def stream(self, **_kwargs):
        yield self._body


def _respond(write):
    """A before-send answer that runs `write(service, environ, start_response)` as the server would."""

    def answer(environ, _body):
        seen = {}

        def start_response(status, headers, _exc_info=None):
            seen["status"], seen["headers"] = int(status.split()[0]), headers

        body = b"".join(write(request_service(environ), environ, start_response))
        length = dict(seen["headers"])["Content-Length"]
        assert length == str(len(body))
        return AWSResponse("http://127.0.0.1:1/", seen["status"], HTTPHeaderDict(seen["headers"]), _Raw(body))

    return answer


def error_of(write, service: str, operation: str, **params) -> ClientError:
    made = client(service)
    on_send(made, _respond(write))
    with pytest.raises(ClientError) as caught:
        getattr(made, operation)(**params)
    return caught.value


def denied(environ_service, environ, start_response):
    return errors.access_denied(environ_service, environ, start_response, MESSAGE)


def unknown_key(environ_service, environ, start_response):
    return errors.invalid_credentials(environ_service, environ, start_response)


def seen(error: ClientError) -> tuple[str, str, int]:
    return (
        error.response["Error"]["Code"],
        error.response["Error"]["Message"],
        error.response["ResponseMetadata"]["HTTPStatusCode"],
    )


# (service, operation, params, the code AWS answers, its status)
DENIALS = [
    ("s3", "get_object", {"Bucket": "b", "Key": "k"}, "AccessDenied", 403),
    ("s3", "put_object", {"Bucket": "b", "Key": "k", "Body": b"x"}, "AccessDenied", 403),
    ("s3", "list_objects_v2", {"Bucket": "b"}, "AccessDenied", 403),
    ("sns", "publish", {"TopicArn": TOPIC, "Message": "m"}, "AuthorizationError", 403),
    (
        "sts",
        "assume_role",
        {"RoleArn": "arn:aws:iam::123456789012:role/r", "RoleSessionName": "job-1"},
        "AccessDenied",
        403,
    ),
    ("iam", "get_role", {"RoleName": "r"}, "AccessDenied", 403),
    ("sqs", "send_message", {"QueueUrl": QUEUE_URL, "MessageBody": "m"}, "AccessDenied", 403),
    ("kms", "decrypt", {"CiphertextBlob": b"x"}, "AccessDeniedException", 400),
    (
        "stepfunctions",
        "start_execution",
        {"stateMachineArn": "arn:aws:states:us-east-1:1:stateMachine:m"},
        "AccessDeniedException",
        400,
    ),
    ("logs", "create_log_stream", {"logGroupName": "g", "logStreamName": "s"}, "AccessDeniedException", 400),
    ("events", "put_rule", {"Name": "r", "EventPattern": "{}"}, "AccessDeniedException", 400),
    ("ecr", "get_authorization_token", {}, "AccessDeniedException", 400),
    ("lambda", "invoke", {"FunctionName": "f", "Payload": b"{}"}, "AccessDeniedException", 403),
    (
        "batch",
        "submit_job",
        {"jobName": "j", "jobQueue": "q", "jobDefinition": "d"},
        "AccessDeniedException",
        403,
    ),
]


@pytest.mark.parametrize(
    ("service", "operation", "params", "code", "status"), DENIALS, ids=[d[1] for d in DENIALS]
)
def test_an_sdk_sees_the_denial_aws_gives(service, operation, params, code, status):
    assert seen(error_of(denied, service, operation, **params)) == (code, MESSAGE, status)


def test_a_denied_head_has_no_body_as_on_s3():
    error = error_of(denied, "s3", "head_object", Bucket="b", Key="k")
    assert seen(error) == ("403", "Forbidden", 403)


# (service, operation, params, code, status, message)
UNKNOWN_KEYS = [
    ("s3", "get_object", {"Bucket": "b", "Key": "k"}, "InvalidAccessKeyId", 403, errors.UNKNOWN_ACCESS_KEY),
    (
        "sns",
        "publish",
        {"TopicArn": TOPIC, "Message": "m"},
        "InvalidClientTokenId",
        403,
        errors.INVALID_TOKEN,
    ),
    ("sts", "get_caller_identity", {}, "InvalidClientTokenId", 403, errors.INVALID_TOKEN),
    ("sqs", "receive_message", {"QueueUrl": QUEUE_URL}, "InvalidClientTokenId", 403, errors.INVALID_TOKEN),
    ("kms", "decrypt", {"CiphertextBlob": b"x"}, "UnrecognizedClientException", 400, errors.INVALID_TOKEN),
    (
        "logs",
        "put_log_events",
        {"logGroupName": "g", "logStreamName": "s", "logEvents": [{"timestamp": 1, "message": "m"}]},
        "UnrecognizedClientException",
        400,
        errors.INVALID_TOKEN,
    ),
    ("lambda", "invoke", {"FunctionName": "f"}, "UnrecognizedClientException", 403, errors.INVALID_TOKEN),
    ("batch", "describe_jobs", {"jobs": ["j"]}, "UnrecognizedClientException", 403, errors.INVALID_TOKEN),
]


@pytest.mark.parametrize(
    ("service", "operation", "params", "code", "status", "message"),
    UNKNOWN_KEYS,
    ids=[k[0] for k in UNKNOWN_KEYS],
)
def test_an_sdk_sees_unknown_credentials_as_aws_reports_them(
    service, operation, params, code, status, message
):
    assert seen(error_of(unknown_key, service, operation, **params)) == (code, message, status)


def test_s3_names_the_unknown_access_key():
    error = error_of(unknown_key, "s3", "get_object", Bucket="b", Key="k")
    assert error.response["Error"]["AWSAccessKeyId"] == "AKIAWORKLOADKEY00001"


def _sqs_query_request() -> dict:
    body = urllib.parse.urlencode({"Action": "SendMessage", "QueueUrl": QUEUE_URL, "MessageBody": "m"})
    return EnvironBuilder(
        path="/", method="POST", content_type="application/x-www-form-urlencoded", data=body
    ).get_environ()


def test_the_sqs_query_protocol_gets_a_query_error():
    environ, captured = _sqs_query_request(), {}

    def start_response(status, headers, _exc_info=None):
        captured["status"], captured["headers"] = int(status.split()[0]), dict(headers)

    body = b"".join(errors.access_denied("sqs", environ, start_response, MESSAGE))
    assert body.startswith(b"<ErrorResponse")
    output = requests.service_model("sqs").operation_model("SendMessage").output_shape
    response = {
        "status_code": captured["status"],
        "headers": HTTPHeaderDict(captured["headers"]),
        "body": body,
    }
    parsed = create_parser("query").parse(response, output)
    assert (parsed["Error"]["Code"], parsed["Error"]["Message"], parsed["Error"]["Type"]) == (
        "AccessDenied",
        MESSAGE,
        "Sender",
    )
    assert captured["status"] == 403


def test_the_status_can_be_chosen_and_messages_are_escaped():
    environ = EnvironBuilder(path="/b/k", method="GET").get_environ()
    captured = {}

    def start_response(status, headers, _exc_info=None):
        captured["status"] = status

    body = b"".join(
        errors.answer("s3", environ, start_response, code="SlowDown", message="<a & b>", status=503)
    )
    assert captured["status"].startswith("503 ")
    parsed = create_parser("rest-xml").parse(
        {"status_code": 503, "headers": HTTPHeaderDict(), "body": body},
        requests.service_model("s3").operation_model("GetObject").output_shape,
    )
    assert (parsed["Error"]["Code"], parsed["Error"]["Message"]) == ("SlowDown", "<a & b>")


def test_access_denied_codes_per_service():
    json_request = {"HTTP_X_AMZ_TARGET": "AmazonSQS.SendMessage"}
    assert errors.access_denied_code("s3") == "AccessDenied"
    assert errors.access_denied_code("sns") == "AuthorizationError"
    assert errors.access_denied_code("sts") == "AccessDenied"
    assert errors.access_denied_code("sqs", json_request) == "AccessDenied"
    assert errors.access_denied_code("kms") == "AccessDeniedException"
    assert errors.access_denied_code("lambda") == "AccessDeniedException"
