"""Build and push the worker image: `python -m harness.image [ENV] [--build-only]` (`nox -s image`).

Context: exactly what worker/Dockerfile uses, staged under build/image/ for each build: the Dockerfile,
requirements/runtime.txt (the lock), worker/render_worker/ (without caches) and schemas/*.schema.json. Nothing
else of the repository (.venv, build/, state) is sent to the builder, and the content hash covers it all.

Tag: `git-<12 hex commit>` when the context is the committed one, else `git-<commit>-dirty-<12 hex content
hash>` (`content-<hash>` outside a git checkout); a pushed image also gets its `content-<hash>` tag, so a
checkout of the same context without the commit (the pipeline's Deploy build) finds it. The ECR repository's
tags are immutable, so a tag never names two images: when the repository already holds the tag (or the
content tag) its digest is reused, and nothing is built or pushed. The local image store keeps
`localhost/render-farm/worker:<tag>`; an image already there is not built again.

Build: buildah on the local cloud's container store (localcloud.containers), host network and the host's CA
bundle mounted for pip; BASE_IMAGE is the local cloud's Debian-based Python 3.11 (localcloud.images) for
envs/local, the official `python:3.11-slim` for a real account. Push: to the stack's `ecr_repository_url`
(`terraform output`) with the credentials of ECR's GetAuthorizationToken. The result, printed last, is
`<repository url>@sha256:<digest>`: what the job definition names.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from harness.paths import REPO
from harness.target import Target

DOCKERFILE = "worker/Dockerfile"
LOCK = "requirements/runtime.txt"
PACKAGE = "worker/render_worker"
SCHEMAS = "schemas"
CONTEXT_ROOT = REPO / "build" / "image"  # each build stages its context in a private directory here
LOCAL_NAME = "localhost/render-farm/worker"
OFFICIAL_BASE = "docker.io/library/python:3.11-slim"  # = the Dockerfile's default, fully qualified
CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
HASH_CHARS = 12
KEEP_LOCAL = 3  # worker images kept in the local store (the newest); the registry keeps its own copies
BUILD_TIMEOUT_S = 1800
PUSH_TIMEOUT_S = 900
_SKIPPED_PARTS = {"__pycache__", ".pytest_cache"}


class ImageError(RuntimeError):
    """The image cannot be built or pushed; the message says why."""


# ---- what goes in, and its name ----------------------------------------------------------------------------


def in_context(name: str) -> bool:
    """Whether a repository path (posix, relative) is part of the image's build context."""
    parts = name.split("/")
    if _SKIPPED_PARTS & set(parts) or name.endswith((".pyc", ".pyo")):
        return False
    if name in (DOCKERFILE, LOCK):
        return True
    if name.startswith(PACKAGE + "/"):
        return True
    return len(parts) == 2 and parts[0] == SCHEMAS and name.endswith(".schema.json")


def context_files(repo: Path = REPO) -> dict[str, Path]:
    """The build context as {repository path: file}, sorted."""
    found = [DOCKERFILE, LOCK]
    found += [p.relative_to(repo).as_posix() for p in (repo / PACKAGE).rglob("*") if p.is_file()]
    found += [p.relative_to(repo).as_posix() for p in (repo / SCHEMAS).glob("*.schema.json")]
    missing = [name for name in (DOCKERFILE, LOCK) if not (repo / name).is_file()]
    if missing:
        raise ImageError(f"missing from the image's build context: {', '.join(missing)}")
    return {name: repo / name for name in sorted(set(found)) if in_context(name)}


