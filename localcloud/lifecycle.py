"""Start, stop and inspect the detached local-cloud server: the Python API the harness and the CLI use.

up(port=None, state_dir=None) -> endpoint        idempotent; waits until healthy; refuses a port that serves
                                                 another state directory's cloud (AnotherCloud)
down(port=None, state_dir=None) -> bool          True when this state directory's cloud was stopped; never
                                                 touches another state directory's
status(port=None, state_dir=None) -> dict|None   {"endpoint", "pid", "boot_id", "state_dir", "own",
                                                 "registry", "registry_off", "runtime", ...}
occupant(port=None, state_dir=None) -> str|None  what answers on the port if not this state dir's cloud
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

from localcloud import config, containers, credentials, filelock, procs

START_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0


class PortTaken(RuntimeError):
    """Something that is not our local cloud listens on the port."""


class AnotherCloud(PortTaken):
    """The port serves the local cloud of another state directory (another checkout): never shared."""


class StateDirInUse(RuntimeError):
    """This state directory's cloud already runs, on another port."""


class StartFailed(RuntimeError):
    """The server process exited or never became healthy."""


def endpoint(port: int | None = None) -> str:
    return config.endpoint(port)


def health(port: int | None = None, timeout: float = 2.0) -> dict | None:
    """The health document when our local cloud answers on the port, else None."""
    return health_at(endpoint(port), timeout)


def health_at(endpoint_url: str, timeout: float = 2.0) -> dict | None:
    """The health document of the local cloud answering at an endpoint (no credentials needed), else None."""
    try:
        with urllib.request.urlopen(endpoint_url + config.HEALTH_PATH, timeout=timeout) as response:  # noqa: S310
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


def _process_state_dir(pid: int) -> Path | None:
    """The state directory a server process was started for: the LOCALCLOUD_STATE_DIR `up` gave it (Linux
    /proc; readable for our own processes only, which is all `down` may stop)."""
    try:
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except OSError:
        return None
    for item in environ:
        if item.startswith(b"LOCALCLOUD_STATE_DIR="):
            return Path(item.split(b"=", 1)[1].decode(errors="replace")).resolve()
    return None


def _own_server(state: Path, doc: dict | None = None) -> int | None:
    """The pid of the server this state directory started, when it still runs: the pid file's process (or the
    health document's, should the pid file be lost), alive, a `localcloud serve`, and started for this state
    directory. The process is the proof, not what answers on the port: a stale pid file, a reused pid or
    another checkout's cloud give None."""
    candidates = [_read_pid(state), doc.get("pid") if doc else None]
    for pid in dict.fromkeys(p for p in candidates if isinstance(p, int) and p > 0):
        if _alive(pid) and _is_server(pid) and _process_state_dir(pid) == state:
            return pid
    return None


def _read_boot_id(state: Path) -> str | None:
    try:
        return (state / config.BOOT_ID_FILE).read_text().strip() or None
    except OSError:
        return None


def _describe(doc: dict) -> str:
    where = doc.get("state_dir") or "an unknown state directory (an older local cloud)"
    return f"the local cloud of {where} (pid {doc.get('pid')}, boot {str(doc.get('boot_id'))[:8]})"


def occupant(port: int | None = None, state_dir: str | os.PathLike[str] | None = None) -> str | None:
    """What answers on the port when it is not this state directory's cloud (a sentence), else None."""
    doc = health(port)
    if doc is None:
        return (
            f"something that is not a local cloud listens on {endpoint(port)}" if _port_open(port) else None
        )
    if _own_server(config.state_dir(state_dir), doc) == doc.get("pid"):
        return None
    return f"{endpoint(port)} serves {_describe(doc)}"


def status(port: int | None = None, state_dir: str | os.PathLike[str] | None = None) -> dict | None:
    """The cloud answering on the port (whoever started it: `own` says whether this state directory did)."""
    doc = health(port)
    if doc is None:
        return None
    counted = errors(port)
    state = config.state_dir(state_dir)
    return {
        "endpoint": endpoint(port),
        "pid": doc.get("pid"),
        "boot_id": doc["boot_id"],
        "state_dir": doc.get("state_dir") or str(state),
        "own": _own_server(state, doc) == doc.get("pid"),
        "registry": doc.get("registry"),  # "127.0.0.1:PORT" of ECR's registry, None when off
        "registry_off": doc.get("registry_off"),  # why it is off
        "runtime": doc.get("runtime") or "process",  # how jobs and Lambdas run: "container" | "process"
        "errors": counted["count"] if counted else None,
        "injected": counted["injected"] if counted else None,
        "recent_errors": counted["recent"] if counted else [],
    }


def _state_lock(state: Path):
    """One `up`/`down` of a state directory at a time (parallel test workers all call `up`)."""
    return filelock.exclusive(state / "lifecycle.lock")


