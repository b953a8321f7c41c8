"""The CNCF distribution registry (Debian's `docker-registry`, 2.8) behind ECR: a child of the server process.

start(state_dir, boot_id) -> Registry | None   at boot: config, htpasswd, `docker-registry serve`, /v2/ up
stop()                                         at shutdown (SIGTERM, then SIGKILL)
address() -> str | None                        "127.0.0.1:PORT" while it runs
credentials() -> (user, password)              what GetAuthorizationToken hands out ("AWS", per-boot password)
api(path, method="GET", headers=None, body=None) -> Answer   an authenticated call to its /v2 API
off_reason() -> str | None                     why there is no registry (status says it)

Everything lives under <state>/registry/: config.yml, htpasswd (bcrypt), registry.log and data/ (storage
root; emptied at boot and at stop, since a new boot is an empty cloud). The process carries
LOCALCLOUD_BOOT_ID, so `localcloud down` kills it even after the server died hard. Without `docker-registry`
on PATH (or without the `bcrypt` package) the cloud starts anyway and ECR keeps moto's in-memory images.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from localcloud import config

log = logging.getLogger("localcloud.registry")

BINARY = "docker-registry"
USER = "AWS"
START_TIMEOUT_S = 15.0
STOP_TIMEOUT_S = 5.0
_BCRYPT_ROUNDS = 4  # the password is 32 random bytes: the cost buys nothing, and every request pays it
# Where distribution's filesystem driver keeps a repository (it has no API to delete one).
REPOSITORIES = Path("docker/registry/v2/repositories")


class RegistryOff(RuntimeError):
    """No registry runs in this process (not installed, or not started)."""


@dataclass
class Answer:
    status: int
    headers: dict[str, str]  # lower-cased names
    body: bytes


@dataclass
class Registry:
    proc: subprocess.Popen
    port: int
    password: str
    root: Path  # <state>/registry
    started_s: float = 0.0  # how long the start took (config, spawn, first answer of /v2/)
    _auth: str = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self._auth = "Basic " + base64.b64encode(f"{USER}:{self.password}".encode()).decode()

    @property
    def address(self) -> str:
        return f"{config.HOST}:{self.port}"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def repository_dir(self, name: str) -> Path:
        return self.data / REPOSITORIES / name

    def api(
        self, path: str, method: str = "GET", headers: dict | None = None, body: bytes | None = None
    ) -> Answer:
        conn = http.client.HTTPConnection(config.HOST, self.port, timeout=60)
        try:
            conn.request(method, path, body=body, headers={"Authorization": self._auth, **(headers or {})})
            response = conn.getresponse()
            return Answer(response.status, {k.lower(): v for k, v in response.getheaders()}, response.read())
        finally:
            conn.close()

    def stop(self) -> None:
        if self.proc.poll() is not None:
            return
        for sig, wait in ((signal.SIGTERM, STOP_TIMEOUT_S), (signal.SIGKILL, 5.0)):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.proc.pid, sig)
            try:
                self.proc.wait(wait)
                return
            except subprocess.TimeoutExpired:
                continue


_current: Registry | None = None
_off_reason: str | None = "not started"


def current() -> Registry | None:
    return _current


def address() -> str | None:
    return _current.address if _current is not None else None


def off_reason() -> str | None:
    return None if _current is not None else _off_reason


def credentials() -> tuple[str, str]:
    if _current is None:
        raise RegistryOff(f"no registry: {_off_reason}")
    return USER, _current.password


def api(path: str, method: str = "GET", headers: dict | None = None, body: bytes | None = None) -> Answer:
    if _current is None:
        raise RegistryOff(f"no registry: {_off_reason}")
    return _current.api(path, method, headers, body)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind((config.HOST, 0))
        return sock.getsockname()[1]


def _bcrypt_hash(password: str) -> str:
    import bcrypt  # dev dependency (pyproject); the registry stays off without it

    return bcrypt.hashpw(password.encode(), bcrypt.gensalt(rounds=_BCRYPT_ROUNDS)).decode()


def _config(root: Path, port: int) -> str:
    # JSON is YAML: no quoting rules to get wrong for paths.
    doc = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}, "formatter": "text"},
        "storage": {
            "filesystem": {"rootdirectory": str(root / "data")},
            "delete": {"enabled": True},
            "maintenance": {"uploadpurging": {"enabled": False}},
        },
        "http": {"addr": f"{config.HOST}:{port}", "secret": secrets.token_hex(16)},
        "auth": {"htpasswd": {"realm": "localcloud-ecr", "path": str(root / "htpasswd")}},
    }
    return json.dumps(doc, indent=2) + "\n"


def _answers(port: int) -> bool:
    conn = http.client.HTTPConnection(config.HOST, port, timeout=1.0)
    try:
        conn.request("GET", "/v2/")
        return conn.getresponse().status in (200, 401)
    except OSError:
        return False
    finally:
        conn.close()


def start(state_dir: str | os.PathLike[str], boot_id: str) -> Registry | None:
    """Start this boot's registry (idempotent within the process); None, with off_reason() set, when it
    cannot run here (not installed, or it did not come up: the cloud starts anyway)."""
    global _current, _off_reason
    if _current is not None:
        return _current
    binary = shutil.which(BINARY)
    if binary is None:
        _off_reason = f"`{BINARY}` is not installed (apt-get install docker-registry)"
        log.warning("ECR registry off: %s; ECR keeps moto's in-memory images", _off_reason)
        return None
    try:
        import bcrypt  # noqa: F401
    except ImportError:
        _off_reason = "the Python package bcrypt is not installed (pip install -e '.[dev]')"
        log.warning("ECR registry off: %s", _off_reason)
        return None
    began = time.monotonic()
    root = Path(state_dir) / "registry"
    shutil.rmtree(root / "data", ignore_errors=True)  # a new boot is an empty cloud
    (root / "data").mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(32)
    htpasswd = root / "htpasswd"
    htpasswd.write_text(f"{USER}:{_bcrypt_hash(password)}\n")
    htpasswd.chmod(0o600)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/"),
        config.BOOT_ID_ENV: boot_id,  # `localcloud down` finds it by this
    }
    failure = ""
    for _attempt in range(3):  # a free port can be taken between our probe and its bind
        port = _free_port()
        (root / "config.yml").write_text(_config(root, port))
        (root / "config.yml").chmod(0o600)  # holds the upload-state secret
        with open(root / "registry.log", "ab") as log_file:
            proc = subprocess.Popen(  # noqa: S603
                [binary, "serve", str(root / "config.yml")],
                stdin=subprocess.DEVNULL,
                stdout=log_file,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=root,
                start_new_session=True,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline and proc.poll() is None and not _answers(port):
            time.sleep(0.02)
        if proc.poll() is None and _answers(port):
            _current = Registry(proc, port, password, root, time.monotonic() - began)
            _off_reason = None
            log.info(
                "ECR registry %s up in %.2f s (pid %d, data %s)",
                _current.address,
                _current.started_s,
                proc.pid,
                _current.data,
            )
            return _current
        failure = f"exited with code {proc.returncode}" if proc.poll() is not None else "never answered"
        Registry(proc, port, password, root).stop()
    _off_reason = f"{BINARY} {failure}; see {root / 'registry.log'}"
    log.error("ECR registry off: %s", _off_reason)
    return None


def stop() -> None:
    global _current, _off_reason
    if _current is not None:
        _current.stop()
        shutil.rmtree(_current.data, ignore_errors=True)  # images die with the boot, as ECR's repositories do
        log.info("ECR registry %s stopped", _current.address)
        _current = None
        _off_reason = "stopped"
