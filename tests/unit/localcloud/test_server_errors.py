"""The local cloud counts its unexpected server errors (answers >= 500, unhandled exceptions), logs each with
its traceback, and reports them on config.ERRORS_PATH, in `localcloud status` and in lifecycle.new_errors."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.request
from typing import Any

import pytest
from werkzeug.test import EnvironBuilder

from localcloud import cli, config, credentials, lifecycle, server
from tests.unit.localcloud.conftest import free_port

SIGNED = {"Authorization": "AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/sqs/aws4_request,Signature=s"}


def _call(app, path: str = "/", method: str = "POST", headers: dict[str, str] | None = None, **environ):
    """Drive a WSGI app as werkzeug's server does: call, iterate, close. Returns (status, headers, body)."""
    env = EnvironBuilder(path=path, method=method, headers=headers or SIGNED).get_environ()
    env.update(environ)
    answer: dict[str, Any] = {}

    def start_response(status, headers, exc_info=None):
        answer["status"], answer["headers"] = int(status.split()[0]), dict(headers)

    body = app(env, start_response)
    try:
        data = b"".join(body)
    finally:
        if hasattr(body, "close"):
            body.close()
    return answer["status"], answer["headers"], data


def _answering(status: str, body: bytes = b"", headers: list[tuple[str, str]] = ()):
    def app(environ, start_response):
        start_response(status, [("Content-Type", "application/xml"), *headers])
        return [body]

    return app


def _raising(environ, start_response):
    start_response("200 OK", [])  # a status already set: the 500 replaces it
    raise AttributeError("'FakeDeleteMarker' object has no attribute 'dispose'")


@pytest.fixture
def errors() -> server.ServerErrors:
    return server.ServerErrors()


def test_an_exception_is_answered_500_counted_and_logged(errors, caplog):
    status, _, body = _call(server.count_errors(_raising, errors), "/bucket/key", "DELETE")
    assert status == 500 and b"Internal Server Error" in body
    snapshot = errors.snapshot()
    assert snapshot["count"] == 1 and snapshot["injected"] == 0
    (entry,) = snapshot["recent"]
    assert entry | {"time": None} == {
        "time": None,
        "kind": "exception",
        "method": "DELETE",
        "path": "/bucket/key",
        "service": "sqs",
        "status": 500,
        "error": "AttributeError: 'FakeDeleteMarker' object has no attribute 'dispose'",
    }
    logged = caplog.text
    assert "unexpected server error #1: DELETE /bucket/key (sqs) -> 500" in logged
    assert "Traceback (most recent call last)" in logged and "in _raising" in logged


def test_client_errors_are_not_counted(errors):
    for status in ("400 Bad Request", "403 Forbidden", "404 Not Found", "409 Conflict"):
        _call(server.count_errors(_answering(status), errors))
    assert errors.snapshot() == {"count": 0, "injected": 0, "recent": []}


def test_a_client_that_hangs_up_mid_request_is_not_a_server_error(errors, caplog):
    """A Spot-reclaimed job killed during an upload resets the connection while the body is read."""

    def reading(environ, start_response):
        raise ConnectionResetError(104, "Connection reset by peer")

    caplog.set_level("INFO", logger="localcloud")
    status, _, body = _call(server.count_errors(reading, errors), "/bucket/key", "PUT")
    assert (status, body) == (400, b"")
    assert errors.snapshot()["count"] == 0
    assert "client went away during PUT /bucket/key" in caplog.text


def test_a_5xx_answer_is_counted_with_what_its_body_says(errors):
    body = b"<Error><Code>InternalError</Code><Message>We encountered an internal error</Message></Error>"
    _call(server.count_errors(_answering("500 Internal Server Error", body), errors))
    _call(server.count_errors(_answering("501 Not Implemented", b'{"__type": "X", "message": "no"}'), errors))
    recent = errors.snapshot()["recent"]
    assert [(e["kind"], e["status"], e["error"]) for e in recent] == [
        ("answer", 500, "InternalError: We encountered an internal error"),
        ("answer", 501, "X: no"),
    ]


