"""The container runtime layer: podman (with runc) on this machine, or no containers at all.

Every podman and buildah call of the project goes through `podman(...)` / `buildah_cmd(...)` with
`podman_env()`, which carry the settings these machines need (localcloud/README.md, "Containers"):
`--runtime runc` (crun refuses hybrid cgroups), `--cgroup-manager cgroupfs` (no systemd), overlay storage
with a root and runroot of our own under STORE_DIR, and a containers.conf without default ulimits (raising
RLIMIT_NOFILE/NPROC is not permitted here). The store is shared by every local cloud on the machine, so
images (the base image above all) survive restarts and are built once.

Mode: LOCALCLOUD_RUNTIME = auto (default) | container | process. `resolve_mode()` decides once at server
start (auto: containers when `available()`, else processes; container when unavailable raises
ContainerRuntimeUnavailable); the server exports the decision as LOCALCLOUD_RUNTIME_MODE, which `mode()`
reads, so every thread and child of one cloud sees the same.

Images a job may name (no public registry is reachable from here):
- the official Python 3.11 images (`python:3.11-slim`, `docker.io/library/python:3.11...`,
  `public.ecr.aws/docker/library/python:3.11...`) run as the local Debian-based Python 3.11 image
  (localcloud.images.BASE_IMAGE, built once);
- the local registry's references (`127.0.0.1:<port>/...`, what ECR's repositoryUri is) are pulled from it
  with its credentials, once per reference (a lock per reference: 100 array children pull once);
- images the local cloud itself built (`localhost/localcloud/...`) when present in the store;
- anything else fails the attempt with CannotPullContainerError, as on AWS.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path

MODE_ENV = "LOCALCLOUD_RUNTIME"  # what the user asks for: auto | container | process
CHOSEN_ENV = "LOCALCLOUD_RUNTIME_MODE"  # what this cloud chose at boot (set by the server)
STORE_ENV = "LOCALCLOUD_CONTAINERS_DIR"
MODES = ("auto", "container", "process")
BOOT_LABEL = "localcloud.boot"
CONTAINER_PREFIX = "lc-"
PODMAN_TIMEOUT_S = 120.0
PULL_TAG_TTL_S = 30.0  # a tag may move (mutable repositories); a digest never does
LOCAL_IMAGES_PREFIX = "localhost/localcloud/"


class ContainerRuntimeUnavailable(RuntimeError):
    """LOCALCLOUD_RUNTIME=container, but podman cannot run containers here."""


class CannotPullContainerError(RuntimeError):
    """The image is in no registry the local cloud can reach; str() is the attempt's reason."""


def store_dir() -> Path:
    raw = os.environ.get(STORE_ENV) or Path.home() / ".cache" / "render-farm" / "containers"
    return Path(raw).expanduser().resolve()


STORE_DIR = store_dir()  # at import; the functions read store_dir() again, so a test may move it

_CONF = "[containers]\ndefault_ulimits = []\n"


def _conf_path() -> Path:
    store = store_dir()
    path = store / "containers.conf"
    if not path.exists() or path.read_text() != _CONF:
        store.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".containers.conf.{os.getpid()}.{threading.get_ident()}")
        tmp.write_text(_CONF)
        tmp.replace(path)  # atomic: two clouds starting together both see a whole file
    return path


def _storage_args() -> list[str]:
    store = store_dir()
    return ["--storage-driver", "overlay", "--root", str(store / "storage"), "--runroot", str(store / "run")]


def podman(*args: str) -> list[str]:
    """The argv of a podman call with this machine's settings and the shared store."""
    return ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs", *_storage_args(), *args]


def buildah_cmd(*args: str) -> list[str]:
    """The argv of a buildah call on the same store (run it with podman_env())."""
    return ["buildah", *_storage_args(), *args]


def podman_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    env["CONTAINERS_CONF"] = str(_conf_path())
    env.update(extra or {})
    return env


