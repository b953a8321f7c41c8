"""harness.image without a container runtime: the build context, the tag scheme, the build and push commands,
and the reuse of a pushed tag (the live suites build, push and run the real image)."""

from __future__ import annotations

import base64
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness import image

DOCKERFILE = (image.REPO / image.DOCKERFILE).read_text()


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path) -> Path:
    """A miniature checkout holding what the image is built from, committed, plus files that are not."""
    files = {
        "worker/Dockerfile": "FROM scratch\n",
        "requirements/runtime.txt": "svgwrite==1.4.3 \\\n    --hash=sha256:00\n",
        "worker/render_worker/__init__.py": "",
        "worker/render_worker/spec.py": "X = 1\n",
        "schemas/catalog.schema.json": "{}\n",
        "schemas/README.md": "not in the image\n",
        "README.md": "not in the image\n",
        ".gitignore": "__pycache__/\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    git(tmp_path, "init", "-q")
    git(tmp_path, "add", ".")
    git(tmp_path, "commit", "-q", "-m", "initial")
    return tmp_path


def test_the_context_is_what_the_dockerfile_uses_without_caches(repo):
    (repo / "worker" / "render_worker" / "__pycache__").mkdir()
    (repo / "worker" / "render_worker" / "__pycache__" / "spec.cpython-311.pyc").write_bytes(b"\0")
    assert list(image.context_files(repo)) == [
        "requirements/runtime.txt",
        "schemas/catalog.schema.json",
        "worker/Dockerfile",
        "worker/render_worker/__init__.py",
        "worker/render_worker/spec.py",
    ]


def test_every_copy_of_the_real_dockerfile_finds_its_source_in_the_context(tmp_path):
    staged = image.stage_context(image.context_files(), tmp_path / "context")
    sources = [line.split()[1] for line in DOCKERFILE.splitlines() if line.startswith("COPY ")]
    assert sources, "the Dockerfile copies the lock, the package and the schemas"
    for source in sources:
        assert list(staged.glob(source)), f"COPY {source}: not in the build context"
    assert (staged / "requirements" / "runtime.txt").read_bytes() == (
        image.REPO / "requirements" / "runtime.txt"
    ).read_bytes()


def test_the_real_dockerfile_contract():
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim$", DOCKERFILE, re.M)
    assert re.search(r"^FROM \$\{BASE_IMAGE\}$", DOCKERFILE, re.M)
    assert not re.search(r"^ENTRYPOINT", DOCKERFILE, re.M)
    assert re.findall(r"^USER (\S+)", DOCKERFILE, re.M)[-1] == "10001:10001"
    assert "pip install --no-deps --require-hashes -r /tmp/runtime.txt" in DOCKERFILE
    assert re.search(r'^CMD \["python", "-m", "render_worker"\]$', DOCKERFILE, re.M)


@pytest.mark.parametrize(
    ("commit", "dirty", "expected"),
    [
        ("0123456789ab", False, "git-0123456789ab"),
        ("0123456789ab", True, "git-0123456789ab-dirty-fedcba987654"),
        (None, True, "content-fedcba987654"),
    ],
)
def test_tag_scheme(commit, dirty, expected):
    assert image.tag_for(commit, "fedcba987654", dirty) == expected


def test_a_committed_context_is_tagged_with_the_commit_alone(repo):
    tag = image.image_tag(repo)
    assert tag.name == f"git-{git(repo, 'rev-parse', 'HEAD')[:12]}" and not tag.dirty
    (repo / "README.md").write_text("changed, but not part of the image\n")
    (repo / "worker" / "render_worker" / "__pycache__").mkdir()
    (repo / "worker" / "render_worker" / "__pycache__" / "x.pyc").write_bytes(b"\1")
    assert image.image_tag(repo) == tag


@pytest.mark.parametrize(
    "change",
    [
        lambda r: (r / "worker" / "render_worker" / "spec.py").write_text("X = 2\n"),
        lambda r: (r / "worker" / "render_worker" / "new.py").write_text(""),  # untracked
        lambda r: (r / "schemas" / "catalog.schema.json").write_text('{"type": "object"}\n'),
        lambda r: (r / "requirements" / "runtime.txt").write_text("svgwrite==1.4.4\n"),
        lambda r: (r / "worker" / "Dockerfile").write_text("FROM scratch\nUSER 1\n"),
    ],
)
def test_a_changed_context_is_dirty_and_its_hash_follows_the_content(repo, change):
    clean = image.image_tag(repo)
    change(repo)
    dirty = image.image_tag(repo)
    assert dirty.dirty and dirty.content != clean.content
    assert re.fullmatch(rf"git-{clean.commit}-dirty-[0-9a-f]{{12}}", dirty.name)
    assert dirty.name.endswith(dirty.content)
    assert image.image_tag(repo) == dirty  # stable while the files stay the same
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "change")
    committed = image.image_tag(repo)
    assert not committed.dirty and committed.content == dirty.content and committed.commit != clean.commit


def test_outside_git_the_tag_is_the_content_hash(repo):
    shutil.rmtree(repo / ".git")
    tag = image.image_tag(repo)
    assert tag.commit is None and tag.name == f"content-{tag.content}"


