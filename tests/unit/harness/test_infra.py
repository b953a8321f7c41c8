"""harness.infra's decisions that need no Terraform: markers of an earlier boot, offline review roots,
credentials, the restart-and-retry of a failed local apply, container mode's two phases. envs/local's state
(an S3 object on the local cloud: test_state_backend.py) is held in memory here."""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from harness import infra, terraform


class StoredState:
    """envs/local's state object, held in memory instead of in S3 on a local cloud."""

    def __init__(self):
        self.text: str | None = None

    def put(self, doc: dict) -> None:
        self.text = json.dumps(doc)


@pytest.fixture(autouse=True)
def _outside_a_build(monkeypatch):
    """Whatever runs these tests (a CodeBuild build included) decides nothing for them."""
    for name in ("CODEBUILD_BUILD_ID", "AWS_ENDPOINT_URL", "FARM_BACKEND_CONFIG"):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture
def state(monkeypatch):
    stored = StoredState()
    monkeypatch.setattr(terraform.Workspace, "state_text", lambda self: stored.text)
    stored.put({"resources": [{"type": "aws_s3_bucket"}]})
    return stored


@pytest.fixture
def ws(tmp_path, monkeypatch, state):
    monkeypatch.setenv("FARM_STATE_DIR", str(tmp_path / "state"))
    workspace = terraform.Workspace(env="local", root=tmp_path, state=terraform.local_cloud_state())
    workspace.dir.mkdir(parents=True)
    return workspace


def _markers(ws) -> list[str]:
    return sorted(p.name for p in (ws.boot_id_file, ws.applied_file, ws.worker_image_file) if p.exists())


def test_markers_of_another_boot_are_forgotten(ws, capsys):
    for marker in (ws.boot_id_file, ws.applied_file):
        marker.write_text("old-boot\n")
    ws.record_image("127.0.0.1:5000/farm/render-worker@sha256:" + "b" * 64)
    assert infra.forget_earlier_boot(ws, "new-boot")
    assert _markers(ws) == []
    assert "local cloud restarted since the last deploy here" in capsys.readouterr().out


def test_markers_of_the_running_boot_are_kept(ws):
    for marker in (ws.boot_id_file, ws.applied_file):
        marker.write_text("same\n")
    assert not infra.forget_earlier_boot(ws, "same")
    assert _markers(ws) == ["applied", "boot_id"]


def test_no_recorded_boot_nothing_to_forget(ws):
    assert not infra.forget_earlier_boot(ws, "new-boot")


def test_offline_root_gets_a_local_backend_and_sample_vars_without_harness_paths(tmp_path):
    (tmp_path / "providers.tf").write_text('provider "aws" {\n  region = var.region\n}\n')
    (tmp_path / "terraform.tfvars.example").write_text('region = "us-east-1"\nlambda_zip_dir = "/path/to"\n')
    infra.prepare_offline_root(tmp_path)
    override = (tmp_path / "backend_override.tf").read_text()
    assert 'backend "local" {}' in override
    assert "s3_use_path_style = true" in override
    review = (tmp_path / "review-terraform.auto.tfvars").read_text()
    assert 'region = "us-east-1"' in review
    assert "lambda_zip_dir" not in review


def test_offline_root_without_provider_block_gets_no_provider_override(tmp_path):
    (tmp_path / "main.tf").write_text("locals {}\n")
    infra.prepare_offline_root(tmp_path)
    assert "provider" not in (tmp_path / "backend_override.tf").read_text()


@pytest.mark.parametrize(
    ("environ", "expected"),
    [
        ({"AWS_PROFILE": "prod"}, True),
        ({"AWS_ACCESS_KEY_ID": "AKIA"}, True),
        ({"AWS_CONTAINER_CREDENTIALS_RELATIVE_URI": "/v2/creds"}, True),
        ({}, False),
    ],
)
def test_has_credentials(tmp_path, environ, expected):
    environ = {"AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"), **environ}
    assert infra.has_credentials(environ) is expected