# Variables the podman client itself reads: a container's value for them goes literally on the command line.
_PODMAN_NAMES = ("PATH", "HOME", "TMPDIR", "TZ", "USER", "SHELL", "LANG", "LC_ALL", "NOTIFY_SOCKET")
_PODMAN_PREFIXES = ("CONTAINERS_", "CONTAINER_", "PODMAN_", "BUILDAH_", "REGISTRY_", "XDG_", "LD_", "DBUS_")


def podman_reads(name: str) -> bool:
    """Whether the podman client reads `name` from its own environment: a container's value for it must go
    on the command line (`-e NAME=value`) rather than through the client's environment (`-e NAME`)."""
    return name in _PODMAN_NAMES or name.startswith(_PODMAN_PREFIXES)


def environment_args(env: Mapping[str, str], client_env: dict[str, str]) -> list[str]:
    """The `-e` arguments giving a container `env`: each value travels in the podman client's environment
    (`-e NAME` reads it there; added to `client_env`), never on a command line `ps` shows, except names podman
    itself reads (podman_reads), which go as NAME=VALUE when the client's own value differs."""
    args: list[str] = []
    for variable, value in env.items():
        if podman_reads(variable) and client_env.get(variable) != value:
            args += ["-e", f"{variable}={value}"]  # podman itself reads it: literal (never a secret's name)
        else:
            client_env[variable] = value
            args += ["-e", variable]
    return args


def run_podman(
    *args: str, check: bool = True, timeout: float | None = PODMAN_TIMEOUT_S, input: str | None = None
) -> subprocess.CompletedProcess:
    """Run podman to completion, output captured as text; CalledProcessError (with stderr) when check."""
    return subprocess.run(  # noqa: S603
        podman(*args),
        env=podman_env(),
        input=input,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=check,
    )


# ---- availability and mode -------------------------------------------------------------------------------

_available: tuple[bool, str] | None = None
_available_lock = threading.Lock()


def _probe() -> tuple[bool, str]:
    if not sys.platform.startswith("linux"):
        return False, f"containers need Linux (this is {sys.platform})"
    if os.geteuid() != 0:
        return False, "containers need root here (rootless podman is not set up): running as uid " + str(
            os.geteuid()
        )
    missing = [name for name in ("podman", "runc") if shutil.which(name) is None]
    if missing:
        return False, f"{' and '.join(missing)} not installed (apt-get install podman runc)"
    try:
        done = run_podman("info", "--format", "{{.Host.OCIRuntime.Name}}", check=False, timeout=60)
    except (OSError, subprocess.SubprocessError) as err:
        return False, f"`podman info` failed: {err}"
    if done.returncode != 0:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return False, f"`podman info` failed: {last}"
    return True, f"podman with {done.stdout.strip() or 'runc'}, store {store_dir()}"


def available() -> tuple[bool, str]:
    """Whether podman can run containers here, and why (not); probed once per process."""
    global _available
    with _available_lock:
        if _available is None:
            _available = _probe()
        return _available


def requested_mode(requested: str | None = None) -> str:
    value = (requested or os.environ.get(MODE_ENV) or "auto").strip().lower()
    if value not in MODES:
        raise ValueError(f"{MODE_ENV} must be one of {', '.join(MODES)}, not {value!r}")
    return value


def resolve_mode(requested: str | None = None) -> str:
    """ "container" or "process" for a cloud starting now (requested: auto | container | process, default
    $LOCALCLOUD_RUNTIME or auto)."""
    wanted = requested_mode(requested)
    if wanted == "process":
        return "process"
    ok, why = available()
    if ok:
        return "container"
    if wanted == "container":
        raise ContainerRuntimeUnavailable(f"{MODE_ENV}=container, but containers cannot run here: {why}")
    return "process"


def mode() -> str:
    """The mode this cloud chose at boot ($LOCALCLOUD_RUNTIME_MODE), else decided now."""
    chosen = (os.environ.get(CHOSEN_ENV) or "").strip().lower()
    return chosen if chosen in ("container", "process") else resolve_mode()


