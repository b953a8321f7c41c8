"""ECR backed by the local cloud's registry: a repository created through the API is pushable with its
token, and the ECR API reports what was really pushed (localcloud/registry.py, localcloud/patches/ecr.py)."""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import json
import os
import shutil
import signal
import subprocess
import tarfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from localcloud import lifecycle, procs
from tests.unit.localcloud.conftest import Cloud, free_port, unique

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def _missing(reason: str) -> None:
    """Container mode needs the registry: fail there, skip elsewhere (a machine without it)."""
    if (os.environ.get("LOCALCLOUD_RUNTIME") or "").strip().lower() == "container":
        pytest.fail(f"LOCALCLOUD_RUNTIME=container, but {reason}", pytrace=False)
    pytest.skip(reason)


def podman_argv(*args: str) -> tuple[list[str], dict[str, str]]:
    """The project's podman settings (localcloud/containers.py), or the same four settings of
    ../shared/notes/containers.md when that module is not there."""
    try:
        from localcloud import containers
    except ImportError:
        store = Path(
            os.environ.get("LOCALCLOUD_CONTAINERS_DIR") or Path.home() / ".cache/render-farm/containers"
        )
        store.mkdir(parents=True, exist_ok=True)
        conf = store / "containers.conf"
        if not conf.exists():
            conf.write_text("[containers]\ndefault_ulimits = []\n")
        argv = ["podman", "--runtime", "runc", "--cgroup-manager", "cgroupfs", "--storage-driver", "overlay"]
        argv += ["--root", str(store / "storage"), "--runroot", str(store / "run"), *args]
        return argv, {**os.environ, "CONTAINERS_CONF": str(conf)}
    return containers.podman(*args), containers.podman_env()


def podman(*args: str, check: bool = True, timeout: float = 300) -> subprocess.CompletedProcess:
    argv, env = podman_argv(*args)
    done = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    if check and done.returncode != 0:
        raise AssertionError(f"{' '.join(args[:2])} exited {done.returncode}: {done.stderr.strip()}")
    return done


@pytest.fixture(scope="module")
def registry_address(cloud: Cloud) -> str:
    doc = lifecycle.health(cloud.port)
    assert doc is not None
    if not doc.get("registry"):
        _missing(f"the local cloud runs no ECR registry: {doc.get('registry_off')}")
    if shutil.which("podman") is None:
        _missing("podman is not installed")
    return doc["registry"]


@pytest.fixture(scope="module")
def tiny_image(tmp_path_factory: pytest.TempPathFactory, registry_address: str) -> Iterator[str]:
    """A one-file image made without any base image (`podman import` of a tar), unique to this run."""
    root = tmp_path_factory.mktemp("tiny")
    (root / "hello.txt").write_text(f"hello {uuid.uuid4()}\n")
    with tarfile.open(root / "rootfs.tar", "w") as tar:
        tar.add(root / "hello.txt", arcname="hello.txt")
    ref = f"localhost/localcloud-test/tiny:{uuid.uuid4().hex[:12]}"
    podman("import", "--quiet", str(root / "rootfs.tar"), ref)
    yield ref
    podman("rmi", "--force", ref, check=False)


def token(cloud: Cloud) -> tuple[str, str, str]:
    """(user, password, proxy endpoint) from GetAuthorizationToken."""
    data = cloud.client("ecr").get_authorization_token()["authorizationData"][0]
    user, password = base64.b64decode(data["authorizationToken"]).decode().split(":", 1)
    return user, password, data["proxyEndpoint"]


def push(cloud: Cloud, local_ref: str, target: str, digest_file: Path, creds: str | None = None) -> float:
    """podman push with the ECR token; the seconds it took."""
    if creds is None:
        user, password, _ = token(cloud)
        creds = f"{user}:{password}"
    began = time.monotonic()
    podman(
        "push",
        "--quiet",
        "--tls-verify=false",
        "--creds",
        creds,
        "--digestfile",
        str(digest_file),
        local_ref,
        target,
    )
    return time.monotonic() - began


def new_repository(cloud: Cloud, **extra) -> dict:
    return cloud.client("ecr").create_repository(repositoryName=unique("lc-test/tiny"), **extra)["repository"]


