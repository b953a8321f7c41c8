"""Lambda Invoke runs the deployed zip in a subprocess: environment, aliases, errors, timeout, async."""

from __future__ import annotations

import io
import json
import time
import zipfile

import pytest

from tests.unit.localcloud.conftest import LAMBDA_LOGS, unique, wait_for, workload_role

SOURCE = """
import os, sys, time


class SpecTooLarge(Exception):
    pass


def handler(event, context):
    if event.get("raise"):
        raise SpecTooLarge("spec is 70 MB")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("touch"):
        open(event["touch"], "w").close()
    print("log line from the handler")
    return {
        "colour": os.environ["COLOUR"],
        "endpoint": os.environ["AWS_ENDPOINT_URL"],
        "name": context.function_name,
        "python": sys.executable,
        "remaining_ms": context.get_remaining_time_in_millis(),
    }
"""


@pytest.fixture(scope="module")
def function(cloud):
    lam = cloud.client("lambda")
    role = workload_role(cloud, "lambda.amazonaws.com", LAMBDA_LOGS)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app/main.py", SOURCE)
    name = unique("fn")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=role,
        Handler="app/main.handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=2,
        Environment={"Variables": {"COLOUR": "#FF0000"}},
    )
    version = lam.publish_version(FunctionName=name)["Version"]
    return lam.create_alias(FunctionName=name, Name="live", FunctionVersion=version)["AliasArn"]


def _invoke(cloud, function, event, **kwargs):
    response = cloud.client("lambda").invoke(
        FunctionName=function, Payload=json.dumps(event).encode(), **kwargs
    )
    return response, json.loads(response["Payload"].read() or b"null")


def test_alias_invocation_runs_the_handler_with_its_environment(cloud, function):
    response, payload = _invoke(cloud, function, {})
    assert "FunctionError" not in response
    assert payload["colour"] == "#FF0000" and payload["endpoint"] == cloud.endpoint
    assert payload["name"] == function.split(":")[6]
    assert 0 < payload["remaining_ms"] <= 2000


def test_exception_becomes_an_unhandled_function_error_named_after_its_class(cloud, function):
    response, payload = _invoke(cloud, function, {"raise": True})
    assert response["FunctionError"] == "Unhandled"
    assert payload["errorType"] == "SpecTooLarge" and payload["errorMessage"] == "spec is 70 MB"
    assert any("main.py" in line for line in payload["stackTrace"])


def test_timeout_kills_the_invocation(cloud, function):
    started = time.monotonic()
    response, payload = _invoke(cloud, function, {"sleep": 30})
    assert time.monotonic() - started < 10
    assert response["FunctionError"] == "Unhandled" and payload["errorType"] == "Sandbox.Timedout"


def test_event_invocation_returns_at_once_and_runs_in_the_background(cloud, function, tmp_path):
    marker = tmp_path / "ran"
    response = cloud.client("lambda").invoke(
        FunctionName=function, InvocationType="Event", Payload=json.dumps({"sleep": 1, "touch": str(marker)})
    )
    assert response["StatusCode"] == 202 and not marker.exists()
    wait_for(marker.exists, timeout=15)