def content_hash(contents: Mapping[str, bytes]) -> str:
    """12 hex characters of a sha256 over the sorted (path, bytes) pairs."""
    digest = hashlib.sha256()
    for name in sorted(contents):
        digest.update(name.encode() + b"\0" + contents[name] + b"\0")
    return digest.hexdigest()[:HASH_CHARS]


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes | None:
    try:
        done = subprocess.run(
            ["git", "-C", str(repo), *args], input=stdin, capture_output=True, check=False, timeout=60
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout if done.returncode == 0 else None


def committed_contents(repo: Path, rev: str = "HEAD") -> dict[str, bytes] | None:
    """The build context as committed at `rev` ({path: bytes}); None outside a git checkout."""
    listed = _git(repo, "ls-tree", "-r", "-z", "--name-only", rev, "--", DOCKERFILE, LOCK, PACKAGE, SCHEMAS)
    if listed is None:
        return None
    names = [n for n in listed.decode().split("\0") if n and in_context(n)]
    if not names:
        return {}
    batch = _git(repo, "cat-file", "--batch", stdin="".join(f"{rev}:{n}\n" for n in names).encode())
    if batch is None:
        return None
    contents, offset = {}, 0
    for name in names:  # "<sha> blob <size>\n<bytes>\n" per object, in order
        header_end = batch.index(b"\n", offset)
        size = int(batch[offset:header_end].split()[2])
        contents[name] = batch[header_end + 1 : header_end + 1 + size]
        offset = header_end + 1 + size + 1
    return contents


@dataclass(frozen=True)
class Tag:
    name: str  # the image tag
    commit: str | None  # 12 hex, None outside git
    content: str  # content hash of the context
    dirty: bool  # the context differs from the commit's


def tag_for(commit: str | None, content: str, dirty: bool) -> str:
    if commit is None:
        return f"content-{content}"
    return f"git-{commit}-dirty-{content}" if dirty else f"git-{commit}"


def image_tag(repo: Path = REPO) -> Tag:
    """The tag of the image the working tree builds."""
    files = context_files(repo)
    content = content_hash({name: path.read_bytes() for name, path in files.items()})
    sha = _git(repo, "rev-parse", "--verify", "-q", "HEAD")
    commit = sha.decode().strip()[:HASH_CHARS] if sha else None
    committed = committed_contents(repo) if commit else None
    dirty = committed is None or content_hash(committed) != content
    return Tag(tag_for(commit, content, dirty), commit, content, dirty)


# ---- build -------------------------------------------------------------------------------------------------


def _containers():
    from localcloud import containers  # late: only building needs the container runtime layer

    return containers


def stage_context(files: Mapping[str, Path], dest: Path) -> Path:
    """Copy the context files into a fresh dest (same relative paths); returns dest."""
    if dest.exists():
        shutil.rmtree(dest)
    for name, src in files.items():
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, target)
    return dest


def base_image(env: str) -> str:
    """BASE_IMAGE: for envs/local the local cloud's Debian-based Python (built once), else the official."""
    if not Target.of(env).local_cloud:
        return OFFICIAL_BASE
    from localcloud import images

    try:
        return images.ensure_base()
    except images.ImageBuildError as err:
        raise ImageError(f"the local base image could not be built: {err}") from err


def build_command(context: Path, ref: str, base: str, tag: Tag, pull: str) -> list[str]:
    """The buildah argv (without the storage options containers.buildah_cmd adds)."""
    volumes = [f"--volume={CA_BUNDLE}:{CA_BUNDLE}:ro"] if CA_BUNDLE.is_file() else []
    return [
        "bud",
        "--layers",  # the dependency layer is reused while the lock and the base stay the same
        f"--pull={pull}",
        "--network=host",
        *volumes,
        f"--build-arg=BASE_IMAGE={base}",
        f"--label=org.opencontainers.image.revision={tag.commit or 'none'}",
        f"--label=render-farm.content={tag.content}",
        f"--file={context / DOCKERFILE}",
        f"--tag={ref}",
        str(context),
    ]


