"""Warm Lambda execution environments, reused between invocations as AWS does.

An Environment is one long-lived runtime (lambda_bootstrap: a `podman run` container in container mode, a
host process in process mode) that imported the handler's module once and serves one invocation at a time:
the runner writes a JSON line on its stdin, the bootstrap writes the result to RESULT_DIR/<request id>.json
and prints an end marker with the environment's random token; the lines before the marker are that
invocation's log. The log stream is the environment's (AWS: one stream per execution environment).

The Pool keeps idle environments per Key: everything that makes one environment differ from another
(function ARN and version, code sha256, handler, runtime mode, memory, timeout, environment variables, role
and its credentials). An invocation takes an idle environment of its key or starts a new one (concurrent
invocations get separate environments); after it, the environment goes back to the pool, unless the
invocation timed out, crashed, was killed or failed its init: those discard it, so the next one is cold. A
function's other keys (new code or configuration) retire its idle environments at once. Idle environments are
stopped after IDLE_SECONDS, at most MAX_IDLE_PER_KEY stay per key, and none serves past MAX_AGE_SECONDS
(shorter than the role session it holds, runtime.SESSION_SECONDS). When the cloud stops, procs.kill_all and
containers.remove_boot_containers end them with every other child of the boot.
"""

from __future__ import annotations

import contextlib
import json
import logging
import queue
import secrets
import shutil
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from localcloud import containers, procs
from localcloud.lambda_bootstrap import END, READY

log = logging.getLogger("localcloud.lambda")

IDLE_SECONDS = 60.0  # AWS keeps an idle environment for minutes; the local cloud frees memory sooner
MAX_AGE_SECONDS = 10 * 60.0  # well within the role session an environment holds (runtime.SESSION_SECONDS)
MAX_IDLE_PER_KEY = 4
REAP_INTERVAL_SECONDS = 5.0
START_TIMEOUT_SECONDS = 60.0  # process or container start plus the init (imports), under load
STOP_GRACE_SECONDS = 10.0  # an idle runtime exits when its stdin closes; killed after this
# How long after its deadline an invocation's end marker may still arrive (result file, pipe, podman).
DEADLINE_GRACE_SECONDS = 0.25


class Key(NamedTuple):
    function: tuple[str, str]  # (function ARN, version): its other keys are stale
    code_sha256: str
    handler: str
    runtime: str
    mode: str
    memory: int
    timeout: float
    variables: tuple[tuple[str, str], ...]
    role: str
    access_key: str


@dataclass
class Outcome:
    """What one invocation in an environment produced."""

    lines: list[str]
    result: dict | None = None  # the bootstrap's result document
    timed_out: bool = False
    returncode: int | None = None  # the runtime exited (crash, kill) with this code

    @property
    def keeps_environment(self) -> bool:
        return self.result is not None and not self.timed_out and not self.result.get("reset")


@dataclass
class Environment:
    key: Key
    proc: subprocess.Popen
    result_dir: Path
    token: str
    log_stream: str
    container: str | None = None  # the container's name in container mode
    created: float = field(default_factory=time.monotonic)
    last_used: float = field(default_factory=time.monotonic)
    invocations: int = 0
    init_lines: list[str] = field(default_factory=list)  # printed while importing, before READY
    _lines: queue.Queue = field(default_factory=queue.Queue)

    def __post_init__(self) -> None:
        threading.Thread(target=self._read, name=f"lambda-env-{self.token[:8]}", daemon=True).start()

    def _read(self) -> None:
        try:
            for raw in self.proc.stdout:
                self._lines.put(raw.decode("utf-8", errors="replace").rstrip("\n"))
        except (OSError, ValueError):
            pass
        self._lines.put(None)

    def _collect(self, marker: str, deadline: float) -> tuple[list[str], str]:
        """Lines up to `marker` ('done'), EOF ('exited') or the deadline ('timeout')."""
        lines: list[str] = []
        tagged = f"{marker} {self.token}"
        while True:
            try:
                line = self._lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                return lines, "timeout"
            if line is None:
                return lines, "exited"
            if line.endswith(tagged):
                if line[: -len(tagged)]:  # the handler's last line had no newline
                    lines.append(line[: -len(tagged)])
                return lines, "done"
            lines.append(line)

    def wait_ready(self) -> Outcome | None:
        """None once the runtime is initialised; else what its failed start produced."""
        lines, how = self._collect(READY, time.monotonic() + START_TIMEOUT_SECONDS)
        self.init_lines = lines
        if how == "done":
            return None
        if how == "timeout":
            return Outcome(lines, timed_out=True)
        return Outcome(lines, returncode=self._exit_code())

    def invoke(self, request: str, timeout: float) -> Outcome:
        """Send one invocation (a JSON line) and collect its log lines and result."""
        self.invocations += 1
        lines, self.init_lines = self.init_lines, []
        deadline = time.monotonic() + timeout + DEADLINE_GRACE_SECONDS
        try:
            self.proc.stdin.write(request.encode() + b"\n")
            self.proc.stdin.flush()
        except (OSError, ValueError):
            more, how = self._collect(END, time.monotonic() + 5.0)
            return Outcome(lines + more, returncode=self._exit_code())
        more, how = self._collect(END, deadline)
        lines += more
        if how == "timeout":
            return Outcome(lines, timed_out=True)
        if how == "exited":
            return Outcome(lines, returncode=self._exit_code())
        return Outcome(lines, result=self._result_of(request))

    def _result_of(self, request: str) -> dict | None:
        path = self.result_dir / f"{json.loads(request)['request_id']}.json"
        try:
            return json.loads(path.read_text())
        except (OSError, ValueError):
            return None
        finally:
            path.unlink(missing_ok=True)

    def _exit_code(self) -> int | None:
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            return None

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self, kill: bool = False) -> None:
        """Kill (a timed-out or crashed runtime: synchronously, container included) or let it exit (its stdin
        closed: the bootstrap's loop ends, `podman run --rm` removes the container), killed if it lingers."""
        if not kill:
            with contextlib.suppress(OSError, ValueError):
                self.proc.stdin.close()
            try:
                self.proc.wait(timeout=STOP_GRACE_SECONDS)
            except subprocess.TimeoutExpired:
                kill = True
        if kill:
            if self.container is not None and self.proc.poll() is None:
                containers.kill(self.container)  # the container itself, not only the podman client
            procs.kill_tree(self.proc)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=30)
            if self.container is not None:
                containers.remove(self.container)  # in case the client had not removed it
        procs.kill_tree(self.proc)  # whatever the runtime left in its session (process mode)
        procs.forget(self.proc)
        with contextlib.suppress(OSError, ValueError):
            self.proc.stdin.close()
        shutil.rmtree(self.result_dir, ignore_errors=True)


