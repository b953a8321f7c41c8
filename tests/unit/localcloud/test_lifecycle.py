"""`up` is idempotent, `down` leaves no process behind, a foreign port is refused, the CLI works."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from localcloud import config, lifecycle, procs
from tests.unit.localcloud.conftest import BatchSetup, Cloud, free_port, wait_for


@pytest.fixture(autouse=True)
def process_mode(monkeypatch: pytest.MonkeyPatch) -> None:
    """The clouds these tests start run host-process jobs (BatchSetup's scripts); the container path has its
    own tests (test_batch_containers.py), whatever LOCALCLOUD_RUNTIME the run exported."""
    monkeypatch.setenv("LOCALCLOUD_RUNTIME", "process")


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[-1].split()[0] != "Z"


def test_up_twice_is_harmless_and_down_leaves_no_process(tmp_path):
    port, state = free_port(), tmp_path / "state"
    first = lifecycle.up(port=port, state_dir=state)
    try:
        info = lifecycle.status(port=port, state_dir=state)
        assert lifecycle.up(port=port, state_dir=state) == first == f"http://127.0.0.1:{port}"
        assert lifecycle.status(port=port, state_dir=state) == info, "a second up must not restart the cloud"
        assert (state / "boot_id").read_text().strip() == info["boot_id"]
        assert int((state / "localcloud.pid").read_text()) == info["pid"]

        # a long-running job process, to prove down kills children too
        cloud = Cloud(first, port, state)
        setup = BatchSetup(cloud, tmp_path)
        job_id = setup.submit(setup.job_definition(["python", "-c", "import time; time.sleep(120)"]))
        wait_for(lambda: setup.describe(job_id)["status"] == "RUNNING", timeout=30)
        children = wait_for(lambda: procs.pids_with_boot_id(info["boot_id"]), timeout=10)
    finally:
        assert lifecycle.down(port=port, state_dir=state) is True
    assert lifecycle.status(port=port, state_dir=state) is None
    assert not _alive(info["pid"])
    assert not [pid for pid in children if _alive(pid)]
    assert procs.pids_with_boot_id(info["boot_id"]) == []
    assert lifecycle.down(port=port, state_dir=state) is False


def test_up_refuses_a_port_held_by_something_else(tmp_path):
    with socket.socket() as sock:
        sock.bind((config.HOST, 0))
        sock.listen()
        with pytest.raises(lifecycle.PortTaken, match="not a local cloud"):
            lifecycle.up(port=sock.getsockname()[1], state_dir=tmp_path)


def test_cli_status_and_logs(cloud):
    env = {**os.environ, "LOCALCLOUD_PORT": str(cloud.port), "LOCALCLOUD_STATE_DIR": str(cloud.state_dir)}
    status = subprocess.run(
        [sys.executable, "-m", "localcloud", "status"], env=env, capture_output=True, text=True
    )
    assert status.returncode == 0 and status.stdout.startswith(f"running {cloud.endpoint} pid=")
    logs = subprocess.run(
        [sys.executable, "-m", "localcloud", "logs"], env=env, capture_output=True, text=True
    )
    assert "patches applied" in logs.stdout


def test_health_route(cloud):
    import json
    import urllib.request

    with urllib.request.urlopen(cloud.endpoint + "/_localcloud/health") as response:  # noqa: S310
        doc = json.loads(response.read())
    assert doc["status"] == "ok" and doc["boot_id"] == (cloud.state_dir / "boot_id").read_text().strip()
    assert isinstance(doc["pid"], int)


def test_down_after_a_server_crash_still_kills_its_jobs(tmp_path):
    port, state = free_port(), tmp_path / "state"
    endpoint = lifecycle.up(port=port, state_dir=state)
    info = lifecycle.status(port=port, state_dir=state)
    try:
        setup = BatchSetup(Cloud(endpoint, port, state), tmp_path)
        job_id = setup.submit(setup.job_definition(["python", "-c", "import time; time.sleep(120)"]))
        wait_for(lambda: setup.describe(job_id)["status"] == "RUNNING", timeout=30)
        orphans = wait_for(lambda: procs.pids_with_boot_id(info["boot_id"]), timeout=10)
        os.kill(info["pid"], signal.SIGKILL)  # no clean shutdown: the job process outlives the server
        wait_for(lambda: not _alive(info["pid"]), timeout=10)
        assert any(_alive(pid) for pid in orphans)
    finally:
        lifecycle.down(port=port, state_dir=state)
    assert not [pid for pid in orphans if _alive(pid)]