def test_injected_faults_are_counted_apart(errors):
    slow_down = b"<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>"
    marked = _answering("503 Slow Down", slow_down, [(config.INJECTED_HEADER, "1")])
    status, headers, _ = _call(server.count_errors(marked, errors))
    assert status == 503 and headers[config.INJECTED_HEADER] == "1"
    flagged = {config.INJECTED_ENVIRON: True}  # what an inner fault-injecting layer may set instead
    _call(server.count_errors(_answering("503 Slow Down", slow_down), errors), **flagged)
    _call(server.count_errors(_raising, errors), **flagged)
    assert errors.snapshot() == {"count": 0, "injected": 3, "recent": []}
    _call(server.count_errors(_answering("503 Slow Down", slow_down), errors))  # not marked: unexpected
    assert errors.snapshot()["count"] == 1


def test_only_the_last_ones_are_kept():
    errors = server.ServerErrors(keep=3)
    for i in range(5):
        _call(server.count_errors(_answering("500 Oops", f"failure {i}".encode()), errors))
    snapshot = errors.snapshot()
    assert snapshot["count"] == 5 and [e["error"] for e in snapshot["recent"]] == [
        "failure 2",
        "failure 3",
        "failure 4",
    ]


def test_routes_answer_before_the_app_and_are_not_counted(errors, monkeypatch):
    monkeypatch.setenv("LOCALCLOUD_IAM", "off")  # no admin keys in this process: IAM would refuse the POST
    app = server.with_routes(_raising, "boot-1", errors)
    status, _, body = _call(app, config.ERRORS_PATH, "GET")
    assert status == 200
    assert json.loads(body) == {"boot_id": "boot-1", "count": 0, "injected": 0, "recent": []}
    status, _, body = _call(app, config.HEALTH_PATH, "GET")
    assert status == 200 and json.loads(body)["boot_id"] == "boot-1"
    assert _call(app, "/", "POST")[0] == 500
    assert json.loads(_call(app, config.ERRORS_PATH, "GET")[2])["count"] == 1


def test_background_thread_exceptions_count(errors, monkeypatch):
    monkeypatch.setattr(threading, "excepthook", lambda args: None)  # restored after the test
    server._count_thread_exceptions(errors)

    def fail():
        raise RuntimeError("execution thread died")

    worker = threading.Thread(target=fail, name="sfn-execution")
    worker.start()
    worker.join()
    (entry,) = errors.snapshot()["recent"]
    assert entry["kind"] == "thread" and entry["error"] == "RuntimeError: execution thread died"


@pytest.mark.parametrize(
    ("headers", "query", "expected"),
    [
        (SIGNED, "", "sqs"),
        ({}, "X-Amz-Credential=test%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Signature=x", "s3"),
        ({"X-Amz-Target": "AWSStepFunctions.StartExecution"}, "", "AWSStepFunctions"),
        ({}, "", "unknown"),
    ],
)
def test_the_service_of_a_request(headers, query, expected):
    environ = EnvironBuilder(path="/", headers=headers, query_string=query).get_environ()
    assert server.request_service(environ) == expected


# ---- new_errors: what a session reports ------------------------------------------------------------------


def test_new_errors_reads_the_log_from_the_mark(tmp_path):
    log = tmp_path / config.LOG_FILE
    log.write_text("2026-01-01 INFO localcloud Traceback (most recent call last) was here before\n")
    port = free_port()  # nothing listens: only the log is read
    mark = lifecycle.error_mark(port, tmp_path)
    assert mark["boot_id"] is None and mark["log_offset"] == log.stat().st_size
    assert lifecycle.new_errors(mark, port, tmp_path) == []
    with log.open("a") as out:
        out.write(
            "2026-01-01 ERROR localcloud unexpected server error #1: GET / (s3) -> 500 KeyError: 'x'\n"
            "Traceback (most recent call last):\n"
            '  File "a.py", line 1, in f\n'
            "KeyError: 'x'\n"
            "\n"
            "During handling of the above exception, another exception occurred:\n"
            "\n"
            "Traceback (most recent call last):\n"
            '  File "b.py", line 2, in g\n'
            "ValueError: y\n"
            "2026-01-01 INFO localcloud fine again\n"
            "Exception in thread worker:\n"
            "Traceback (most recent call last):\n"
            '  File "c.py", line 3, in h\n'
            "RuntimeError: z\n"
        )
    problems = lifecycle.new_errors(mark, port, tmp_path)
    assert problems[0] == f"the local cloud's log {log} gained 2 traceback(s):"
    text = "\n".join(problems)
    assert "ValueError: y" in text and "RuntimeError: z" in text and "fine again" not in text