@pytest.fixture
def pushed(cloud: Cloud, registry_address: str, tiny_image: str, tmp_path: Path) -> Iterator[dict]:
    repo = new_repository(cloud, imageTagMutability="IMMUTABLE")
    tag = "v1"
    digest_file = tmp_path / "digest"
    seconds = push(cloud, tiny_image, f"{repo['repositoryUri']}:{tag}", digest_file)
    yield {"repo": repo, "tag": tag, "digest": digest_file.read_text().strip(), "push_s": seconds}
    with_force = {"repositoryName": repo["repositoryName"], "force": True}
    with contextlib.suppress(ClientError):
        cloud.client("ecr").delete_repository(**with_force)


def test_repository_uri_is_the_registry(cloud: Cloud, registry_address: str) -> None:
    repo = new_repository(cloud)
    assert repo["repositoryUri"] == f"{registry_address}/{repo['repositoryName']}"
    listed = cloud.client("ecr").describe_repositories(repositoryNames=[repo["repositoryName"]])
    assert listed["repositories"][0]["repositoryUri"] == repo["repositoryUri"]


def test_token_is_the_registrys(cloud: Cloud, registry_address: str) -> None:
    data = cloud.client("ecr").get_authorization_token()["authorizationData"][0]
    user, password, proxy = token(cloud)
    assert (user, proxy) == ("AWS", f"http://{registry_address}")
    ahead = data["expiresAt"] - datetime.datetime.now(datetime.UTC)
    assert datetime.timedelta(hours=11, minutes=55) < ahead <= datetime.timedelta(hours=12)
    auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    request = urllib.request.Request(f"http://{registry_address}/v2/", headers={"Authorization": auth})
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        assert answer.status == 200
    wrong = "Basic " + base64.b64encode(b"AWS:not-the-password").decode()
    request = urllib.request.Request(f"http://{registry_address}/v2/", headers={"Authorization": wrong})
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    assert refused.value.code == 401


def test_push_is_what_ecr_reports(cloud: Cloud, pushed: dict) -> None:
    ecr = cloud.client("ecr")
    name, tag, digest = pushed["repo"]["repositoryName"], pushed["tag"], pushed["digest"]
    assert digest.startswith("sha256:")
    assert ecr.list_images(repositoryName=name)["imageIds"] == [{"imageDigest": digest, "imageTag": tag}]
    assert ecr.list_images(repositoryName=name, filter={"tagStatus": "UNTAGGED"})["imageIds"] == []

    [detail] = ecr.describe_images(repositoryName=name)["imageDetails"]
    assert detail["imageDigest"] == digest and detail["imageTags"] == [tag]
    assert detail["imageManifestMediaType"] == OCI_MANIFEST
    got = ecr.batch_get_image(repositoryName=name, imageIds=[{"imageTag": tag}])
    assert got["failures"] == []
    [image] = got["images"]
    assert image["imageId"] == {"imageDigest": digest, "imageTag": tag}
    manifest = image["imageManifest"]
    assert "sha256:" + hashlib.sha256(manifest.encode()).hexdigest() == digest
    doc = json.loads(manifest)
    assert detail["imageSizeInBytes"] == doc["config"]["size"] + sum(layer["size"] for layer in doc["layers"])
    age = datetime.datetime.now(datetime.UTC) - detail["imagePushedAt"]
    assert datetime.timedelta(0) <= age < datetime.timedelta(minutes=5)

    by_digest = ecr.describe_images(repositoryName=name, imageIds=[{"imageDigest": digest}])["imageDetails"]
    assert [d["imageDigest"] for d in by_digest] == [digest]
    with pytest.raises(ClientError) as missing:
        ecr.describe_images(repositoryName=name, imageIds=[{"imageTag": "nope"}])
    assert missing.value.response["Error"]["Code"] == "ImageNotFoundException"
    failed = ecr.batch_get_image(repositoryName=name, imageIds=[{"imageTag": "nope"}])["failures"]
    assert [f["failureCode"] for f in failed] == ["ImageNotFound"]

    # A pull by digest with the token works, as a Batch job's would.
    user, password, _ = token(cloud)
    ref = f"{pushed['repo']['repositoryUri']}@{digest}"
    podman("pull", "--quiet", "--tls-verify=false", "--creds", f"{user}:{password}", ref)
    podman("rmi", "--force", ref, check=False)
    print(f"push of a one-file image took {pushed['push_s']:.2f} s")


def test_wrong_password_push_is_refused(cloud: Cloud, pushed: dict, tiny_image: str, tmp_path: Path) -> None:
    target = f"{pushed['repo']['repositoryUri']}:refused"
    with pytest.raises(AssertionError, match="(?i)unauthorized|authentication required"):
        push(cloud, tiny_image, target, tmp_path / "digest", creds="AWS:not-the-password")
    tags = cloud.client("ecr").list_images(repositoryName=pushed["repo"]["repositoryName"])["imageIds"]
    assert [t["imageTag"] for t in tags] == [pushed["tag"]]