def _another_cloud(port: int, doc: dict, state: Path) -> AnotherCloud:
    other = doc.get("state_dir")
    there = f"LOCALCLOUD_PORT={port} LOCALCLOUD_STATE_DIR={other} localcloud down" if other else "down there"
    return AnotherCloud(
        f"port {port} serves {_describe(doc)}, not the cloud of this state directory ({state}): two "
        f"checkouts never share a cloud. Use another port (LOCALCLOUD_PORT=<a free port>) or stop that cloud "
        f"in its checkout (`{there}`)"
    )


def _wait_healthy(pid: int, port: int, state: Path, proc: subprocess.Popen | None = None) -> str:
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        doc = health(port, timeout=1.0)
        if doc is not None and doc.get("pid") == pid:
            return endpoint(port)
        if doc is not None:
            raise _another_cloud(port, doc, state)  # it won the port while ours started
        if proc is not None and proc.poll() is not None:
            raise StartFailed(
                f"local cloud exited with code {proc.returncode}; see {state / config.LOG_FILE}"
            )
        if proc is None and not _alive(pid):
            raise StartFailed(f"local cloud pid {pid} exited while starting; see {state / config.LOG_FILE}")
        time.sleep(0.2)
    if proc is not None:
        _stop_pid(pid)
    raise StartFailed(
        f"local cloud pid {pid} not healthy after {START_TIMEOUT_S:.0f} s; see {state / config.LOG_FILE}"
    )


def up(port: int | None = None, state_dir: str | os.PathLike[str] | None = None) -> str:
    """Start this state directory's cloud unless it already answers on the port; return the endpoint.
    Refuses a port that serves another state directory's cloud, and a second port for this one."""
    port = config.port(port)
    state = config.state_dir(state_dir)
    with _state_lock(state):
        doc = health(port)
        own = _own_server(state, doc)
        if doc is not None:
            if own is not None and doc.get("pid") == own:
                return endpoint(port)
            raise _another_cloud(port, doc, state)
        if own is not None:  # ours runs, but does not answer here: on another port, or still starting
            try:
                elsewhere = credentials.read(state).endpoint
            except credentials.NoCredentials:
                elsewhere = None
            if elsewhere and not credentials.same_endpoint(elsewhere, endpoint(port)):
                raise StateDirInUse(
                    f"the local cloud of {state} already runs at {elsewhere} (pid {own}): use that port "
                    f"(LOCALCLOUD_PORT={elsewhere.rsplit(':', 1)[-1]}) or stop it first (`localcloud down`)"
                )
            return _wait_healthy(own, port, state)
        if _port_open(port):
            raise PortTaken(
                f"port {port} on {config.HOST} is in use by something that is not a local cloud "
                f"(no {config.HEALTH_PATH}); stop it or set LOCALCLOUD_PORT"
            )
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
        return _wait_healthy(proc.pid, port, state, proc)


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


def _remove_boot_containers(boot_id: str) -> bool:
    """Force-remove the containers labelled with this boot id; True if any was removed. A failure is
    reported, never raised: `down` stops everything else anyway."""
    try:
        return bool(containers.remove_boot_containers(boot_id))
    except Exception as err:
        print(f"localcloud: could not remove the containers of boot {boot_id}: {err}", file=sys.stderr)
        return False


def down(port: int | None = None, state_dir: str | os.PathLike[str] | None = None) -> bool:
    """Stop the cloud this state directory started and every job/Lambda process of its boots; True if
    anything was stopped. Another state directory's cloud, even on this port, is never touched (`occupant`
    says what it is)."""
    state = config.state_dir(state_dir)
    with _state_lock(state):
        doc = health(port)
        pid = _own_server(state, doc)
        boot_ids = {_read_boot_id(state)}
        if pid is not None and doc is not None and doc.get("pid") == pid:
            boot_ids.add(doc.get("boot_id"))  # the running boot, should the boot id file be stale
        elif doc is not None:
            # Another state directory's cloud runs there: its boot (registry, jobs) is never ours to stop,
            # even when this state directory's boot id file names it.
            boot_ids.discard(doc.get("boot_id"))
        stopped = False
        if pid is not None:
            _stop_pid(pid)
            stopped = True
        for boot_id in filter(None, boot_ids):  # jobs of this state dir's boots, even after a hard crash
            stopped = _remove_boot_containers(boot_id) or stopped
            # Job and Lambda processes, the ECR registry: everything started with this boot's id.
            strays = procs.pids_with_boot_id(boot_id)
            for stray in strays:
                _kill_group(stray)
            deadline = time.monotonic() + 5.0  # SIGKILL is delivered asynchronously
            while any(_alive(p) for p in strays) and time.monotonic() < deadline:
                time.sleep(0.05)
            stopped = stopped or bool(strays)
        (state / config.PID_FILE).unlink(missing_ok=True)
        credentials.remove(state)  # nothing of this state dir runs now: its keys are dead
        return stopped


def logs(state_dir: str | os.PathLike[str] | None = None, lines: int = 200) -> str:
    path = config.state_dir(state_dir) / config.LOG_FILE
    if not path.exists():
        return ""
    return "".join(path.read_text(errors="replace").splitlines(keepends=True)[-lines:])