def _run(argv: list[str], what: str, timeout: float, env: Mapping[str, str] | None = None) -> str:
    try:
        done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as err:
        raise ImageError(f"{what}: `{argv[0]}` is not installed (apt-get install buildah podman)") from err
    except subprocess.TimeoutExpired as err:
        raise ImageError(f"{what}: timed out after {timeout:.0f} s") from err
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-30:])
        raise ImageError(f"{what} failed (exit {done.returncode}): {' '.join(argv[:2])} ...\n{tail}")
    return done.stdout


def in_store(ref: str) -> bool:
    return _containers().image_exists(ref)


def _build_lock():
    """One worker-image build at a time on the machine (the store is shared by every checkout and cloud)."""
    from localcloud import filelock

    return filelock.exclusive(_containers().store_dir() / "locks" / "render-farm-worker.lock")


def build(env: str = "local", tag: Tag | None = None, repo: Path = REPO) -> str:
    """Build the worker image into the local store unless it is there; returns its local reference."""
    tag = tag or image_tag(repo)
    ref = f"{LOCAL_NAME}:{tag.name}"
    if in_store(ref):
        print(f"image {ref}: already built", flush=True)
        return ref
    containers = _containers()
    base = base_image(env)
    with _build_lock():
        if in_store(ref):  # built by whoever held the lock before us
            print(f"image {ref}: already built", flush=True)
            return ref
        CONTEXT_ROOT.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="context-", dir=CONTEXT_ROOT) as tmp:
            context = stage_context(context_files(repo), Path(tmp) / "context")
            print(f"image {ref}: building FROM {base} ...", flush=True)
            started = time.monotonic()
            pull = "never" if Target.of(env).local_cloud else "true"  # the local base is never in a registry
            argv = containers.buildah_cmd(*build_command(context, ref, base, tag, pull))
            _run(argv, f"building {ref}", BUILD_TIMEOUT_S, containers.podman_env())
        print(f"image {ref}: built in {time.monotonic() - started:.1f} s", flush=True)
        prune(keep=KEEP_LOCAL)
    return ref


def prune(keep: int = KEEP_LOCAL) -> list[str]:
    """Untag all but the `keep` newest worker images of the local store (dirty trees leave one per build);
    an image a container still uses stays. Returns the references removed."""
    containers = _containers()
    listed = subprocess.run(
        containers.podman(
            "images",
            "--sort",
            "created",
            "--format",
            "{{.Repository}}:{{.Tag}}",
            f"--filter=reference={LOCAL_NAME}",
        ),
        env=containers.podman_env(),
        capture_output=True,
        text=True,
        check=False,
    )
    old = [ref for ref in listed.stdout.split() if ref.startswith(LOCAL_NAME + ":")][keep:]
    removed = []
    for ref in old:
        done = subprocess.run(
            containers.podman("rmi", ref), env=containers.podman_env(), capture_output=True, check=False
        )
        if done.returncode == 0:
            removed.append(ref)
    return removed


# ---- push --------------------------------------------------------------------------------------------------


def ecr_client(endpoint_url: str | None, region: str | None = None):
    import boto3

    if endpoint_url:
        from localcloud import credentials  # the admin keys this boot of the local cloud issued

        return boto3.client("ecr", **credentials.for_endpoint(endpoint_url).client_kwargs())
    return boto3.client("ecr", region_name=region)


def repository_name(repository_url: str) -> str:
    """`<registry host>/<name>` -> `<name>`."""
    host, _, name = repository_url.partition("/")
    if not name:
        raise ImageError(f"not a repository URL: {repository_url!r}")
    return name


def insecure_registry(repository_url: str) -> bool:
    """The local registry speaks plain HTTP on the loopback; a real one TLS."""
    host = repository_url.split("/", 1)[0].split(":", 1)[0]
    return host in ("127.0.0.1", "localhost")


def pushed_digest(client, repository_url: str, tag: str) -> str | None:
    """The digest the repository holds under `tag`, None when it holds no such tag."""
    try:
        found = client.describe_images(
            repositoryName=repository_name(repository_url), imageIds=[{"imageTag": tag}]
        )
    except client.exceptions.ImageNotFoundException:
        return None
    details = found.get("imageDetails") or []
    return details[0]["imageDigest"] if details else None