def test_build_command_uses_host_network_the_host_ca_and_the_base_argument(tmp_path, monkeypatch):
    bundle = tmp_path / "ca.crt"
    bundle.write_text("CA")
    monkeypatch.setattr(image, "CA_BUNDLE", bundle)
    tag = image.Tag("git-0123456789ab", "0123456789ab", "fedcba987654", False)
    argv = image.build_command(tmp_path, "localhost/render-farm/worker:t", "localhost/base:1", tag, "never")
    assert argv[0] == "bud" and argv[-1] == str(tmp_path)
    for part in (
        "--network=host",
        f"--volume={bundle}:{bundle}:ro",
        "--build-arg=BASE_IMAGE=localhost/base:1",
        "--pull=never",
        f"--file={tmp_path / 'worker/Dockerfile'}",
        "--tag=localhost/render-farm/worker:t",
        "--layers",
    ):
        assert part in argv


class FakeEcr:
    class exceptions:  # noqa: N801 - boto3's shape
        class ImageNotFoundException(Exception):
            pass

    def __init__(self, tags: dict[str, str]):
        self.tags = tags
        self.described: list[dict] = []

    def describe_images(self, repositoryName, imageIds):  # noqa: N803 - boto3's names
        self.described.append({"repositoryName": repositoryName, "imageIds": imageIds})
        tag = imageIds[0]["imageTag"]
        if tag not in self.tags:
            raise self.exceptions.ImageNotFoundException(tag)
        return {"imageDetails": [{"imageDigest": self.tags[tag], "imageTags": [tag]}]}

    def get_authorization_token(self):
        token = base64.b64encode(b"AWS:s3cret").decode()
        return {"authorizationData": [{"authorizationToken": token, "proxyEndpoint": "http://127.0.0.1:5"}]}


@pytest.fixture
def shipping(monkeypatch):
    """harness.image with a fake ECR and recorded build/push calls."""
    tag = image.Tag("git-0123456789ab", "0123456789ab", "fedcba987654", False)
    calls = SimpleNamespace(built=[], pushed=[], ecr=FakeEcr({}), tag=tag)
    monkeypatch.setattr(image, "image_tag", lambda repo=image.REPO: tag)
    monkeypatch.setattr(image, "ecr_client", lambda endpoint, region=None: calls.ecr)

    def build(env, tag):
        calls.built.append((env, tag.name))
        return f"{image.LOCAL_NAME}:{tag.name}"

    def push(ref, url, tag, creds):
        calls.pushed.append((ref, url, tag, creds))
        return "sha256:" + "b" * 64

    monkeypatch.setattr(image, "build", build)
    monkeypatch.setattr(image, "push", push)
    return calls


URL = "127.0.0.1:5000/farm/render-worker"


def test_a_new_tag_is_built_and_pushed_with_the_ecr_token(shipping):
    ref = image.ensure_pushed(URL, "http://127.0.0.1:4566")
    assert ref == f"{URL}@sha256:{'b' * 64}"
    assert shipping.built == [("local", "git-0123456789ab")]
    content = f"content-{shipping.tag.content}"
    assert shipping.pushed == [
        (f"{image.LOCAL_NAME}:git-0123456789ab", URL, "git-0123456789ab", ("AWS", "s3cret")),
        (f"{image.LOCAL_NAME}:git-0123456789ab", URL, content, ("AWS", "s3cret")),
    ]
    assert [d["imageIds"] for d in shipping.ecr.described] == [
        [{"imageTag": "git-0123456789ab"}],
        [{"imageTag": content}],
    ]
    assert shipping.ecr.described[0]["repositoryName"] == "farm/render-worker"


def test_a_tag_the_repository_holds_is_reused_never_pushed_again(shipping):
    shipping.ecr.tags["git-0123456789ab"] = "sha256:" + "a" * 64
    assert image.ensure_pushed(URL, "http://127.0.0.1:4566") == f"{URL}@sha256:{'a' * 64}"
    assert shipping.built == [] and shipping.pushed == []


def test_a_checkout_without_the_commit_reuses_the_image_of_the_same_content(shipping):
    # The pipeline's Deploy build has the commit's files without .git: its tag is the content tag.
    shipping.ecr.tags[f"content-{shipping.tag.content}"] = "sha256:" + "c" * 64
    assert image.ensure_pushed(URL, "http://127.0.0.1:4566") == f"{URL}@sha256:{'c' * 64}"
    assert shipping.built == [] and shipping.pushed == []


def test_push_to_the_loopback_registry_skips_tls_and_reads_the_digest_file(monkeypatch):
    seen = {}

    def run(argv, what, timeout, env=None):
        seen["argv"] = argv
        digest_file = next(a.split("=", 1)[1] for a in argv if a.startswith("--digestfile="))
        Path(digest_file).write_text("sha256:" + "c" * 64 + "\n")
        return ""

    monkeypatch.setattr(image, "_run", run)
    digest = image.push("localhost/render-farm/worker:t", URL, "t", ("AWS", "pw"))
    assert digest == "sha256:" + "c" * 64
    argv = seen["argv"]
    assert argv[0] == "buildah" and "push" in argv
    assert "--tls-verify=false" in argv and "--creds=AWS:pw" in argv
    assert argv[-2:] == ["localhost/render-farm/worker:t", f"docker://{URL}:t"]
    assert not image.insecure_registry("123456789012.dkr.ecr.us-east-1.amazonaws.com/farm/render-worker")


def test_an_image_in_the_store_is_not_built_again(monkeypatch, tmp_path):
    monkeypatch.setattr(image, "in_store", lambda ref: True)
    monkeypatch.setattr(image, "base_image", lambda env: pytest.fail("no build expected"))
    tag = image.Tag("git-0123456789ab", "0123456789ab", "fedcba987654", False)
    assert image.build("local", tag) == f"{image.LOCAL_NAME}:git-0123456789ab"