def test_put_image_retags_and_immutable_tags_hold(cloud: Cloud, pushed: dict) -> None:
    ecr = cloud.client("ecr")
    name, tag, digest = pushed["repo"]["repositoryName"], pushed["tag"], pushed["digest"]
    manifest = ecr.batch_get_image(repositoryName=name, imageIds=[{"imageDigest": digest}])["images"][0]
    # podman's OCI manifests have no mediaType field: PutImage needs it as a parameter then, as on AWS.
    text, media_type = manifest["imageManifest"], manifest["imageManifestMediaType"]
    with pytest.raises(ClientError, match="mediatype not provided"):
        ecr.put_image(repositoryName=name, imageManifest=text, imageTag="release")
    put = ecr.put_image(
        repositoryName=name, imageManifest=text, imageTag="release", imageManifestMediaType=media_type
    )["image"]
    assert put["imageId"] == {"imageDigest": digest, "imageTag": "release"}
    [detail] = ecr.describe_images(repositoryName=name)["imageDetails"]
    assert sorted(detail["imageTags"]) == ["release", tag]

    with pytest.raises(ClientError) as same:
        ecr.put_image(
            repositoryName=name, imageManifest=text, imageTag=tag, imageManifestMediaType=media_type
        )
    assert same.value.response["Error"]["Code"] == "ImageAlreadyExistsException"
    other = json.dumps({**json.loads(text), "annotations": {"localcloud.test": "other"}})
    with pytest.raises(ClientError) as immutable:
        ecr.put_image(
            repositoryName=name, imageManifest=other, imageTag=tag, imageManifestMediaType=media_type
        )
    assert immutable.value.response["Error"]["Code"] == "ImageTagAlreadyExistsException"

    # Deleting one of two tags removes the tag; the last one deletes the image, in the registry too.
    deleted = ecr.batch_delete_image(repositoryName=name, imageIds=[{"imageTag": "release"}])
    assert deleted["imageIds"] == [{"imageDigest": digest, "imageTag": "release"}] and not deleted["failures"]
    assert ecr.list_images(repositoryName=name)["imageIds"] == [{"imageDigest": digest, "imageTag": tag}]
    deleted = ecr.batch_delete_image(repositoryName=name, imageIds=[{"imageTag": tag}])
    assert deleted["imageIds"] == [{"imageDigest": digest, "imageTag": tag}]
    assert ecr.list_images(repositoryName=name)["imageIds"] == []
    user, password, _ = token(cloud)
    gone = podman(
        "pull", "--quiet", "--tls-verify=false", "--creds", f"{user}:{password}",
        f"{pushed['repo']['repositoryUri']}@{digest}", check=False,
    )  # fmt: skip
    assert gone.returncode != 0 and "manifest unknown" in gone.stderr.lower(), gone.stderr


def test_mutable_tag_moves_and_leaves_an_untagged_image(cloud: Cloud, pushed: dict, tmp_path: Path) -> None:
    ecr = cloud.client("ecr")
    name = unique("lc-test/mutable")
    ecr.create_repository(repositoryName=name, imageTagMutability="MUTABLE")
    first = ecr.batch_get_image(
        repositoryName=pushed["repo"]["repositoryName"], imageIds=[{"imageTag": pushed["tag"]}]
    )["images"][0]["imageManifest"]
    # The blobs must be in this repository too: push the image there, then move its tag with PutImage.
    uri = ecr.describe_repositories(repositoryNames=[name])["repositories"][0]["repositoryUri"]
    local = f"localhost/localcloud-test/moved:{uuid.uuid4().hex[:8]}"
    podman("pull", "--quiet", "--tls-verify=false", "--creds", ":".join(token(cloud)[:2]),
           f"{pushed['repo']['repositoryUri']}@{pushed['digest']}")  # fmt: skip
    podman("tag", f"{pushed['repo']['repositoryUri']}@{pushed['digest']}", local)
    try:
        push(cloud, local, f"{uri}:latest", tmp_path / "digest")
        moved = json.dumps({**json.loads(first), "annotations": {"localcloud.test": "second"}})
        second = ecr.put_image(
            repositoryName=name, imageManifest=moved, imageTag="latest", imageManifestMediaType=OCI_MANIFEST
        )["image"]["imageId"]
        untagged = ecr.list_images(repositoryName=name, filter={"tagStatus": "UNTAGGED"})["imageIds"]
        assert untagged == [{"imageDigest": pushed["digest"]}]
        tagged = ecr.describe_images(repositoryName=name, filter={"tagStatus": "TAGGED"})["imageDetails"]
        assert [(d["imageDigest"], d["imageTags"]) for d in tagged] == [(second["imageDigest"], ["latest"])]
        with pytest.raises(ClientError) as not_empty:
            ecr.delete_repository(repositoryName=name)
        assert not_empty.value.response["Error"]["Code"] == "RepositoryNotEmptyException"
        ecr.delete_repository(repositoryName=name, force=True)
        data = Path(cloud.state_dir) / "registry" / "data" / "docker/registry/v2/repositories" / name
        assert not data.exists()
    finally:
        podman("rmi", "--force", local, f"{pushed['repo']['repositoryUri']}@{pushed['digest']}", check=False)