def registry_credentials(client) -> tuple[str, str]:
    """(user, password) of ECR's GetAuthorizationToken (the token is base64 of `AWS:<password>`)."""
    data = client.get_authorization_token()["authorizationData"][0]
    user, _, password = base64.b64decode(data["authorizationToken"]).decode().partition(":")
    return user, password


def push(ref: str, repository_url: str, tag: str, creds: tuple[str, str]) -> str:
    """Push the local image as <repository_url>:<tag>; returns the manifest digest (sha256:...)."""
    containers = _containers()
    with tempfile.TemporaryDirectory(prefix="farm-push-") as tmp:
        digest_file = Path(tmp) / "digest"
        argv = containers.buildah_cmd(
            "push",
            f"--creds={creds[0]}:{creds[1]}",
            f"--digestfile={digest_file}",
            *(["--tls-verify=false"] if insecure_registry(repository_url) else []),
            ref,
            f"docker://{repository_url}:{tag}",
        )
        started = time.monotonic()
        _run(argv, f"pushing {ref} to {repository_url}", PUSH_TIMEOUT_S, containers.podman_env())
        digest = digest_file.read_text().strip()
    print(
        f"image {repository_url}:{tag}: pushed in {time.monotonic() - started:.1f} s ({digest})", flush=True
    )
    return digest


def ensure_pushed(
    repository_url: str, endpoint_url: str | None, env: str = "local", region: str | None = None
) -> str:
    """`<repository_url>@sha256:...` of the image for the working tree: reused when the repository holds its
    tag or its content tag, else built (unless in the store) and pushed under both.

    The content tag (`content-<hash>`) names the same context whatever the commit: a checkout without git
    history (the pipeline's Deploy build gets the commit's files, no .git) or a later commit that left the
    worker alone finds the image a developer's deploy pushed, instead of building it again."""
    tag = image_tag()
    names = list(dict.fromkeys([tag.name, tag_for(None, tag.content, dirty=True)]))
    client = ecr_client(endpoint_url, region)
    for name in names:
        digest = pushed_digest(client, repository_url, name)
        if digest:
            print(f"image {repository_url}:{name}: already pushed ({digest})", flush=True)
            return f"{repository_url}@{digest}"
    ref = build(env, tag)
    creds = registry_credentials(client)
    digest = push(ref, repository_url, names[0], creds)
    for name in names[1:]:
        push(ref, repository_url, name, creds)  # the same image under its content tag
    return f"{repository_url}@{digest}"


def deployed_repository(env: str) -> tuple[str, str | None, str | None]:
    """(ecr_repository_url, endpoint_url, region) of the deployed env, from `terraform output`."""
    from farm import stack

    try:
        values = stack.load(env).outputs
    except stack.StackNotDeployed as err:
        raise ImageError(f"envs/{env} is not deployed: deploy it first (`nox -s deploy`)") from err
    url = values.get("ecr_repository_url")
    if not url:
        raise ImageError(f"envs/{env} has no ecr_repository_url output: deploy it again (`nox -s deploy`)")
    return url, values.get("endpoint_url"), values.get("region")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.image", description=__doc__.splitlines()[0])
    parser.add_argument("env", nargs="?", default=os.environ.get("FARM_ENV", "local"), help="default: local")
    parser.add_argument("--build-only", action="store_true", help="build into the local store; no push")
    parser.add_argument("--tag-only", action="store_true", help="print the tag of the working tree's image")
    args = parser.parse_args(argv)
    try:
        if args.tag_only:
            print(image_tag().name)
        elif args.build_only:
            print(build(args.env))
        else:
            url, endpoint, region = deployed_repository(args.env)
            print(ensure_pushed(url, endpoint, args.env, region))
    except ImageError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
