"""The admin key pair of one boot of the local cloud: issued at random by the server before it listens,
written to `<state>/credentials` (mode 0600, JSON), and read by everything of the harness that talks to it
(Terraform, boto3 sessions, tests, `localcloud env`). Nothing else is admin: a request signed with any other
key is the authorizer's to refuse (localcloud/iam/), so whoever cannot read the file cannot use the cloud.

issue(endpoint, boot_id) -> Credentials              server only: new keys, made current()
write(state_dir, credentials)                         server only: the 0600 file
current() -> Credentials | None                       in the server process: this boot's keys
is_admin(access_key_id) -> bool                       in the server process: is this this boot's admin key
read(state_dir=None) -> Credentials                   the file of a state directory (raises NoCredentials)
for_endpoint(endpoint, state_dir=None) -> Credentials the keys of the cloud answering at an endpoint
build_endpoint() -> str | None                       the cloud this process runs in as a CodeBuild build

Inside a build the cloud runs (the pipeline's Deploy stage runs the harness there), a client of that cloud
calls as the build: for_endpoint answers the build role's session from the environment, never the admin's.
"""

from __future__ import annotations

import contextlib
import hmac
import json
import os
import secrets
import string
import urllib.parse
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from pathlib import Path

from localcloud import config

FILE = "credentials"
BUILD_ID_VARIABLE = "CODEBUILD_BUILD_ID"
ADMIN_FIELDS = ("access_key_id", "secret_access_key", "region", "endpoint", "boot_id")  # what the file holds
KEY_ID_PREFIX = "LKIA"  # AWS long-term keys start AKIA, session keys ASIA; L for "local"
_KEY_ID_ALPHABET = string.ascii_uppercase + string.digits
_SECRET_ALPHABET = string.ascii_letters + string.digits + "+/"  # what AWS secrets are made of
_LOOPBACK_NAMES = {config.HOST, "localhost"}

_current: Credentials | None = None


class NoCredentials(RuntimeError):
    """No admin credentials for the local cloud asked about (not running, or not started by this user)."""


@dataclass(frozen=True)
class Credentials:
    access_key_id: str
    secret_access_key: str
    region: str
    endpoint: str
    boot_id: str
    session_token: str | None = None  # a build's role session; None for the admin's long-term keys

    def env(self) -> dict[str, str]:
        """Environment variables that aim boto3, the AWS CLI and Terraform at this cloud with these keys."""
        found = {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": self.access_key_id,
            "AWS_SECRET_ACCESS_KEY": self.secret_access_key,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
        }
        return {**found, "AWS_SESSION_TOKEN": self.session_token} if self.session_token else found

    def client_kwargs(self) -> dict[str, str]:
        """Keyword arguments of boto3.client / boto3.Session.client."""
        found = {
            "endpoint_url": self.endpoint,
            "region_name": self.region,
            "aws_access_key_id": self.access_key_id,
            "aws_secret_access_key": self.secret_access_key,
        }
        return {**found, "aws_session_token": self.session_token} if self.session_token else found

    def __repr__(self) -> str:  # never print the secret by accident (test output, logs)
        return f"Credentials({self.access_key_id!r}, endpoint={self.endpoint!r}, boot_id={self.boot_id!r})"


def new(endpoint: str, boot_id: str) -> Credentials:
    """A fresh random key pair shaped like AWS's (20-character key id, 40-character secret)."""
    return Credentials(
        access_key_id=KEY_ID_PREFIX + "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(16)),
        secret_access_key="".join(secrets.choice(_SECRET_ALPHABET) for _ in range(40)),
        region=config.REGION,
        endpoint=endpoint,
        boot_id=boot_id,
    )


def path(state_dir: str | os.PathLike[str] | None = None) -> Path:
    return config.state_dir(state_dir) / FILE


def write(state_dir: str | os.PathLike[str] | None, credentials: Credentials) -> Path:
    """Write the file readable by this user only: created 0600 under another name, then renamed into place,
    so no reader ever sees it half written or with wider permissions."""
    target = path(state_dir)
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f".{FILE}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        json.dump({k: v for k, v in asdict(credentials).items() if k in ADMIN_FIELDS}, handle, indent=2)
        handle.write("\n")
    os.replace(temporary, target)
    return target


def issue(endpoint: str, boot_id: str) -> Credentials:
    """The server's start: new keys for this boot, current() from now on. The server writes them (`write`)
    once it holds its port, so a start that loses the port never overwrites a running cloud's file."""
    global _current
    _current = new(endpoint, boot_id)
    return _current


def current() -> Credentials | None:
    """This boot's keys when called in the server process (after issue), else None."""
    return _current


def is_admin(access_key_id: str | None) -> bool:
    """Whether a request's access key id is this boot's admin key (server process only)."""
    issued = _current
    return bool(issued and access_key_id) and hmac.compare_digest(issued.access_key_id, str(access_key_id))


