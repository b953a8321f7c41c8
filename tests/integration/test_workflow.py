"""The whole workflow with the example catalog: renders, manifest, gallery, exactly one completion message
(and no failure message); and a spec overwritten during a run, which changes nothing. What the run leaves on
scratch, and its removal when the run ends: test_scratch.py."""

from __future__ import annotations

import json
import time

import pytest

from harness.paths import REPO
from tests.conftest import LIVE_TIMEOUT, flat_variants, make_spec
from tests.integration import checks

pytestmark = pytest.mark.live

EXAMPLE = REPO / "examples" / "catalog.example.json"


@pytest.fixture(scope="module")
def example_run(farm):
    spec = json.loads(EXAMPLE.read_text())
    run = farm.run(spec, "example")
    assert run.state.status == "SUCCEEDED", f"{run.state.error}: {run.state.cause}"
    return run


@pytest.fixture(scope="module")
def bodies(farm, example_run):
    return checks.check_all_renders(farm, example_run.run_id, example_run.spec)


def test_every_variant_rendered_with_its_content(example_run, bodies):
    assert len(bodies) == len(flat_variants(example_run.spec)) == 8


def test_renders_are_sse_kms_svg(farm, stack, example_run, bodies):
    kms = stack.client("kms")
    storage = stack["kms_key_arns"]["storage"]
    for key in bodies:
        head = farm.head(example_run.run_id, key)
        assert head["ContentType"] == "image/svg+xml", key
        assert head["ServerSideEncryption"] == "aws:kms", key
        assert kms.describe_key(KeyId=head["SSEKMSKeyId"])["KeyMetadata"]["Arn"] == storage, key


def test_manifest_validates_and_matches_objects(farm, example_run, bodies, manifest_validator):
    manifest = checks.check_manifest(farm, example_run.run_id, example_run.spec, bodies, manifest_validator)
    assert manifest["spec_uri"] == example_run.spec_uri


def test_gallery_lists_every_render(farm, example_run):
    html = checks.check_gallery(farm, example_run.run_id, example_run.spec)
    for product in example_run.spec["products"]:
        assert product["name"] in html


def test_exactly_one_completion_message_validates(farm, stack, example_run, notification_validator):
    message = checks.only_message(farm, example_run.run_id, "SUCCEEDED", notification_validator)
    bucket = stack["renders_bucket"]
    assert message["variant_count"] == 8
    assert message["catalog_id"] == example_run.spec["catalog_id"]
    assert message["spec_uri"] == example_run.spec_uri
    assert message["manifest_uri"] == f"s3://{bucket}/{example_run.run_id}/manifest.json"
    assert message["gallery_uri"] == f"s3://{bucket}/{example_run.run_id}/index.html"


def test_status_reports_the_batch_job(farm, example_run):
    state = farm.client.status(example_run.run_id)
    assert state.status == "SUCCEEDED"
    assert state.job_id, "the Render state's Batch job is not in the execution history"
    assert state.children_total == 1 and state.children_done == 1  # 8 variants: one plain job


def test_fetch_downloads_renders_and_gallery(farm, example_run, bodies, tmp_path):
    fetched = farm.client.fetch(example_run.run_id, tmp_path / "out")
    assert len(fetched.svgs) == 8
    assert fetched.gallery and fetched.manifest
    for key, body in bodies.items():
        assert (tmp_path / "out" / key).read_bytes() == body


def test_cli_status_and_fetch_exit_codes(example_run, tmp_path, capsys):
    from farm import cli

    assert cli.main(["status", example_run.run_id]) == 0
    assert "SUCCEEDED" in capsys.readouterr().out
    assert cli.main(["status", f"{example_run.run_id}-nope"]) == 3
    assert cli.main(["fetch", example_run.run_id, "--out", str(tmp_path / "cli")]) == 0
    assert "8 SVGs" in capsys.readouterr().out
    assert cli.main(["fetch", f"{example_run.run_id}-nope", "--out", str(tmp_path / "none")]) == 3


def test_a_spec_overwritten_during_the_run_changes_nothing(farm, stack, manifest_validator):
    """ValidateInput names the spec version it validated; the children and PublishResults read exactly it, so
    garbage uploaded over the spec once the render has started is never seen."""
    spec = make_spec("versioned", products=4, variants_per_product=5, variants_per_child=4)  # 5 children
    run_id = farm.new_run_id("version")
    spec_uri = farm.upload(run_id, spec)
    farm.start(spec_uri, run_id)
    overwritten: list[float] = []

    def overwrite_once_rendering(state) -> None:
        if state.job_id and not overwritten and not state.finished:
            farm.upload(run_id, b"{ overwritten: not even JSON")
            overwritten.append(time.time())

    state = farm.client.wait(
        run_id, on_update=overwrite_once_rendering, timeout=LIVE_TIMEOUT, poll_seconds=0.5
    )
    assert state.status == "SUCCEEDED", f"{state.error}: {state.cause}"
    assert overwritten, "the run ended before the spec could be overwritten"
    history = stack.client("stepfunctions").get_execution_history(executionArn=state.execution_arn)["events"]
    published_at = next(
        e["timestamp"].timestamp()
        for e in history
        if e["type"] == "TaskStateEntered" and e["stateEnteredEventDetails"]["name"] == "PublishResults"
    )
    assert overwritten[0] < published_at, "the overwrite came after PublishResults: nothing was tested"
    message = checks.only_message(farm, run_id, "SUCCEEDED")
    assert message["variant_count"] == 20
    bodies = checks.check_all_renders(farm, run_id, spec)
    checks.check_manifest(farm, run_id, spec, bodies, manifest_validator)
