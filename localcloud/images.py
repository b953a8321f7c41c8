"""Images the local cloud itself provides, built once into the shared container store (containers.STORE_DIR).

- BASE_IMAGE: Debian bookworm (Python 3.11.2) made with debootstrap and `podman import`. No public registry
  is reachable here, so this stands in for `python:3.11-slim` (containers.local_image_for) and is the worker
  image's base. `python` is linked to `python3`, as in the official image.
- LAMBDA_IMAGE: FROM the base, a venv at /var/lang holding exactly what the AWS Lambda Python 3.11 runtime
  provides (boto3 and its closure) at the versions of requirements/runtime.txt; tagged with a hash of those
  pins and of the recipe, so a change of the lock makes a new image. A function's zip is mounted at /var/task.
- The CodeBuild build image (BUILD_REPOSITORY, `ensure_build_image`): what a project naming AWS's managed
  images (`aws/codebuild/standard...`, `aws/codebuild/amazonlinux...`; `build_image_for`) runs. FROM the
  base, BUILD_PACKAGES from apt (bash, git, curl, unzip, zip, ca-certificates, python3-venv; built with the
  host network) and a copy of the host's `terraform` binary at /usr/local/bin/terraform (none on PATH: the
  build fails naming it); tagged with a hash of the recipe and of the binary's size and mtime, so a new
  terraform makes a new image. Not copied but mounted read-only at the same path by each build
  (`build_image_mounts`): the host CA bundle, /etc/pip.conf, the absolute PIP_FIND_LINKS directories and the
  Terraform provider mirror /opt/tf-plugins, each when present.

Builds take a file lock (fcntl) in the store, so concurrent callers (two local clouds, nox, a test) build
once; progress goes to stderr; a failing step raises ImageBuildError naming its command.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

from localcloud import config, containers, filelock

PYTHON_MINOR = "3.11"
SUITE = "bookworm"  # Debian 12: Python 3.11.2, the minor of the Lambda runtime and of python:3.11-slim
BASE_IMAGE = f"localhost/localcloud/python:{PYTHON_MINOR}-{SUITE}"
BASE_PACKAGES = ("python3", "python3-venv", "ca-certificates")
LAMBDA_REPOSITORY = "localhost/localcloud/lambda-python"
# What the AWS Lambda Python runtime ships besides the standard library (boto3 and its dependencies).
LAMBDA_PACKAGES = ("boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3")
LAMBDA_VENV = "/var/lang"
RUNTIME_LOCK = config.REPO_ROOT / "requirements" / "runtime.txt"
HOST_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
BUILD_TIMEOUT = 900.0

_LAMBDA_CONTAINERFILE = """\
FROM {base}
COPY requirements.txt /tmp/lambda-runtime.txt
RUN python3 -m venv {venv} \\
 && {venv}/bin/pip install --no-cache-dir --disable-pip-version-check {require_hashes}\\
      -r /tmp/lambda-runtime.txt \\
 && {venv}/bin/pip check \\
 && rm /tmp/lambda-runtime.txt \\
 && mkdir -p /var/task /var/runtime
ENV PATH={venv}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \\
    LANG=C.UTF-8 TZ=:UTC LAMBDA_TASK_ROOT=/var/task LAMBDA_RUNTIME_DIR=/var/runtime
