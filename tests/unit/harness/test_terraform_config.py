"""The Terraform runner's pure parts: mirror detection, CLI config, init fingerprint, environment."""

from __future__ import annotations

import socket

import pytest

from harness import terraform
from localcloud import credentials


@pytest.fixture(autouse=True)
def _outside_a_build(monkeypatch):
    """Whatever runs these tests (a CodeBuild build included) decides nothing for them."""
    for name in ("CODEBUILD_BUILD_ID", "AWS_ENDPOINT_URL", "FARM_BACKEND_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def mirror(tmp_path):
    path = tmp_path / "plugins"
    (path / "registry.terraform.io" / "hashicorp" / "aws").mkdir(parents=True)
    return path


def test_mirror_from_environment_wins(mirror, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    assert terraform.find_mirror({"FARM_TF_PLUGIN_MIRROR": str(other)}, default=mirror) == other


def test_mirror_from_environment_must_exist(tmp_path):
    with pytest.raises(terraform.TerraformError, match="not a directory"):
        terraform.find_mirror({"FARM_TF_PLUGIN_MIRROR": str(tmp_path / "missing")})


def test_default_mirror_needs_the_aws_provider(mirror, tmp_path):
    assert terraform.find_mirror({}, default=mirror) == mirror
    empty = tmp_path / "empty"
    empty.mkdir()
    assert terraform.find_mirror({}, default=empty) is None


def test_cli_config_with_mirror_includes_and_excludes_hashicorp(mirror):
    text = terraform.cli_config_text(mirror)
    assert f'path    = "{mirror}"' in text
    assert text.count('["registry.terraform.io/hashicorp/*"]') == 2
    assert "filesystem_mirror" in text and "direct" in text


def test_cli_config_without_mirror_uses_the_registry():
    text = terraform.cli_config_text(None)
    assert "provider_installation" not in text


def test_cli_config_written_under_state_dir(mirror, tmp_path):
    state = tmp_path / "state"
    path = terraform.write_cli_config({"FARM_STATE_DIR": str(state), "FARM_TF_PLUGIN_MIRROR": str(mirror)})
    assert path == state / "terraformrc"
    assert str(mirror) in path.read_text()


def test_fingerprint_follows_tf_files_and_lock_but_not_state(tmp_path):
    root = tmp_path / "envs" / "local"
    root.mkdir(parents=True)
    (tmp_path / "modules" / "kms").mkdir(parents=True)
    (root / "main.tf").write_text('module "stack" {}\n')
    first = terraform.config_fingerprint(root, ["init"])
    (root / "terraform.tfstate").write_text("{}")
    (root / ".terraform").mkdir()
    (root / ".terraform" / "x.tf").write_text("ignored")
    assert terraform.config_fingerprint(root, ["init"]) == first
    (tmp_path / "modules" / "kms" / "main.tf").write_text('module "nested" {}\n')
    second = terraform.config_fingerprint(root, ["init"])
    assert second != first
    (root / ".terraform.lock.hcl").write_text("# lock")
    assert terraform.config_fingerprint(root, ["init"]) != second
    assert terraform.config_fingerprint(root, ["init", "-backend-config=path=/x"]) != second


def _unused_endpoint() -> str:
    with socket.socket() as sock:  # bound, never listening: no cloud answers there
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}"


def test_local_environment_aims_at_the_endpoint_with_the_issued_keys(tmp_path, monkeypatch):
    endpoint = _unused_endpoint()
    monkeypatch.setenv("FARM_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("LOCALCLOUD_STATE_DIR", str(tmp_path / "cloud"))
    monkeypatch.setenv("AWS_PROFILE", "prod")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA-from-the-shell")
    issued = credentials.new(endpoint, "boot-1")
    credentials.write(tmp_path / "cloud", issued)
    ws = terraform.Workspace(env="local", root=tmp_path, endpoint_url=endpoint)
    env = ws.environment()
    assert env["AWS_ENDPOINT_URL"] == env["TF_VAR_endpoint_url"] == endpoint
    assert (env["AWS_ACCESS_KEY_ID"], env["AWS_SECRET_ACCESS_KEY"], env["AWS_REGION"]) == (
        issued.access_key_id,
        issued.secret_access_key,
        "us-east-1",
    )
    assert "AWS_PROFILE" not in env
    assert env["TF_DATA_DIR"] == str(tmp_path / "tf" / "local" / ".terraform")
    assert env["TF_CLI_CONFIG_FILE"] == str(tmp_path / "terraformrc")
    assert env["TF_IN_AUTOMATION"] == "1"
    assert env["TF_VAR_lambda_zip_dir"].endswith("build/lambdas")


def test_account_environment_keeps_credentials_and_sets_no_endpoint(tmp_path, monkeypatch):
    monkeypatch.setenv("FARM_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("AWS_PROFILE", "prod")
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    env = terraform.Workspace(env="aws", root=tmp_path).environment()
    assert env["AWS_PROFILE"] == "prod"
    assert "AWS_ENDPOINT_URL" not in env


def test_init_uses_readonly_lockfile_only_when_committed(tmp_path, monkeypatch):
    monkeypatch.setenv("FARM_STATE_DIR", str(tmp_path))
    ws = terraform.Workspace(env="local", root=tmp_path, backend_config=["-backend-config=path=/s"])
    assert "-lockfile=readonly" not in ws.init_args()
    (tmp_path / ".terraform.lock.hcl").write_text("")
    assert ws.init_args()[-2:] == ["-lockfile=readonly", "-backend-config=path=/s"]


def test_local_state_lives_in_s3_on_the_local_cloud_of_the_port(tmp_path, monkeypatch):
    monkeypatch.setenv("FARM_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("LOCALCLOUD_PORT", "4711")
    ws = terraform.workspace("local")
    assert ws.endpoint_url == "http://127.0.0.1:4711"
    assert ws.state == terraform.local_cloud_state() and not ws.ambient_credentials
    assert ws.backend_config == []  # the backend files are written at init (backend_args)
    account = terraform.workspace("aws")
    assert (account.state, account.endpoint_url) == (None, None)


def test_discarding_the_markers_leaves_the_rest(tmp_path, monkeypatch):
    monkeypatch.setenv("FARM_STATE_DIR", str(tmp_path))
    ws = terraform.workspace("local")
    ws.dir.mkdir(parents=True)
    for marker in (ws.boot_id_file, ws.applied_file, ws.worker_image_file, ws.dir / "init.sha256"):
        marker.write_text("abc\n")
    ws.discard_markers()
    assert [p.name for p in ws.dir.iterdir()] == ["init.sha256"]


def test_the_local_backend_of_copies_reads_its_file(tmp_path):
    ws = terraform.Workspace(env="local", root=tmp_path, work_dir=tmp_path / "work")
    assert not ws.has_state()
    ws.dir.mkdir(parents=True)
    ws.state_file.write_text('{"resources": []}')
    assert not ws.has_state()
    ws.state_file.write_text('{"resources": [{"type": "aws_kms_key"}]}')
    assert ws.has_state()


def test_output_json_is_empty_when_the_local_cloud_is_not_running(tmp_path, monkeypatch):
    monkeypatch.setenv("FARM_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("LOCALCLOUD_PORT", _unused_endpoint().rsplit(":", 1)[1])
    assert terraform.output_json("local") == {}


def test_in_a_build_the_environment_keeps_the_builds_session(tmp_path, monkeypatch):
    monkeypatch.setenv("FARM_STATE_DIR", str(tmp_path))

    def refuse(state_dir=None):
        raise AssertionError("a build never reads the admin keys file")

    monkeypatch.setattr(credentials, "read", refuse)
    endpoint = _unused_endpoint()
    session = {"AWS_ACCESS_KEY_ID": "ASIABUILD", "AWS_SECRET_ACCESS_KEY": "s", "AWS_SESSION_TOKEN": "t"}
    base = {**session, "AWS_PROFILE": "prod", "CODEBUILD_BUILD_ID": "p:1", "AWS_ENDPOINT_URL": endpoint}
    for name, value in base.items():
        monkeypatch.setenv(name, value)
    ws = terraform.Workspace(env="local", root=tmp_path, endpoint_url=endpoint, ambient_credentials=True)
    env = ws.environment()
    assert {k: env[k] for k in session} == session
    assert (env["AWS_ENDPOINT_URL"], env["AWS_REGION"]) == (endpoint, "us-east-1")
    assert "AWS_PROFILE" not in env
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    with pytest.raises(credentials.NoCredentials, match="without its session"):
        ws.environment()
