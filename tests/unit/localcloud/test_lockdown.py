"""The local cloud lets no one in: admin keys issued per boot in a 0600 file the harness reads, `localcloud
env`, loopback Host names only (DNS rebinding), no request from another web origin, moto's global CORS
off, and `up`/`down` that never share or stop another state directory's cloud."""

from __future__ import annotations

import http.client
import json
import os
import re
import shlex
import socket
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from localcloud import config, credentials, gate, lifecycle
from tests.unit.localcloud.conftest import free_port

KEY_ID = re.compile(r"^LKIA[A-Z0-9]{16}$")


def _request(cloud, method: str, path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    """One raw HTTP request with exactly these headers (http.client adds no Host when one is given)."""
    connection = http.client.HTTPConnection(config.HOST, cloud.port, timeout=30)
    try:
        connection.putrequest(method, path, skip_host="Host" in headers, skip_accept_encoding=True)
        for name, value in headers.items():
            connection.putheader(name, value)
        connection.endheaders()
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def _cli(*args: str, port: int, state_dir: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "LOCALCLOUD_PORT": str(port), "LOCALCLOUD_STATE_DIR": str(state_dir)}
    return subprocess.run(
        [sys.executable, "-m", "localcloud", *args], env=env, capture_output=True, text=True, timeout=120
    )


# ---- admin credentials ---------------------------------------------------------------------------------


def test_every_boot_issues_new_admin_keys_in_a_file_only_its_user_reads(tmp_path):
    port, state = free_port(), tmp_path / "state"
    issued = []
    for _ in range(2):
        lifecycle.up(port=port, state_dir=state)
        try:
            file = state / credentials.FILE
            assert stat.S_IMODE(file.stat().st_mode) == 0o600
            found = credentials.read(state)
            assert found.boot_id == lifecycle.health(port)["boot_id"]
            assert found.endpoint == f"http://127.0.0.1:{port}" and found.region == config.REGION
            assert KEY_ID.match(found.access_key_id) and len(found.secret_access_key) == 40
            assert found.secret_access_key not in repr(found)
            issued.append(found)
        finally:
            assert lifecycle.down(port=port, state_dir=state) is True
        assert not (state / credentials.FILE).exists(), "the keys of a stopped cloud are removed"
    first, second = issued
    assert first.boot_id != second.boot_id
    assert first.access_key_id != second.access_key_id
    assert first.secret_access_key != second.secret_access_key


def test_the_harness_environment_carries_the_issued_keys(cloud, tmp_path, monkeypatch):
    issued = cloud.credentials
    assert issued.access_key_id != "test" and KEY_ID.match(issued.access_key_id)
    # Whatever the caller's state directory: the cloud's health names its own, whose file has the keys.
    monkeypatch.setenv("LOCALCLOUD_STATE_DIR", str(tmp_path / "elsewhere"))
    assert config.aws_env(cloud.endpoint) == {
        "AWS_ENDPOINT_URL": cloud.endpoint,
        "AWS_ACCESS_KEY_ID": issued.access_key_id,
        "AWS_SECRET_ACCESS_KEY": issued.secret_access_key,
        "AWS_REGION": config.REGION,
        "AWS_DEFAULT_REGION": config.REGION,
    }
    assert credentials.for_endpoint(cloud.endpoint.replace("127.0.0.1", "localhost")) == issued


def test_a_stack_and_terraform_use_the_issued_keys(cloud, tmp_path, monkeypatch):
    from farm.stack import Stack
    from harness import terraform

    issued = cloud.credentials
    stack = Stack(env="local", outputs={"endpoint_url": cloud.endpoint, "region": config.REGION})
    assert stack.local_credentials()["aws_access_key_id"] == issued.access_key_id
    assert stack.local_env()["AWS_SECRET_ACCESS_KEY"] == issued.secret_access_key
    monkeypatch.setenv("FARM_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("AWS_SESSION_TOKEN", "from-the-shell")
    env = terraform.Workspace(env="local", root=tmp_path, endpoint_url=cloud.endpoint).environment()
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"]) == (
        issued.access_key_id,
        issued.secret_access_key,
    )
    assert "AWS_SESSION_TOKEN" not in env


def test_no_credentials_for_a_cloud_that_does_not_run(tmp_path, monkeypatch):
    monkeypatch.setenv("LOCALCLOUD_STATE_DIR", str(tmp_path))
    with pytest.raises(credentials.NoCredentials, match="not running"):
        config.aws_env(f"http://127.0.0.1:{free_port()}")


def test_localcloud_env_is_evaluable_and_a_client_built_from_it_works(cloud):
    printed = _cli("env", port=cloud.port, state_dir=cloud.state_dir)
    assert printed.returncode == 0, printed.stderr
    issued = cloud.credentials
    assert f"export AWS_ACCESS_KEY_ID={issued.access_key_id}" in printed.stdout.splitlines()
    python = shlex.quote(sys.executable)
    code = (
        "import boto3, json, os; "
        "print(json.dumps([boto3.client('s3').list_buckets()['ResponseMetadata']['HTTPStatusCode'], "
        "os.environ['AWS_ACCESS_KEY_ID']]))"
    )
    script = "\n".join(
        [
            f'exports="$({python} -m localcloud env)" || exit 3',
            'eval "$exports"',
            f"{python} -c {shlex.quote(code)}",
        ]
    )
    env = {
        **os.environ,
        "LOCALCLOUD_PORT": str(cloud.port),
        "LOCALCLOUD_STATE_DIR": str(cloud.state_dir),
        "AWS_SESSION_TOKEN": "left-over-from-a-real-account",
        "AWS_ACCESS_KEY_ID": "test",
    }
    env.pop("AWS_ENDPOINT_URL", None)
    ran = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=120)
    assert ran.returncode == 0, ran.stderr
    assert json.loads(ran.stdout) == [200, issued.access_key_id]


