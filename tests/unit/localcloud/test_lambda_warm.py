"""Warm Lambda execution environments (process mode; container mode in test_lambda_containers.py): one
environment serves invocations one at a time and is reused, as on AWS; a timeout, a crash or a failed init
discards it; new code or configuration never reaches an old one; idle environments are reaped."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from localcloud import lambda_warm, procs, runtime
from localcloud.lambda_bootstrap import END
from tests.unit.localcloud.conftest import LAMBDA_LOGS, unique, workload_role

SOURCE = """
import os, sys, time

calls = 0
STATE = object()
print("init of {tag}")


def handler(event, context):
    global calls
    calls += 1
    print(f"invocation {{context.aws_request_id}}")
    if event.get("partial"):
        sys.stdout.write("no newline at the end")
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("crash"):
        os._exit(3)
    return {{
        "tag": "{tag}",
        "pid": os.getpid(),
        "state": id(STATE),
        "calls": calls,
        "request_id": context.aws_request_id,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "colour": os.environ.get("COLOUR"),
        "stdin": sys.stdin.read(),
        "stream": context.log_stream_name,
    }}
"""


def _zip(tag: str = "v1", source: str = SOURCE) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source.format(tag=tag))
    return buffer.getvalue()


@pytest.fixture
def function(cloud):
    lam = cloud.client("lambda")
    name = unique("warm")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=workload_role(cloud, "lambda.amazonaws.com", LAMBDA_LOGS),
        Handler="app.handler",
        Code={"ZipFile": _zip()},
        Timeout=2,
        Environment={"Variables": {"COLOUR": "red"}},
    )
    return name


def _invoke(cloud, name: str, event: dict | None = None) -> tuple[dict, dict, str]:
    response = cloud.client("lambda").invoke(
        FunctionName=name, Payload=json.dumps(event or {}).encode(), LogType="Tail"
    )
    payload = json.loads(response["Payload"].read() or b"null")
    return response, payload, base64.b64decode(response.get("LogResult", "")).decode()


def test_a_second_invocation_reuses_the_environment_with_its_own_request_id_and_log(cloud, function):
    _, first, first_log = _invoke(cloud, function)
    _, second, second_log = _invoke(cloud, function)
    assert (second["pid"], second["state"]) == (first["pid"], first["state"])
    assert (first["calls"], second["calls"]) == (1, 2)  # the module was imported once
    assert first["request_id"] != second["request_id"]
    assert 0 < second["remaining_ms"] <= 2000
    assert second["stdin"] == ""  # the handler never sees the runtime's protocol
    # Each invocation's log holds its own lines; the init's prints belong to the first one.
    assert first_log.splitlines()[0] == f"START RequestId: {first['request_id']} Version: $LATEST"
    assert "init of v1" in first_log and "init of v1" not in second_log
    assert f"invocation {second['request_id']}" in second_log
    assert first["request_id"] not in second_log
    assert second_log.splitlines()[-2] == f"END RequestId: {second['request_id']}"
    # One log stream per execution environment, as on AWS.
    assert first["stream"] == second["stream"]
    logs = cloud.client("logs")
    streams = logs.describe_log_streams(logGroupName=f"/aws/lambda/{function}")["logStreams"]
    assert [stream["logStreamName"] for stream in streams] == [first["stream"]]
    events = logs.get_log_events(logGroupName=f"/aws/lambda/{function}", logStreamName=first["stream"])
    starts = [event["message"] for event in events["events"] if event["message"].startswith("START")]
    assert len(starts) == 2


def test_output_without_a_final_newline_stays_in_the_invocation_log(cloud, function):
    _, payload, text = _invoke(cloud, function, {"partial": True})
    assert "no newline at the end" in text.splitlines()
    _, again, _ = _invoke(cloud, function)
    assert again["pid"] == payload["pid"]


def test_concurrent_invocations_get_separate_environments(cloud, function):
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: _invoke(cloud, function, {"sleep": 1})[1], range(2)))
    assert results[0]["pid"] != results[1]["pid"]
    assert {result["calls"] for result in results} == {1}
    # Both went back to the pool: two more (concurrent) invocations are served by them.
    with ThreadPoolExecutor(2) as pool:
        again = list(pool.map(lambda _: _invoke(cloud, function, {"sleep": 1})[1], range(2)))
    assert {result["pid"] for result in again} == {result["pid"] for result in results}


def test_a_timeout_discards_the_environment(cloud, function):
    _, before, _ = _invoke(cloud, function)
    started = time.monotonic()
    response, payload, _ = _invoke(cloud, function, {"sleep": 30})
    assert time.monotonic() - started < 10
    assert response["FunctionError"] == "Unhandled"
    assert payload == {
        "errorMessage": "Task timed out after 2.00 seconds",
        "errorType": "Sandbox.Timedout",
        "stackTrace": [],
    }
    _, after, _ = _invoke(cloud, function)
    assert after["pid"] != before["pid"] and after["calls"] == 1
    with pytest.raises(ProcessLookupError):
        os.kill(before["pid"], 0)


def test_a_crash_discards_the_environment(cloud, function):
    _, before, _ = _invoke(cloud, function)
    response, payload, text = _invoke(cloud, function, {"crash": True})
    assert response["FunctionError"] == "Unhandled" and payload["errorType"] == "Runtime.ExitError"
    assert payload["errorMessage"].endswith("Error: Runtime exited with error: exit status 3")
    assert payload["errorMessage"] in text.splitlines()
    _, after, _ = _invoke(cloud, function)
    assert after["pid"] != before["pid"] and after["calls"] == 1


def test_new_code_or_configuration_is_served_by_a_new_environment(cloud, function):
    lam = cloud.client("lambda")
    _, before, _ = _invoke(cloud, function)
    lam.update_function_code(FunctionName=function, ZipFile=_zip("v2"))
    _, code, _ = _invoke(cloud, function)
    assert code["tag"] == "v2" and code["pid"] != before["pid"] and code["calls"] == 1
    lam.update_function_configuration(FunctionName=function, Environment={"Variables": {"COLOUR": "blue"}})
    _, config, _ = _invoke(cloud, function)
    assert config["colour"] == "blue" and config["pid"] != code["pid"]
    with pytest.raises(ProcessLookupError):  # the old environments were retired at once
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            os.kill(before["pid"], 0)
            time.sleep(0.1)


def test_an_import_error_is_reported_to_every_invocation(cloud):
    lam = cloud.client("lambda")
    name = unique("broken")
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=workload_role(cloud, "lambda.amazonaws.com", LAMBDA_LOGS),
        Handler="app.handler",
        Code={"ZipFile": _zip(source="import not_installed_anywhere\n")},
        Timeout=2,
    )
    for _ in range(2):
        response, payload, _ = _invoke(cloud, name)
        assert response["FunctionError"] == "Unhandled"
        assert payload["errorType"] == "Runtime.ImportModuleError"
        assert "not_installed_anywhere" in payload["errorMessage"]


# ---- the pool and the protocol, in this process -----------------------------------------------------------


def _key(name: str = "fn", **changes) -> lambda_warm.Key:
    fields = {
        "function": (f"arn:aws:lambda:us-east-1:123456789012:function:{name}", "$LATEST"),
        "code_sha256": "0" * 64,
        "handler": "app.handler",
        "runtime": "python3.11",
        "mode": "process",
        "memory": 128,
        "timeout": 3.0,
        "variables": (),
        "role": "arn:aws:iam::123456789012:role/r",
        "access_key": "ASIA",
    }
    fields.update(changes)
    return lambda_warm.Key(**fields)


def _environment(tmp_path: Path, key: lambda_warm.Key | None = None) -> lambda_warm.Environment:
    """A real process-mode environment of SOURCE, started as lambda_runner does."""
    code = tmp_path / f"code-{os.urandom(4).hex()}"
    code.mkdir()
    (code / "app.py").write_text(SOURCE.format(tag="local"))
    results = code / "results"
    results.mkdir()
    token = lambda_warm.new_token()
    env = {**procs.base_env(), "PYTHONPATH": os.pathsep.join([str(code), *sys.path])}
    proc = procs.start(
        [sys.executable, "-m", "localcloud.lambda_bootstrap", "app.handler", str(results), token],
        env,
        code,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    environment = lambda_warm.Environment(key or _key(), proc, results, token, "stream")
    assert environment.wait_ready() is None
    return environment


def _request(request_id: str, event: dict | None = None, timeout: float = 3.0) -> str:
    deadline_ms = int((time.time() + timeout) * 1000)
    return json.dumps(
        {"request_id": request_id, "payload": json.dumps(event or {}), "deadline_ms": deadline_ms}
    )


def test_the_protocol_serves_invocations_one_by_one(tmp_path):
    environment = _environment(tmp_path)
    try:
        first = environment.invoke(_request("r-1"), 3.0)
        second = environment.invoke(_request("r-2"), 3.0)
        assert first.keeps_environment and second.keeps_environment
        assert first.lines == ["init of local", "invocation r-1"]
        assert second.lines == ["invocation r-2"]
        payloads = [json.loads(outcome.result["payload"]) for outcome in (first, second)]
        assert [payload["calls"] for payload in payloads] == [1, 2]
        assert [payload["request_id"] for payload in payloads] == ["r-1", "r-2"]
        assert list(environment.result_dir.iterdir()) == []  # each result file read once and removed
        # A last line without a newline is still the handler's; the marker never reaches the log.
        partial = environment.invoke(_request("r-3", {"partial": True}), 3.0)
        assert partial.lines == ["invocation r-3", "no newline at the end"] and partial.keeps_environment
        assert END not in "".join(partial.lines)
    finally:
        environment.stop()
    assert not environment.alive() and not environment.result_dir.exists()


def test_a_timed_out_invocation_does_not_keep_its_environment(tmp_path):
    environment = _environment(tmp_path)
    outcome = environment.invoke(_request("r-1", {"sleep": 5}, timeout=0.5), 0.5)
    assert outcome.timed_out and not outcome.keeps_environment
    environment.stop(kill=True)
    assert not environment.alive()


def test_idle_environments_are_reaped_and_capped(tmp_path, monkeypatch):
    pool = lambda_warm.Pool()
    key = _key()
    envs = [_environment(tmp_path, key) for _ in range(3)]
    monkeypatch.setattr(lambda_warm, "MAX_IDLE_PER_KEY", 2)
    for environment in envs:
        pool.give_back(environment)
    assert pool.idle_count(key) == 2
    deadline = time.monotonic() + 15
    while envs[2].alive() and time.monotonic() < deadline:  # the third was stopped in the background
        time.sleep(0.05)
    assert not envs[2].alive()
    taken = pool.take(key)
    assert taken is envs[1]  # the most recently used first
    pool.give_back(taken)
    assert pool.reap() == 0
    assert pool.reap(now=time.monotonic() + lambda_warm.IDLE_SECONDS + 1) == 2
    assert pool.idle_count() == 0 and not any(environment.alive() for environment in envs)
    assert pool.take(key) is None


def test_another_key_of_the_same_function_retires_its_idle_environments(tmp_path):
    pool = lambda_warm.Pool()
    old = _environment(tmp_path, _key(code_sha256="1" * 64))
    other_function = _environment(tmp_path, _key("other"))
    pool.give_back(old)
    pool.give_back(other_function)
    assert pool.take(_key(code_sha256="2" * 64)) is None
    deadline = time.monotonic() + 15
    while old.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not old.alive()
    assert pool.idle_count(_key("other")) == 1 and other_function.alive()
    pool.stop_all()
    assert not other_function.alive() and pool.idle_count() == 0


def test_an_old_environment_is_retired_before_its_credentials_expire(tmp_path, monkeypatch):
    assert lambda_warm.MAX_AGE_SECONDS < runtime.SESSION_SECONDS
    pool = lambda_warm.Pool()
    environment = _environment(tmp_path)
    pool.give_back(environment)
    monkeypatch.setattr(lambda_warm, "MAX_AGE_SECONDS", 0.0)
    assert pool.take(environment.key) is None
    deadline = time.monotonic() + 15
    while environment.alive() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not environment.alive()