WORKDIR /var/task
"""

_guard = threading.Lock()
_ready: set[str] = set()


class ImageBuildError(RuntimeError):
    """A step of an image build failed; the message names the command and ends with its output."""


def _progress(message: str) -> None:
    print(f"[localcloud images] {message}", file=sys.stderr, flush=True)


def _run(argv: Sequence[str], *, env: dict[str, str] | None = None, stdin=None, timeout=BUILD_TIMEOUT) -> str:
    try:
        done = subprocess.run(  # noqa: S603 - our own argv
            list(argv), env=env, stdin=stdin, capture_output=True, text=True, timeout=timeout, check=False
        )
    except FileNotFoundError as err:
        raise ImageBuildError(f"`{argv[0]}` is not installed ({err}); command: {' '.join(argv)}") from err
    except subprocess.TimeoutExpired as err:
        raise ImageBuildError(f"timed out after {timeout:.0f} s: {' '.join(argv)}") from err
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
        raise ImageBuildError(f"exit status {done.returncode}: {' '.join(argv)}\n{tail}")
    return done.stdout


def _build_lock(name: str):
    """An exclusive lock on <store>/locks/<name>.lock: one builder per machine; the others wait, then find
    the image there."""
    path = containers.store_dir() / "locks" / f"{name}.lock"
    return filelock.exclusive(path, lambda: _progress(f"another process is building {name}; waiting for it"))


def _ensure(ref: str, lock_name: str, build) -> str:
    with _guard:
        if ref in _ready:
            return ref
    if not containers.image_exists(ref):
        with _build_lock(lock_name):
            if not containers.image_exists(ref):  # built by whoever held the lock before us
                started = time.monotonic()
                build()
                _progress(f"{ref} built in {time.monotonic() - started:.1f} s")
    with _guard:
        _ready.add(ref)
    return ref


def ensure_base() -> str:
    """BASE_IMAGE, built with debootstrap + `podman import` the first time on this machine (~1 min)."""
    return _ensure(BASE_IMAGE, "base", _build_base)


def _build_base() -> None:
    scratch = containers.store_dir() / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="debootstrap-", dir=scratch))
    rootfs = workdir / "rootfs"
    try:
        _progress(f"building {BASE_IMAGE}: debootstrap {SUITE} (minbase, {', '.join(BASE_PACKAGES)}) ...")
        started = time.monotonic()
        _run(
            [
                "debootstrap",
                "--variant=minbase",
                f"--include={','.join(BASE_PACKAGES)}",
                SUITE,
                str(rootfs),
            ]
        )
        _progress(f"debootstrap done in {time.monotonic() - started:.1f} s; importing")
        # As in python:3.11-slim: `python` is Python 3; no package lists or caches in the image.
        python = rootfs / "usr" / "bin" / "python"
        if not python.exists():
            python.symlink_to("python3")
        for leftover in ("var/cache/apt/archives", "var/lib/apt/lists"):
            for entry in (rootfs / leftover).glob("*"):
                if entry.is_file():
                    entry.unlink()
        _import_rootfs(rootfs)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def _import_rootfs(rootfs: Path) -> None:
    tar = ["tar", "-C", str(rootfs), "--numeric-owner", "-c", "."]
    changes = [
        "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "ENV LANG=C.UTF-8",
        'CMD ["python3"]',
    ]
    argv = containers.podman("import", *(f"--change={change}" for change in changes), "-", BASE_IMAGE)
    with subprocess.Popen(tar, stdout=subprocess.PIPE) as producer:  # noqa: S603
        try:
            _run(argv, env=containers.podman_env(), stdin=producer.stdout)
        finally:
            producer.stdout.close()
            producer.wait()
    if producer.returncode != 0:
        raise ImageBuildError(f"exit status {producer.returncode}: {' '.join(tar)}")


_PIN = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)\s*==\s*([^\s;\\]+)")
_HASH = re.compile(r"--hash=(\S+)")


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lambda_pins(lock: Path | None = None) -> tuple[list[str], str]:
    """(requirement lines for LAMBDA_PACKAGES, where they came from): pinned from the lock (with its hashes
    when every package has some), or, until the lock exists, from the versions installed in this Python."""
    lock = lock or RUNTIME_LOCK
    wanted = {_canonical(name) for name in LAMBDA_PACKAGES}
    if lock.exists():
        pins: dict[str, str] = {}
        hashes: dict[str, list[str]] = {}
        current = None
        for line in lock.read_text().splitlines():
            match = _PIN.match(line)
            if match:
                current = _canonical(match.group(1))
                if current in wanted:
                    pins[current] = match.group(2)
            if current in wanted:
                hashes.setdefault(current, []).extend(_HASH.findall(line))
        missing = sorted(wanted - set(pins))
        if missing:
            raise ImageBuildError(f"{lock} pins no version of {', '.join(missing)}")
        with_hashes = all(hashes.get(name) for name in pins)
        lines = []
        for name in sorted(pins):
            suffix = "".join(f" --hash={h}" for h in hashes[name]) if with_hashes else ""
            lines.append(f"{name}=={pins[name]}{suffix}")
        return lines, str(lock)
    lines = [f"{_canonical(name)}=={importlib.metadata.version(name)}" for name in sorted(wanted)]
    return lines, f"the versions installed in {sys.prefix} ({lock} does not exist yet)"


def _lambda_recipe() -> tuple[str, str, str]:
    """(image ref, Containerfile, requirements text)."""
    lines, _ = lambda_pins()
    requirements = "\n".join(lines) + "\n"
    require_hashes = "--require-hashes " if "--hash=" in requirements else ""
    containerfile = _LAMBDA_CONTAINERFILE.format(
        base=BASE_IMAGE, venv=LAMBDA_VENV, require_hashes=require_hashes
    )
    digest = hashlib.sha256((containerfile + requirements).encode()).hexdigest()[:12]
    return f"{LAMBDA_REPOSITORY}:{PYTHON_MINOR}-{digest}", containerfile, requirements


def lambda_image() -> str:
    """The LAMBDA_IMAGE reference for the current lock (built or not)."""
    return _lambda_recipe()[0]


def ensure_lambda_runtime() -> str:
    """LAMBDA_IMAGE for the current lock, built FROM the base the first time (pip needs the network)."""
    ref, containerfile, requirements = _lambda_recipe()
    return _ensure(ref, "lambda-runtime", lambda: _build_lambda(ref, containerfile, requirements))


def _build_lambda(ref: str, containerfile: str, requirements: str) -> None:
    ensure_base()
    _, source = lambda_pins()
    _progress(f"building {ref}: {LAMBDA_VENV} venv with {', '.join(LAMBDA_PACKAGES)} from {source} ...")
    _build_from(ref, "lambda-runtime", containerfile, {"requirements.txt": requirements})


def _build_from(ref: str, label: str, containerfile: str, files: dict[str, str | Path]) -> None:
    """`podman build` of `containerfile` in a scratch context holding `files` (name -> text, or a host file
    to copy), with the host network and CA bundle (apt and pip reach their indexes), tagged `ref`."""
    scratch = containers.store_dir() / "tmp"
    scratch.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f"{label}-", dir=scratch) as context:
        Path(context, "Containerfile").write_text(containerfile)
        for name, content in files.items():
            if isinstance(content, Path):
                shutil.copy2(content, Path(context, name))
            else:
                Path(context, name).write_text(content)
        argv = containers.podman(
            "build",
            "--network=host",
            "--pull=never",
            f"--volume={HOST_CA_BUNDLE}:{HOST_CA_BUNDLE}:ro",
            f"--label=localcloud.image={label}",
            "--file",
            str(Path(context, "Containerfile")),
            "--tag",
            ref,
            context,
        )
        _run(argv, env=containers.podman_env())


def main(argv: list[str]) -> int:
    """`python -m localcloud.images [base|lambda]`: build (if needed) and print the reference."""
    which = argv[0] if argv else "lambda"
    try:
        print(ensure_base() if which == "base" else ensure_lambda_runtime())
    except ImageBuildError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))


# ---- the CodeBuild image ---------------------------------------------------------------------------------

# AWS's managed CodeBuild images a project may name: they run as BUILD_IMAGE (Python 3.11, bash, git, curl,
# unzip, zip, the host's terraform). Anything else goes through containers.resolve_image (the local registry).
_CODEBUILD_MANAGED = re.compile(r"^aws/codebuild/(?:standard|amazonlinux[^:]*)(?::[\w.-]+)?$")
BUILD_REPOSITORY = "localhost/localcloud/codebuild"
BUILD_PACKAGES = ("bash", "git", "curl", "unzip", "zip", "ca-certificates", "python3-venv")
TERRAFORM_MIRROR = Path("/opt/tf-plugins")  # harness/terraform.py's default mirror; mounted at the same path

_BUILD_CONTAINERFILE = """\
FROM {base}
RUN apt-get update \\
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends {packages} \\
 && rm -rf /var/lib/apt/lists/*
COPY terraform /usr/local/bin/terraform
ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
WORKDIR /codebuild
"""


def build_image_for(image_ref: str) -> str | None:
    """BUILD_IMAGE (built when needed) for AWS's managed CodeBuild images, None for any other reference."""
    if _CODEBUILD_MANAGED.match((image_ref or "").strip()):
        return ensure_build_image()
    return None


def _host_terraform() -> Path | None:
    found = shutil.which("terraform")
    return Path(found).resolve() if found else None


def _build_recipe() -> tuple[str, str]:
    """(image ref, Containerfile); the tag hashes the recipe and the terraform binary's size and mtime."""
    containerfile = _BUILD_CONTAINERFILE.format(base=BASE_IMAGE, packages=" ".join(BUILD_PACKAGES))
    terraform = _host_terraform()
    stamp = f"{terraform.stat().st_size}:{terraform.stat().st_mtime_ns}" if terraform else "none"
    digest = hashlib.sha256((containerfile + stamp).encode()).hexdigest()[:12]
    return f"{BUILD_REPOSITORY}:{digest}", containerfile


def ensure_build_image() -> str:
    """BUILD_IMAGE, built FROM the base the first time (apt needs the network)."""
    ref, containerfile = _build_recipe()
    return _ensure(ref, "codebuild", lambda: _build_codebuild(ref, containerfile))


def _build_codebuild(ref: str, containerfile: str) -> None:
    ensure_base()
    terraform = _host_terraform()
    if terraform is None:
        raise ImageBuildError("`terraform` is not on PATH: the CodeBuild image carries the host's binary")
    _progress(f"building {ref}: {', '.join(BUILD_PACKAGES)} and {terraform} ...")
    _build_from(ref, "codebuild", containerfile, {"terraform": Path(terraform)})


def build_image_mounts() -> list[tuple[str, str]]:
    """Host paths a build container sees read-only at the same path: the CA bundle, pip's configuration and
    find-links directory (pip reaches the host's index), the Terraform provider mirror (offline init)."""
    candidates = [HOST_CA_BUNDLE, "/etc/pip.conf", str(TERRAFORM_MIRROR)]
    find_links = os.environ.get("PIP_FIND_LINKS", "")
    candidates += [p for p in find_links.split() if p.startswith("/")]
    return [(p, p) for p in dict.fromkeys(candidates) if Path(p).exists()]
