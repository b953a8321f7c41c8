"""Start, stop and inspect the detached local-cloud server: the Python API the harness and the CLI use.

up(port=None, state_dir=None) -> endpoint        idempotent; waits until healthy
down(port=None, state_dir=None) -> bool          True when something was stopped
status(port=None, state_dir=None) -> dict|None   {"endpoint", "pid", "boot_id", "state_dir"} when running
endpoint(port=None) -> str
logs(state_dir=None, lines=200) -> str
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from localcloud import config, procs

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class PortTaken(RuntimeError):
    """Something that is not our local cloud listens on the port."""


class StartFailed(RuntimeError):
    """The server process exited or never became healthy."""


def endpoint(port: int | None = None) -> str:
    return config.endpoint(port)


def health(port: int | None = None, timeout: float = 2.0) -> dict | None:
    """The health document when our local cloud answers on the port, else None."""
    try:
        with urllib.request.urlopen(endpoint(port) + config.HEALTH_PATH, timeout=timeout) as response:  # noqa: S310
            doc = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and doc.get("status") == "ok" and doc.get("boot_id") else None


def _port_open(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1.0)
        return sock.connect_ex((config.HOST, config.port(port))) == 0


def _read_pid(state: Path) -> int | None:
    try:
        return int((state / config.PID_FILE).read_text().strip())
    except (OSError, ValueError):
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie (exited, not yet reaped by its parent) counts as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def status(port: int | None = None, state_dir: str | os.PathLike[str] | None = None) -> dict | None:
    doc = health(port)
    if doc is None:
        return None
    return {
        "endpoint": endpoint(port),
        "pid": doc.get("pid"),
        "boot_id": doc["boot_id"],
        "state_dir": str(config.state_dir(state_dir)),
    }


def up(port: int | None = None, state_dir: str | os.PathLike[str] | None = None) -> str:
    """Start the server unless ours already answers on the port; return the endpoint."""
    port = config.port(port)
    state = config.state_dir(state_dir)
    if health(port) is not None:
        return endpoint(port)
    if _port_open(port):
        raise PortTaken(
            f"port {port} on {config.HOST} is in use by something that is not a local cloud "
            f"(no {config.HEALTH_PATH}); stop it or set LOCALCLOUD_PORT"
        )
    state.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "LOCALCLOUD_PORT": str(port), "LOCALCLOUD_STATE_DIR": str(state)}
    with open(state / config.LOG_FILE, "ab") as log_file:
        proc = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "localcloud", "serve", "--port", str(port)],
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=state,
            start_new_session=True,
        )
    (state / config.PID_FILE).write_text(f"{proc.pid}\n")
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        doc = health(port, timeout=1.0)
        if doc is not None and doc.get("pid") == proc.pid:
            return endpoint(port)
        if proc.poll() is not None:
            raise StartFailed(
                f"local cloud exited with code {proc.returncode}; see {state / config.LOG_FILE}"
            )
        time.sleep(0.2)
    _stop_pid(proc.pid)
    raise StartFailed(f"local cloud not healthy after {START_TIMEOUT_S:.0f} s; see {state / config.LOG_FILE}")


def _stop_pid(pid: int) -> None:
    """SIGTERM the server's process group (it kills its jobs), then SIGKILL whatever is left."""
    for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                return
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.1)


def _is_server(pid: int) -> bool:
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return b"localcloud" in argv and b"serve" in argv


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def down(port: int | None = None, state_dir: str | os.PathLike[str] | None = None) -> bool:
    """Stop the server and every job/Lambda process of its boot; True if anything was running."""
    state = config.state_dir(state_dir)
    doc = health(port)
    pid = doc["pid"] if doc else _read_pid(state)
    if pid and not doc and not _is_server(pid):
        pid = None  # a stale pid file: that pid now belongs to some other program
    boot_file = state / config.BOOT_ID_FILE
    boot_id = doc["boot_id"] if doc else (boot_file.read_text().strip() if boot_file.exists() else None)
    stopped = False
    if pid and _alive(pid):
        _stop_pid(pid)
        stopped = True
    if boot_id:
        strays = procs.pids_with_boot_id(boot_id)
        for stray in strays:
            _kill_group(stray)
        deadline = time.monotonic() + 5.0  # SIGKILL is delivered asynchronously
        while any(_alive(pid) for pid in strays) and time.monotonic() < deadline:
            time.sleep(0.05)
        stopped = stopped or bool(strays)
    (state / config.PID_FILE).unlink(missing_ok=True)
    return stopped


def logs(state_dir: str | os.PathLike[str] | None = None, lines: int = 200) -> str:
    path = config.state_dir(state_dir) / config.LOG_FILE
    if not path.exists():
        return ""
    return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:])
