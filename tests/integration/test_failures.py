"""Failure paths: bad specs and a crashing child reach the failure topic; no manifest, no lost work."""

from __future__ import annotations

import json

import pytest

from tests.conftest import flat_variants, make_spec
from tests.integration import checks

pytestmark = pytest.mark.live

VALID = make_spec("failures", products=1, variants_per_product=2)
SCHEMA_INVALID = {**VALID, "products": [{**VALID["products"][0], "template": "poster"}]}


def _start(farm, label: str, spec) -> tuple[str, str]:
    run_id = farm.new_run_id(label)
    if spec is None:  # a spec URI in our bucket that nothing was ever written to
        spec_uri = f"s3://{farm.stack['specs_bucket']}/{run_id}/missing.json"
    else:
        spec_uri = farm.upload(run_id, spec)
    farm.start(spec_uri, run_id)
    return run_id, spec_uri


@pytest.mark.parametrize(
    ("label", "spec", "error", "pointer"),
    [
        ("missing", None, "SpecNotFound", None),
        ("invalid", SCHEMA_INVALID, "SpecInvalid", "/products/0/template"),
        ("notjson", b"{ this is not JSON", "SpecInvalid", None),
    ],
    ids=["missing", "schema-invalid", "not-json"],
)
def test_bad_spec_ends_in_failure_topic_without_manifest(
    farm, notification_validator, label, spec, error, pointer
):
    run_id, spec_uri = _start(farm, label, spec)
    state = farm.wait(run_id)
    assert state.status == "FAILED"
    (message,) = farm.failure(run_id)
    problems = [e.message for e in notification_validator.iter_errors(message)]
    assert not problems, problems
    assert message["status"] == "FAILED"
    assert message["run_id"] == run_id
    assert message["spec_uri"] == spec_uri
    assert message["error"] == error
    if pointer:
        assert pointer in message["cause"], message["cause"]
    assert state.job_id is None, "a bad spec must never reach Batch"
    assert not [k for k in farm.keys(run_id) if not k.startswith("_")], "nothing may be published"


def test_crashing_child_fails_the_run_and_loses_no_other_variant(farm, stack, notification_validator):
    if not stack["test_hooks_enabled"]:
        pytest.skip(
            "the CRASH- hook exists only where the job definition sets FARM_TEST_HOOKS=1 (envs/local)"
        )
    per_child, crash_index = 3, 4  # 9 variants in 3 children; child 1 crashes on its middle variant
    spec = make_spec(
        "crash",
        products=3,
        variants_per_product=3,
        variants_per_child=per_child,
        crash_flat_indexes=[crash_index],
    )
    run = farm.run(spec, "crash")
    assert run.state.status == "FAILED"
    assert run.state.job_id, "the run failed before reaching Batch"
    assert run.state.children_total == 3
    assert run.state.children_failed == 1, run.state
    (message,) = farm.failure(run.run_id)
    assert not list(notification_validator.iter_errors(message))
    assert message["run_id"] == run.run_id
    assert message["error"] not in ("SpecInvalid", "SpecNotFound")
    rows = flat_variants(spec)
    keys = set(farm.keys(run.run_id))
    for index, row in enumerate(rows):
        if index == crash_index:
            assert row["key"] not in keys
            continue
        assert row["key"] in keys, f"variant {index} ({row['key']}) was lost"
        checks.check_render(farm.get(run.run_id, row["key"]), row["product"], row["variant"])
    assert "manifest.json" not in keys and "index.html" not in keys
    if (
        "_parts/child-00001.json" in keys
    ):  # a crashed child may record its part, but never the crashed variant
        record = json.loads(farm.get(run.run_id, "_parts/child-00001.json"))
        assert crash_index not in [v["index"] for v in record["variants"]]