def new_token() -> str:
    return secrets.token_hex(16)


class Pool:
    def __init__(self) -> None:
        self._idle: dict[Key, list[Environment]] = {}
        self._lock = threading.Lock()
        self._reaper: threading.Thread | None = None

    def take(self, key: Key) -> Environment | None:
        """An idle environment of this key (the most recently used), or None: start one. Idle environments
        of the same function with another key (older code or configuration) are stopped."""
        stale: list[Environment] = []
        found = None
        now = time.monotonic()
        with self._lock:
            for other in [k for k in self._idle if k.function == key.function and k != key]:
                stale += self._idle.pop(other)
            idle = self._idle.get(key, [])
            while idle and found is None:
                candidate = idle.pop()
                if candidate.alive() and now - candidate.created < MAX_AGE_SECONDS:
                    found = candidate
                else:
                    stale.append(candidate)
            if not idle:
                self._idle.pop(key, None)
        self.stop_in_background(stale)
        return found

    def give_back(self, env: Environment) -> None:
        """After an invocation that keeps its environment: idle again (or stopped, when too many or old)."""
        now = time.monotonic()
        env.last_used = now
        with self._lock:
            idle = self._idle.setdefault(env.key, [])
            keep = env.alive() and now - env.created < MAX_AGE_SECONDS and len(idle) < MAX_IDLE_PER_KEY
            if keep:
                idle.append(env)
            elif not idle:
                self._idle.pop(env.key, None)
            if self._reaper is None:
                self._reaper = threading.Thread(target=self._reap_forever, name="lambda-reaper", daemon=True)
                self._reaper.start()
        if not keep:
            self.stop_in_background([env])

    def idle_count(self, key: Key | None = None) -> int:
        with self._lock:
            return sum(len(envs) for k, envs in self._idle.items() if key is None or k == key)

    def reap(self, now: float | None = None) -> int:
        """Stop the environments idle longer than IDLE_SECONDS, older than MAX_AGE_SECONDS or dead."""
        now = time.monotonic() if now is None else now
        expired: list[Environment] = []
        with self._lock:
            for key in list(self._idle):
                keep = []
                for env in self._idle[key]:
                    stale = now - env.last_used >= IDLE_SECONDS or now - env.created >= MAX_AGE_SECONDS
                    (expired if stale or not env.alive() else keep).append(env)
                if keep:
                    self._idle[key] = keep
                else:
                    del self._idle[key]
        for env in expired:
            env.stop()
        return len(expired)

    def stop_all(self) -> None:
        with self._lock:
            envs = [env for idle in self._idle.values() for env in idle]
            self._idle.clear()
        for env in envs:
            env.stop()

    def _reap_forever(self) -> None:
        while True:
            time.sleep(REAP_INTERVAL_SECONDS)
            try:
                self.reap()
            except Exception:
                log.exception("reaping idle Lambda environments")

    @staticmethod
    def stop_in_background(envs: list[Environment]) -> None:
        if envs:
            threading.Thread(target=lambda: [env.stop() for env in envs], daemon=True).start()


POOL = Pool()