def test_localcloud_env_refuses_when_nothing_of_this_state_dir_runs(cloud, tmp_path):
    printed = _cli("env", port=cloud.port, state_dir=tmp_path)
    assert printed.returncode == 1 and printed.stdout == ""
    assert str(cloud.state_dir) in printed.stderr, "it names whose cloud answers on the port"


# ---- Host and Origin -------------------------------------------------------------------------------------


@pytest.mark.parametrize("host", ["127.0.0.1:{port}", "localhost:{port}", "LOCALHOST:{port}"])
def test_loopback_hosts_are_answered(cloud, host):
    status, _, body = _request(cloud, "GET", config.HEALTH_PATH, {"Host": host.format(port=cloud.port)})
    assert status == 200 and json.loads(body)["state_dir"] == str(cloud.state_dir)


@pytest.mark.parametrize(
    "host", ["evil.example:{port}", "evil.example", "127.0.0.1", "localhost", "bucket.localhost:{port}"]
)
def test_any_other_host_is_refused_naming_the_rule(cloud, host):
    status, headers, body = _request(cloud, "GET", "/", {"Host": host.format(port=cloud.port)})
    assert status == 403 and headers["content-type"].startswith("text/plain")
    assert f"Host is 127.0.0.1:{cloud.port} or localhost:{cloud.port}" in body.decode()
    assert not any(name.startswith("access-control-") for name in headers)


def test_a_request_without_host_is_refused(cloud):
    with socket.create_connection((config.HOST, cloud.port), timeout=30) as sock:
        sock.sendall(b"GET /_localcloud/health HTTP/1.0\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.0 403") or answer.startswith(b"HTTP/1.1 403")


def test_a_request_from_another_web_origin_is_refused(cloud):
    host = f"127.0.0.1:{cloud.port}"
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{cloud.port + 1}"):
        status, _, body = _request(cloud, "POST", "/moto-api/reset", {"Host": host, "Origin": origin})
        assert status == 403 and b"another origin" in body
    assert lifecycle.health(cloud.port) is not None