def read(state_dir: str | os.PathLike[str] | None = None) -> Credentials:
    """The admin keys a state directory's cloud issued. Raises NoCredentials when there are none."""
    file = path(state_dir)
    try:
        doc = json.loads(file.read_text())
        return Credentials(**{name: str(doc[name]) for name in ADMIN_FIELDS})
    except FileNotFoundError:
        raise NoCredentials(
            f"no local cloud credentials in {file}: the local cloud of {file.parent} is not running "
            "(start it with `localcloud up`)"
        ) from None
    except PermissionError:
        raise NoCredentials(
            f"{file} is not readable by this user: the local cloud is someone else's"
        ) from None
    except (ValueError, KeyError, TypeError) as err:
        raise NoCredentials(f"{file} is not a local cloud credentials file: {err}") from None


def remove(state_dir: str | os.PathLike[str] | None, boot_id: str | None = None) -> None:
    """Delete the file (only when it is still `boot_id`'s, if given): the keys die with their cloud."""
    file = path(state_dir)
    if boot_id is not None:
        try:
            if json.loads(file.read_text()).get("boot_id") != boot_id:
                return
        except (OSError, ValueError):
            return
    file.unlink(missing_ok=True)


def _loopback_port(endpoint: str) -> int | None:
    """The port of an http://127.0.0.1:N or http://localhost:N endpoint, else None."""
    parsed = urllib.parse.urlsplit(endpoint.strip())
    if parsed.scheme != "http" or parsed.hostname not in _LOOPBACK_NAMES:
        return None
    return parsed.port


def same_endpoint(a: str, b: str) -> bool:
    """http://127.0.0.1:N and http://localhost:N are the same local cloud."""
    port = _loopback_port(a)
    return port is not None and port == _loopback_port(b)


def build_endpoint(environ: Mapping[str, str] = os.environ) -> str | None:
    """The local cloud this process runs in as a CodeBuild build, None elsewhere: CodeBuild sets
    CODEBUILD_BUILD_ID in every build, and only the local cloud's builds are given AWS_ENDPOINT_URL."""
    if environ.get(BUILD_ID_VARIABLE) and environ.get("AWS_ENDPOINT_URL"):
        return environ["AWS_ENDPOINT_URL"]
    return None


def build_session(environ: Mapping[str, str] = os.environ) -> Credentials | None:
    """Inside a build of a local cloud, the build role's session its runtime put in the environment."""
    endpoint = build_endpoint(environ)
    if endpoint is None:
        return None
    if not (environ.get("AWS_ACCESS_KEY_ID") and environ.get("AWS_SECRET_ACCESS_KEY")):
        raise NoCredentials(f"a build of the local cloud at {endpoint} without its session")
    return Credentials(
        access_key_id=environ["AWS_ACCESS_KEY_ID"],
        secret_access_key=environ["AWS_SECRET_ACCESS_KEY"],
        region=environ.get("AWS_REGION") or config.REGION,
        endpoint=endpoint,
        boot_id="",
        session_token=environ.get("AWS_SESSION_TOKEN"),
    )


def for_endpoint(endpoint: str, state_dir: str | os.PathLike[str] | None = None) -> Credentials:
    """The keys a client of the local cloud at `endpoint` uses: inside a build of that cloud the build's
    session (build_session); else its admin keys: this process's own (the server), else the file of
    `state_dir` ($LOCALCLOUD_STATE_DIR by default) when it belongs to that endpoint and boot, else the file of
    the state directory the running cloud names in its health document (a private cloud of a test suite)."""
    session = build_session()
    if session is not None and same_endpoint(session.endpoint, endpoint):
        return session
    issued = _current
    if issued is not None and same_endpoint(issued.endpoint, endpoint):
        return issued
    port = _loopback_port(endpoint)
    if port is None:
        raise NoCredentials(f"{endpoint} is not a local cloud endpoint (http://127.0.0.1:<port>)")
    from localcloud import lifecycle  # late: lifecycle needs this module's neighbours, not the reverse

    health = lifecycle.health(port)
    candidates = [config.state_dir(state_dir)]
    if health and health.get("state_dir"):
        candidates.append(Path(health["state_dir"]))
    problems = []
    for candidate in candidates:
        try:
            found = read(candidate)
        except NoCredentials as err:
            problems.append(str(err))
            continue
        if not same_endpoint(found.endpoint, endpoint):
            problems.append(f"{path(candidate)} belongs to {found.endpoint}")
        elif health and health.get("boot_id") != found.boot_id:
            problems.append(f"{path(candidate)} belongs to an earlier boot of {endpoint}")
        else:
            return found
    raise NoCredentials(f"no admin credentials for the local cloud at {endpoint}: " + "; ".join(problems))
