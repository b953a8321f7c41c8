"""Child processes of the local cloud (Batch jobs, Lambda invocations): environment, start, kill.

Each child runs in its own session (so a timeout kills its whole tree with one killpg) and carries
LOCALCLOUD_BOOT_ID, so `down` finds and kills strays even when the server itself died hard.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
from pathlib import Path

from localcloud import config, runtime

# Host variables a process needs to work at all; everything else comes from the job or function definition.
_PASSTHROUGH = ("HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "TERM", "SSL_CERT_FILE", "PYTHONPATH")

_running: dict[int, subprocess.Popen] = {}
_lock = threading.Lock()


def endpoint() -> str:
    """This server's own endpoint (set by the server at start), for processes to call back into it."""
    return os.environ.get("LOCALCLOUD_ENDPOINT") or config.endpoint()


def base_env() -> dict[str, str]:
    """Host basics, the endpoint and region; no credentials (the caller adds a role's, if any)."""
    env = {k: os.environ[k] for k in _PASSTHROUGH if k in os.environ}
    env["PATH"] = os.pathsep.join([str(config.python_bin_dir()), os.environ.get("PATH", "/usr/bin:/bin")])
    env["PYTHONUNBUFFERED"] = "1"
    # The endpoint and region only: a workload's credentials are its role's (runtime.workload_env), never
    # the admin keys of the harness.
    env.update(runtime.workload_env(endpoint(), None))
    if os.environ.get(config.BOOT_ID_ENV):
        env[config.BOOT_ID_ENV] = os.environ[config.BOOT_ID_ENV]
    return env


def start(argv: list[str], env: dict[str, str], cwd: Path, **kwargs) -> subprocess.Popen:
    proc = subprocess.Popen(argv, env=env, cwd=cwd, start_new_session=True, **kwargs)  # noqa: S603
    with _lock:
        _running[proc.pid] = proc
    return proc


def forget(proc: subprocess.Popen) -> None:
    with _lock:
        _running.pop(proc.pid, None)


def kill_tree(proc: subprocess.Popen) -> None:
    """Kill the process group the child leads (its session), ignoring a group that is already gone."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def kill_all() -> None:
    with _lock:
        procs = list(_running.values())
    for proc in procs:
        kill_tree(proc)


def pids_with_boot_id(boot_id: str) -> list[int]:
    """Processes (Linux /proc) whose environment carries this boot id: our jobs and Lambdas."""
    marker = f"{config.BOOT_ID_ENV}={boot_id}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if marker in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return found