def test_moto_sends_no_cors_headers(cloud):
    """Only the cloud's own origin passes the gate; even its requests get no CORS answer from moto (its
    flask_cors would send `Access-Control-Allow-Origin: *` and allow every preflight)."""
    s3 = cloud.client("s3")
    s3.create_bucket(Bucket="lockdown-cors")
    origin = f"http://127.0.0.1:{cloud.port}"
    host = f"127.0.0.1:{cloud.port}"
    preflight = {
        "Host": host,
        "Origin": origin,
        "Access-Control-Request-Method": "PUT",
        "Access-Control-Request-Headers": "authorization,x-amz-date",
    }
    for method, path, headers in (
        ("GET", "/moto-api/", {"Host": host, "Origin": origin}),
        ("OPTIONS", "/lockdown-cors/key", preflight),
        ("OPTIONS", "/", preflight),
    ):
        status, answered, _ = _request(cloud, method, path, headers)
        cors = {k: v for k, v in answered.items() if k.startswith("access-control-")}
        assert cors == {}, f"{method} {path} -> {status} with {cors}"

    seen = {}

    def with_origin(request, **_):
        request.headers["Origin"] = origin

    def keep(http_response, **_):
        seen.update({k.lower(): v for k, v in http_response.headers.items()})

    signed = cloud.client("s3", config=None)
    signed.meta.events.register("before-send.s3.ListObjectsV2", with_origin)
    signed.meta.events.register("after-call.s3.ListObjectsV2", keep)
    signed.list_objects_v2(Bucket="lockdown-cors")
    assert seen and not any(name.startswith("access-control-") for name in seen)


def test_the_gate_alone():
    app_calls = []

    def app(environ, start_response):
        app_calls.append(environ["HTTP_HOST"])
        start_response("200 OK", [])
        return [b"ok"]

    gated = gate.loopback_only(app, 4700)
    answers = []
    for host, origin in (
        ("127.0.0.1:4700", None),
        ("evil.example:4700", None),
        ("localhost:4700", "http://x"),
    ):
        environ = {"HTTP_HOST": host, "REQUEST_METHOD": "GET", "PATH_INFO": "/"}
        if origin:
            environ["HTTP_ORIGIN"] = origin
        gated(environ, lambda status, headers, answers=answers: answers.append(status))
    assert answers == ["200 OK", "403 Forbidden", "403 Forbidden"] and app_calls == ["127.0.0.1:4700"]


# ---- one cloud per state directory ---------------------------------------------------------------------


def test_up_from_another_state_dir_refuses_naming_the_first(cloud, tmp_path):
    with pytest.raises(lifecycle.AnotherCloud) as refused:
        lifecycle.up(port=cloud.port, state_dir=tmp_path / "second-checkout")
    message = str(refused.value)
    assert str(cloud.state_dir) in message and "LOCALCLOUD_PORT" in message
    cli = _cli("up", port=cloud.port, state_dir=tmp_path / "second-checkout")
    assert cli.returncode == 1 and str(cloud.state_dir) in cli.stderr
    assert not (tmp_path / "second-checkout" / config.PID_FILE).exists()
    assert lifecycle.health(cloud.port)["state_dir"] == str(cloud.state_dir)


def test_down_from_another_state_dir_leaves_the_cloud_running_and_says_so(cloud, tmp_path):
    before = lifecycle.health(cloud.port)
    other = tmp_path / "second-checkout"
    other.mkdir()
    (other / config.PID_FILE).write_text(f"{before['pid']}\n")  # even a pid file naming the running server
    (other / config.BOOT_ID_FILE).write_text(before["boot_id"] + "\n")
    assert lifecycle.down(port=cloud.port, state_dir=other) is False
    assert lifecycle.health(cloud.port) == before
    cli = _cli("down", port=cloud.port, state_dir=other)
    assert cli.returncode == 0 and cli.stdout.startswith(f"not running: no local cloud of {other}")
    assert f"left alone: {cloud.endpoint} serves the local cloud of {cloud.state_dir}" in cli.stdout
    assert lifecycle.health(cloud.port) == before
    assert credentials.read(cloud.state_dir).boot_id == before["boot_id"]
    status = lifecycle.status(port=cloud.port, state_dir=other)
    assert status["own"] is False and status["state_dir"] == str(cloud.state_dir)
    assert lifecycle.status(port=cloud.port, state_dir=cloud.state_dir)["own"] is True


def test_up_of_a_running_state_dir_on_a_second_port_refuses(cloud):
    with pytest.raises(lifecycle.StateDirInUse, match=f"already runs at {cloud.endpoint}"):
        lifecycle.up(port=free_port(), state_dir=cloud.state_dir)


def test_the_keys_are_in_the_file_only(cloud):
    """The health and errors documents (anyone on the machine may read them) never carry the keys."""
    issued = cloud.credentials
    for doc in (lifecycle.health(cloud.port), lifecycle.errors(cloud.port)):
        body = json.dumps(doc)
        assert issued.access_key_id not in body and issued.secret_access_key not in body