def test_account_env_without_backend_config_is_refused(monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIA")
    monkeypatch.delenv("FARM_BACKEND_CONFIG", raising=False)
    with pytest.raises(infra.DeployError, match="FARM_BACKEND_CONFIG"):
        infra.deploy("aws")


class _Calls:
    """Stands in for Terraform: fails the first `fail_first` applies, records each boot id applied against."""

    def __init__(self, fail_first: int):
        self.fail_first = fail_first
        self.boots: list[str | None] = []

    def apply(self, env, ws, boot_id):
        self.boots.append(boot_id)
        if len(self.boots) <= self.fail_first:
            raise terraform.TerraformError("terraform apply failed in envs/local (exit 1)\nalready exists")
        return 1.0


def _stub_cloud(monkeypatch, downs: list[int]) -> None:
    monkeypatch.setattr(infra, "_localcloud", lambda: SimpleNamespace(down=lambda: downs.append(1)))
    monkeypatch.setattr(infra, "local_cloud", lambda: ("http://127.0.0.1:1", {"boot_id": "boot-2"}))
    monkeypatch.setattr(terraform.Workspace, "outputs", lambda self: {})


def test_a_failed_local_apply_restarts_the_cloud_and_applies_once_more(ws, monkeypatch):
    calls, downs = _Calls(fail_first=1), []
    monkeypatch.setattr(infra, "_apply", calls.apply)
    _stub_cloud(monkeypatch, downs)
    infra._deploy_locked("local", ws, "boot-1")
    assert calls.boots == ["boot-1", "boot-2"]
    assert downs == [1]
    assert ws.endpoint_url == "http://127.0.0.1:1"


def test_a_second_failure_is_reported_not_retried_forever(ws, monkeypatch):
    calls, downs = _Calls(fail_first=2), []
    monkeypatch.setattr(infra, "_apply", calls.apply)
    _stub_cloud(monkeypatch, downs)
    with pytest.raises(terraform.TerraformError):
        infra._deploy_locked("local", ws, "boot-1")
    assert calls.boots == ["boot-1", "boot-2"]


def test_a_failed_apply_on_an_account_is_not_retried(ws, monkeypatch):
    calls, downs = _Calls(fail_first=1), []
    monkeypatch.setattr(infra, "_apply", calls.apply)
    _stub_cloud(monkeypatch, downs)
    with pytest.raises(terraform.TerraformError):
        infra._deploy_locked("aws", ws, None)
    assert downs == []


@pytest.mark.parametrize("succeeds", [True, False])
def test_only_a_complete_apply_marks_the_boot_as_applied(ws, monkeypatch, succeeds):
    ws.boot_id_file.write_text("boot-1\n")
    monkeypatch.setattr(infra, "build_zips", lambda env: ws.root)
    monkeypatch.setattr(terraform.Workspace, "init", lambda self: True)

    def run(self, *args, **kwargs):
        if not succeeds:
            raise terraform.TerraformError("terraform apply failed")

    monkeypatch.setattr(terraform.Workspace, "run", run)
    if succeeds:
        infra._apply("local", ws, "boot-1")
        assert ws.applied_file.read_text().strip() == "boot-1"
    else:
        with pytest.raises(terraform.TerraformError):
            infra._apply("local", ws, "boot-1")
        assert not ws.applied_file.exists()
        assert ws.boot_id_file.read_text().strip() == "boot-1"  # a half-applied state belongs to this boot


# ---- container mode: two phases, one command; the same image on every later plan -------------------------

ECR_STATE = {
    "resources": [
        {"module": "module.stack.module.kms", "mode": "managed", "type": "aws_kms_key", "instances": [{}]},
        {
            "module": "module.stack.module.ecr",
            "mode": "managed",
            "type": "aws_ecr_repository",
            "instances": [{"attributes": {"repository_url": "127.0.0.1:5000/farm/render-worker"}}],
        },
    ]
}
IMAGE = "127.0.0.1:5000/farm/render-worker@sha256:" + "a" * 64


def test_the_repository_url_is_read_from_the_state(ws, state):
    assert infra.state_repository_url(ws) is None
    state.put(ECR_STATE)
    assert infra.state_repository_url(ws) == "127.0.0.1:5000/farm/render-worker"


@pytest.fixture
def applies(ws, state, monkeypatch):
    """_apply with Terraform and harness.image stubbed: the runs, in order, and the image each saw."""
    ws.boot_id_file.write_text("boot-1\n")
    runs: list[tuple[tuple[str, ...], str | None]] = []
    monkeypatch.setattr(infra, "build_zips", lambda env: ws.root)
    monkeypatch.setattr(terraform.Workspace, "init", lambda self: True)

    def run(self, *args, **kwargs):
        runs.append((args, self.environment().get("TF_VAR_worker_image")))
        if any(a.startswith("-target=") for a in args):
            state.put(ECR_STATE)

    monkeypatch.setattr(terraform.Workspace, "run", run)
    monkeypatch.setattr(terraform, "write_cli_config", lambda environ=None: ws.dir / "terraformrc")
    pushed = []
    monkeypatch.setattr(infra.image, "ensure_pushed", lambda url, endpoint, env: pushed.append(url) or IMAGE)
    return SimpleNamespace(runs=runs, pushed=pushed)


def test_container_mode_applies_the_repository_then_pushes_then_applies_all_with_the_digest(
    ws, state, applies
):
    ws.runtime = "container"
    state.text = None
    infra._apply("local", ws, "boot-1")
    assert [args[:3] for args, _ in applies.runs] == [
        ("apply", "-input=false", "-auto-approve"),
        ("apply", "-input=false", "-auto-approve"),
    ]
    assert applies.runs[0][0][3] == "-target=module.stack.module.ecr"
    assert applies.pushed == ["127.0.0.1:5000/farm/render-worker"]
    assert applies.runs[1] == (("apply", "-input=false", "-auto-approve"), IMAGE)
    # recorded: a later workspace of the env (the smoke suite's re-plan) passes the same image
    again = terraform.Workspace(env="local", root=ws.root)
    assert again.environment()["TF_VAR_worker_image"] == IMAGE


def test_a_deployed_repository_skips_phase_one(ws, state, applies):
    ws.runtime = "container"
    state.put(ECR_STATE)
    infra._apply("local", ws, "boot-1")
    assert [runs[0] for runs, _ in applies.runs] == ["apply"]
    assert applies.runs[0][1] == IMAGE and applies.pushed


def test_process_mode_builds_no_image_and_says_so(ws, applies, capsys):
    ws.runtime = "process"
    infra._apply("local", ws, "boot-1")
    assert applies.pushed == [] and applies.runs == [(("apply", "-input=false", "-auto-approve"), None)]
    assert infra.PROCESS_MODE_NOTE in capsys.readouterr().out


def test_discarding_the_markers_forgets_the_image(ws):
    ws.record_image(IMAGE)
    ws.discard_markers()
    assert not ws.worker_image_file.exists()
    assert "TF_VAR_worker_image" not in terraform.Workspace(env="local", root=ws.root).environment()