# ---- containers of a boot --------------------------------------------------------------------------------


def container_name(task_id: str) -> str:
    return f"{CONTAINER_PREFIX}{task_id}"


def boot_containers(boot_id: str) -> list[str]:
    """Ids of the containers (running or not) a boot of the local cloud started."""
    if shutil.which("podman") is None:
        return []
    done = run_podman("ps", "-a", "-q", "--filter", f"label={BOOT_LABEL}={boot_id}", check=False, timeout=60)
    return done.stdout.split() if done.returncode == 0 else []


def remove_boot_containers(boot_id: str) -> int:
    """Force-remove (kill first) every container of a boot; how many there were. In the server itself (at
    shutdown) it also untags the images this process pulled from its registry, whose port dies with the
    boot (their layers stay while another name uses them, e.g. the base image)."""
    if not boot_id:
        return 0
    ids = boot_containers(boot_id)
    if ids:
        run_podman("rm", "-f", "-t", "0", *ids, check=False, timeout=120)
    remove_cgroup(f"/{CGROUP_PARENT}/{boot_id}")  # what a server that died left of its attempts' cgroups
    forget_pulled_images()
    return len(ids)


# ---- cgroups ---------------------------------------------------------------------------------------------

CGROUP_ROOT = Path("/sys/fs/cgroup")
CGROUP_PARENT = "localcloud"  # containers go under /localcloud/<boot id>/<task id> in every hierarchy


def cgroup_parent(boot_id: str, task_id: str) -> str:
    """The --cgroup-parent of an attempt's container: a cgroup of our own that outlives the container, so its
    memory counters can still be read after it exited."""
    return f"/{CGROUP_PARENT}/{boot_id or 'no-boot'}/{task_id}"


def cgroup_dirs(path: str) -> list[Path]:
    """The directories of a cgroup in every hierarchy (v1 controllers and a v2 mount)."""
    if not CGROUP_ROOT.is_dir():
        return []
    relative = path.strip("/")
    found = [CGROUP_ROOT / relative] if (CGROUP_ROOT / "cgroup.controllers").exists() else []
    with contextlib.suppress(OSError):
        found += [base / relative for base in CGROUP_ROOT.iterdir() if (base / relative).is_dir()]
    return [directory for directory in found if directory.is_dir()]


def remove_cgroup(path: str) -> None:
    """rmdir a cgroup and everything under it (deepest first) in every hierarchy; busy ones stay."""
    for top in cgroup_dirs(path):
        for directory, _subdirs, _files in sorted(os.walk(top), key=lambda entry: -len(entry[0])):
            with contextlib.suppress(OSError):
                os.rmdir(directory)


def kill(name: str, signal_name: str = "KILL") -> bool:
    """Send a signal to a container (True when it was running and got it)."""
    done = run_podman("kill", "--signal", signal_name, name, check=False, timeout=60)
    return done.returncode == 0


def remove(name: str) -> None:
    run_podman("rm", "-f", "-t", "0", name, check=False, timeout=120)


def inspect(name: str) -> dict | None:
    """podman inspect of one container, None when there is no such container."""
    done = run_podman("container", "inspect", name, check=False, timeout=60)
    if done.returncode != 0:
        return None
    try:
        found = json.loads(done.stdout)
    except ValueError:
        return None
    return found[0] if isinstance(found, list) and found else None


# ---- images ----------------------------------------------------------------------------------------------

# The official Python 3.11 images a job definition may name, on Docker Hub or its public ECR mirror.
_PUBLIC_PYTHON = re.compile(
    r"^(?:(?:docker\.io|registry-1\.docker\.io|index\.docker\.io)/(?:library/)?|public\.ecr\.aws/docker/library/"
    r"|library/)?python:3\.11(?:\.\d+)?(?:-(?:slim|bookworm|slim-bookworm))?(?:@sha256:[0-9a-f]{64})?$"
)


