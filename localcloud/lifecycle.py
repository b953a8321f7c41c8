"""Start, stop and inspect the detached local-cloud server: the Python API the harness and the CLI use.

up(port=None, state_dir=None) -> endpoint        idempotent; waits until healthy
down(port=None, state_dir=None) -> bool          True when something was stopped
status(port=None, state_dir=None) -> dict|None   {"endpoint", "pid", "boot_id", "state_dir", "errors", ...}
endpoint(port=None) -> str
logs(state_dir=None, lines=200) -> str
errors(port=None) -> dict|None                   {"boot_id", "count", "injected", "recent"}
error_mark(port=None, state_dir=None) -> dict    where the error count and the log stand now
new_errors(mark, port=None, state_dir=None) -> list[str]   what went wrong since the mark; [] when nothing
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


def errors(port: int | None = None, timeout: float = 5.0) -> dict | None:
    """The unexpected-server-error counter of our local cloud (config.ERRORS_PATH), None when not running."""
    try:
        with urllib.request.urlopen(endpoint(port) + config.ERRORS_PATH, timeout=timeout) as response:  # noqa: S310
            doc = json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) and isinstance(doc.get("count"), int) else None


def _log_path(state_dir: str | os.PathLike[str] | None) -> Path:
    return config.state_dir(state_dir) / config.LOG_FILE


def error_mark(port: int | None = None, state_dir: str | os.PathLike[str] | None = None) -> dict:
    """Where the error counter and the log stand now; give it to `new_errors` later. Works whether or not
    the cloud runs yet (a cloud started later counts from zero; the log is appended to, never rewritten)."""
    doc = errors(port)
    path = _log_path(state_dir)
    return {
        "boot_id": doc["boot_id"] if doc else None,
        "count": doc["count"] if doc else 0,
        "log": str(path),
        "log_offset": path.stat().st_size if path.exists() else 0,
    }


TRACEBACK = "Traceback (most recent call last)"
_SHOWN_TRACEBACKS = 5
_TRACEBACK_LINES = 40
_CHAINED = ("During handling of the above exception", "The above exception was the direct cause")


def _traceback_blocks(text: str) -> list[str]:
    """Each traceback in a log excerpt (chained ones as one): the line before it (the log record), the
    frames, the exception line."""
    lines = text.splitlines()
    blocks = []
    i = 0
    while i < len(lines):
        if TRACEBACK not in lines[i]:
            i += 1
            continue
        end = i + 1
        while end < len(lines):
            line = lines[end]
            if line[:1].isspace() or not line.strip() or TRACEBACK in line or line.startswith(_CHAINED):
                end += 1
                continue
            after = end + 1  # the exception line: the block goes on only if a chained traceback follows
            while after < len(lines) and not lines[after].strip():
                after += 1
            if after < len(lines) and lines[after].startswith(_CHAINED):
                end = after
                continue
            break
        block = lines[max(0, i - 1) : end + 1]
        if len(block) > _TRACEBACK_LINES:
            block = block[:3] + ["    ..."] + block[-(_TRACEBACK_LINES - 4) :]
        blocks.append("\n".join(block))
        i = end + 1
    return blocks


def describe_error(entry: dict) -> str:
    """One line for an entry of the error counter's "recent" list."""
    if entry.get("kind") == "thread":
        return f"{entry.get('time')} thread: {entry.get('error')}"
    return (
        f"{entry.get('time')} {entry.get('kind')} {entry.get('method')} {entry.get('path')} "
        f"({entry.get('service')}) -> {entry.get('status')}: {entry.get('error')}"
    )


def new_errors(
    mark: dict, port: int | None = None, state_dir: str | os.PathLike[str] | None = None
) -> list[str]:
    """What went wrong in the local cloud since `mark` (from error_mark): the unexpected server errors it
    counted (injected faults excluded) and the tracebacks its log gained. Lines to print; [] when nothing."""
    problems: list[str] = []
    doc = errors(port)
    if doc is not None:
        restarted = doc["boot_id"] != mark.get("boot_id")
        grown = doc["count"] - (0 if restarted else mark.get("count", 0))
        if grown > 0:
            since = "since it started" if restarted else "during this session"
            problems.append(
                f"the local cloud at {endpoint(port)} counted {grown} unexpected server error(s) {since}:"
            )
            problems.extend(
                f"  {describe_error(e)}" for e in doc.get("recent", [])[-min(grown, len(doc["recent"])) :]
            )
    path = Path(mark.get("log") or _log_path(state_dir))
    if path.exists():
        offset = mark.get("log_offset", 0)
        with path.open("rb") as handle:
            handle.seek(offset if path.stat().st_size >= offset else 0)  # shorter: a new file, read it all
            gained = handle.read().decode("utf-8", "replace")
        blocks = _traceback_blocks(gained)
        if blocks:
            problems.append(f"the local cloud's log {path} gained {len(blocks)} traceback(s):")
            for block in blocks[:_SHOWN_TRACEBACKS]:
                problems.extend(f"  {line}" for line in block.splitlines())
            if len(blocks) > _SHOWN_TRACEBACKS:
                problems.append(f"  ... and {len(blocks) - _SHOWN_TRACEBACKS} more")
    return problems


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
    counted = errors(port)
    return {
        "endpoint": endpoint(port),
        "pid": doc.get("pid"),
        "boot_id": doc["boot_id"],
        "state_dir": str(config.state_dir(state_dir)),
        "errors": counted["count"] if counted else None,
        "injected": counted["injected"] if counted else None,
        "recent_errors": counted["recent"] if counted else [],
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