# ---- through a real local cloud ---------------------------------------------------------------------------


def _post(endpoint: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(endpoint + "/", data=body, headers=headers)  # noqa: S310 - http://127.0.0.1
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310
            return response.status
    except urllib.error.HTTPError as err:
        return err.code


def _signed_as_admin(endpoint: str, body: bytes, state_dir=None) -> dict[str, str]:
    """The headers of a form post of `body` to `endpoint`/, signed (SigV4) with the cloud's admin key pair."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    keys = credentials.for_endpoint(endpoint, state_dir)
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    request = AWSRequest(method="POST", url=endpoint + "/", data=body, headers=form)
    SigV4Auth(Credentials(keys.access_key_id, keys.secret_access_key), "sqs", keys.region).add_auth(request)
    return dict(request.headers.items())


def test_a_request_that_makes_moto_raise_is_counted(cloud, capsys):
    mark = lifecycle.error_mark(cloud.port, cloud.state_dir)
    body = b"Action=NoSuchAction&Version=2012-11-05"
    assert _post(cloud.endpoint, body, _signed_as_admin(cloud.endpoint, body, cloud.state_dir)) == 500

    counted = lifecycle.errors(cloud.port)
    assert counted["count"] == mark["count"] + 1
    entry = counted["recent"][-1]
    assert (entry["kind"], entry["method"], entry["path"], entry["service"], entry["status"]) == (
        "exception", "POST", "/", "sqs", 500,
    )  # fmt: skip
    assert entry["error"] == "botocore.model.OperationNotFoundError: NoSuchAction"
    problems = lifecycle.new_errors(mark, cloud.port, cloud.state_dir)
    assert "counted 1 unexpected server error(s) during this session" in problems[0]
    assert any("gained 1 traceback(s)" in line for line in problems)

    assert cli.main(["--port", str(cloud.port), "--state-dir", str(cloud.state_dir), "status"]) == 0
    printed = capsys.readouterr().out
    # Other tests on this shared cloud may have injected faults (localcloud/faults.py): any number here.
    assert re.search(rf"unexpected server errors {counted['count']} \(injected faults \d+\)", printed)
    assert "NoSuchAction" in printed


def test_client_errors_of_a_real_cloud_are_not_counted(cloud):
    mark = lifecycle.error_mark(cloud.port, cloud.state_dir)
    sqs = cloud.client("sqs")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.get_queue_url(QueueName="no-such-queue")
    s3 = cloud.client("s3")
    with pytest.raises(s3.exceptions.NoSuchBucket):
        s3.list_objects_v2(Bucket="no-such-bucket-here")
    assert lifecycle.errors(cloud.port)["count"] == mark["count"]
    assert lifecycle.new_errors(mark, cloud.port, cloud.state_dir) == []


def test_the_static_suites_private_cloud_fails_when_it_had_errors():
    from tests.smoke.static import plans

    failing = pytest.raises(AssertionError, match="OperationNotFoundError: NoSuchAction")
    wrong, right = b"Action=NoSuchAction&Version=2012-11-05", b"Action=ListQueues&Version=2012-11-05"
    with failing, plans.local_cloud() as endpoint:
        assert _post(endpoint, wrong, _signed_as_admin(endpoint, wrong)) == 500
    with plans.local_cloud() as endpoint:  # and passes when it had none
        assert _post(endpoint, right, _signed_as_admin(endpoint, right)) == 200