def local_image_for(image_ref: str) -> str | None:
    """The local image standing for a public image (the official Python 3.11 images -> images.BASE_IMAGE),
    None for any other reference."""
    if _PUBLIC_PYTHON.match(image_ref.strip()):
        from localcloud import images

        return images.BASE_IMAGE
    return None


def registry_address() -> str | None:
    """127.0.0.1:PORT of the local registry behind ECR (localcloud.registry), None without one."""
    try:
        from localcloud import registry
    except ImportError:
        return None
    try:
        return registry.address()
    except Exception:
        return None


def _registry_host(image_ref: str) -> str | None:
    first = image_ref.split("/", 1)[0]
    return first if "/" in image_ref and ("." in first or ":" in first or first == "localhost") else None


def _same_host(a: str, b: str) -> bool:
    def norm(value: str) -> str:
        host, _, port = value.partition(":")
        return f"{'127.0.0.1' if host in ('localhost', '127.0.0.1') else host}:{port}"

    return norm(a) == norm(b)


_pulled: dict[str, float] = {}  # reference -> when it was pulled (monotonic)
_ref_locks: dict[str, threading.Lock] = {}
_ref_locks_lock = threading.Lock()


def _lock_for(ref: str) -> threading.Lock:
    with _ref_locks_lock:
        return _ref_locks.setdefault(ref, threading.Lock())


_MISSING_WORDS = ("manifest unknown", "not found", "name unknown")


def _cannot_pull(ref: str, why: str = "not found in any reachable registry") -> CannotPullContainerError:
    return CannotPullContainerError(f"CannotPullContainerError: {ref}: {why}")


def image_exists(ref: str) -> bool:
    return run_podman("image", "exists", ref, check=False, timeout=60).returncode == 0


def pull(ref: str) -> str:
    """Pull a local registry's reference with its credentials, once per reference (digests for good, tags
    again after PULL_TAG_TTL_S); CannotPullContainerError when the registry does not have it."""
    with _lock_for(ref):
        seen = _pulled.get(ref)
        if seen is not None and ("@sha256:" in ref or time.monotonic() - seen < PULL_TAG_TTL_S):
            return ref
        from localcloud import registry

        user, password = registry.credentials()
        done = subprocess.run(  # noqa: S603
            podman("pull", "--quiet", "--tls-verify=false", "--creds", f"{user}:{password}", ref),
            env=podman_env(),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if done.returncode != 0:
            text = done.stderr.strip().splitlines()
            detail = text[-1] if text else f"podman pull exited {done.returncode}"
            missing = any(
                word in detail.lower() for word in ("manifest unknown", "not found", "name unknown")
            )
            raise _cannot_pull(ref, "not found in any reachable registry" if missing else detail)
        _pulled[ref] = time.monotonic()
        return ref


def resolve_image(image_ref: str) -> str:
    """The local image a job naming `image_ref` runs (building the base image or pulling from the local
    registry when needed); CannotPullContainerError when there is none, as on AWS."""
    ref = (image_ref or "").strip()
    if not ref:
        raise _cannot_pull("<empty>", "the job definition names no image")
    local = local_image_for(ref)
    if local is not None:
        from localcloud import images

        return images.ensure_base()
    host = _registry_host(ref)
    address = registry_address()
    if host and address and _same_host(host, address):
        return pull(ref)
    if ref.startswith(LOCAL_IMAGES_PREFIX) and image_exists(ref):
        return ref
    raise _cannot_pull(ref)


def forget_pulled_images() -> None:
    """Untag what this process pulled by tag and empty the pull cache. A pull by digest adds no name to the
    store, and `podman rmi <ref>@sha256:...` would remove the image under every name it has (the base image
    itself, when a test pushed it to ECR), so those are left alone."""
    with _ref_locks_lock:
        refs = [ref for ref in _pulled if "@" not in ref]
        _pulled.clear()
    if shutil.which("podman") is not None:
        for ref in refs:
            run_podman("untag", ref, ref, check=False, timeout=60)  # this name only, never the image