def test_lifecycle_policy_and_scan_on_push_round_trip(cloud: Cloud, registry_address: str) -> None:
    ecr = cloud.client("ecr")
    repo = new_repository(
        cloud, imageScanningConfiguration={"scanOnPush": True}, imageTagMutability="IMMUTABLE"
    )
    name = repo["repositoryName"]
    assert repo["imageScanningConfiguration"] == {"scanOnPush": True}
    policy = {
        "rules": [
            {
                "rulePriority": 1,
                "description": "Expire untagged images after 7 days",
                "selection": {
                    "tagStatus": "untagged",
                    "countType": "sinceImagePushed",
                    "countUnit": "days",
                    "countNumber": 7,
                },
                "action": {"type": "expire"},
            }
        ]
    }
    ecr.put_lifecycle_policy(repositoryName=name, lifecyclePolicyText=json.dumps(policy))
    assert json.loads(ecr.get_lifecycle_policy(repositoryName=name)["lifecyclePolicyText"]) == policy
    ecr.put_image_scanning_configuration(
        repositoryName=name, imageScanningConfiguration={"scanOnPush": False}
    )
    [found] = ecr.describe_repositories(repositoryNames=[name])["repositories"]
    assert found["imageScanningConfiguration"] == {"scanOnPush": False}
    assert found["imageTagMutability"] == "IMMUTABLE"
    ecr.delete_repository(repositoryName=name)


def _registry_pids(boot_id: str) -> list[int]:
    found = []
    for pid in procs.pids_with_boot_id(boot_id):
        try:
            if b"docker-registry" in Path(f"/proc/{pid}/cmdline").read_bytes():
                found.append(pid)
        except OSError:
            continue
    return found


@pytest.mark.parametrize("crash", [False, True], ids=["down", "down-after-crash"])
def test_down_leaves_no_registry(tmp_path: Path, registry_address: str, crash: bool) -> None:
    """`localcloud down` stops the registry with the server; after a hard crash of the server too."""
    port, state = free_port(), tmp_path / "cloud"
    lifecycle.up(port=port, state_dir=state)
    try:
        doc = lifecycle.health(port)
        assert doc is not None and doc["registry"]
        assert len(_registry_pids(doc["boot_id"])) == 1
        if crash:
            os.kill(doc["pid"], signal.SIGKILL)
    finally:
        lifecycle.down(port=port, state_dir=state)
    assert _registry_pids(doc["boot_id"]) == []


def test_moto_internals_the_ecr_patch_relies_on() -> None:
    """patches/ecr.py replaces these (moto is pinned exactly; this says what changed if it moves)."""
    import inspect

    from moto.ecr import models, responses

    for name in ("describe_images", "list_images", "batch_get_image", "batch_delete_image", "put_image"):
        assert callable(getattr(responses.ECRResponse, name))
    assert callable(responses.ECRResponse.get_authorization_token)
    params = list(inspect.signature(models.ECRBackend.delete_repository).parameters)
    assert params == ["self", "repository_name", "registry_id", "force"]
    assert list(inspect.signature(models.ECRBackend._resolve_image_tag_mutability).parameters) == [
        "self",
        "repository",
        "proposed_image_tag",
    ]
    assert list(inspect.signature(models.ECRBackend.start_image_scan).parameters)[:3] == [
        "self",
        "registry_id",
        "repository_name",
    ]
    image = inspect.signature(models.Image.__init__).parameters
    assert list(image)[:7] == [
        "self",
        "account_id",
        "tag",
        "manifest",
        "repository",
        "image_manifest_mediatype",
        "digest",
    ]
