"""Failure paths: whatever fails (the execution input, the spec, the render, the publish), the run ends in
exactly one failure message and no completion message, counted after a quiet window; nothing is published and
no other variant is lost."""

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


def _detail(cause: str) -> str:
    """What the error says: a Lambda's cause is {"errorMessage", "errorType", ...}; other causes are text."""
    try:
        return json.loads(cause)["errorMessage"]
    except (ValueError, TypeError, KeyError):
        return cause


def _failed_once(farm, run_id: str, validator, error: str) -> dict:
    """The run FAILED as RenderFailed.<error>, with exactly one failure message, naming `error`, and no
    completion message."""
    state = farm.wait(run_id)
    assert (state.status, state.error) == ("FAILED", f"RenderFailed.{error}"), state
    message = checks.only_message(farm, run_id, "FAILED", validator)
    assert message["error"] == error, message
    print(f"\n{run_id}: 1 failure message, 0 completion: {error}: {_detail(message['cause'])[:200]!r}")
    return message


def _published_nothing(farm, run_id: str) -> None:
    assert not [k for k in farm.keys(run_id) if not k.startswith("_")], "nothing may be published"


@pytest.mark.parametrize(
    ("execution_input", "spec_uri", "cause"),
    [
        ({}, None, "the execution input has no spec_uri"),
        ({"spec_uri": 42}, None, "the execution input's spec_uri is not a string"),
        ("s3://bucket/catalog.json", None, "the execution input is not a JSON object"),
        ({"spec_uri": "UPLOADED", "urgency": "high"}, "UPLOADED", "unknown field(s) 'urgency'"),
        (
            {"spec_uri": "UPLOADED", "priority": "high"},
            "UPLOADED",
            "priority 'high' is not one of bulk, urgent",
        ),
        ({"spec_uri": "UPLOADED", "run_id": "someone-else"}, "UPLOADED", "is not the execution name"),
    ],
    ids=[
        "no-spec-uri",
        "spec-uri-not-a-string",
        "not-an-object",
        "unknown-field",
        "bad-priority",
        "other-run-id",
    ],
)
def test_bad_execution_input_ends_in_one_failure_message(
    farm, stack, notification_validator, execution_input, spec_uri, cause
):
    run_id = farm.new_run_id("badinput")
    if spec_uri == "UPLOADED":  # a valid spec: only the input around it is wrong
        spec_uri = farm.upload(run_id, VALID)
        execution_input = {**execution_input, "spec_uri": spec_uri}
    stack.client("stepfunctions").start_execution(
        stateMachineArn=stack["state_machine_arn"], name=run_id, input=json.dumps(execution_input)
    )
    message = _failed_once(farm, run_id, notification_validator, "InvalidExecutionInput")
    assert cause in _detail(message["cause"]), message["cause"]
    assert message["spec_uri"] == spec_uri
    assert farm.wait(run_id).job_id is None, "a bad input must never reach Batch"
    _published_nothing(farm, run_id)


@pytest.mark.parametrize(
    ("label", "spec", "error", "pointer"),
    [
        ("missing", None, "SpecNotFound", None),
        ("invalid", SCHEMA_INVALID, "SpecInvalid", "/products/0/template"),
        ("notjson", b"{ this is not JSON", "SpecInvalid", None),
    ],
    ids=["missing", "schema-invalid", "not-json"],
)
def test_bad_spec_ends_in_one_failure_message_without_manifest(
    farm, notification_validator, label, spec, error, pointer
):
    run_id, spec_uri = _start(farm, label, spec)
    message = _failed_once(farm, run_id, notification_validator, error)
    assert message["spec_uri"] == spec_uri
    if pointer:
        assert pointer in _detail(message["cause"]), message["cause"]
    assert farm.wait(run_id).job_id is None, "a bad spec must never reach Batch"
    _published_nothing(farm, run_id)


def test_spec_over_the_limit_ends_in_one_failure_message(farm, stack, notification_validator):
    functions = stack["lambda_function_names"]
    configuration = stack.client("lambda").get_function_configuration(
        FunctionName=functions["validate_input"]
    )
    limit = int(configuration["Environment"]["Variables"]["MAX_SPEC_BYTES"])
    # The limit leaves room for the largest spec the schema allows (100,000 variants, about 8 MB).
    assert len(json.dumps(make_spec("largest", products=1000, variants_per_product=100)).encode()) < limit
    valid = json.dumps(VALID).encode()
    body = valid + b" " * (limit + 1 - len(valid))  # a valid spec, one byte too large
    run_id, spec_uri = _start(farm, "toolarge", body)
    message = _failed_once(farm, run_id, notification_validator, "SpecTooLarge")
    assert message["spec_uri"] == spec_uri
    assert f"is {limit + 1} bytes; the limit is {limit}" in _detail(message["cause"]), message["cause"]
    assert farm.wait(run_id).job_id is None, "a spec over the limit must never reach Batch"
    _published_nothing(farm, run_id)


def _needs_test_hooks(stack) -> None:
    if not stack["test_hooks_enabled"]:
        pytest.skip("the CRASH- and DROP- hooks exist only where the job definition sets FARM_TEST_HOOKS=1")


def test_missing_render_ends_in_one_render_incomplete_message(farm, stack, notification_validator):
    _needs_test_hooks(stack)
    spec = make_spec("drop", products=2, variants_per_product=3, variants_per_child=3)
    spec["products"][1]["variants"][1]["sku"] = "DROP-0001-001"  # rendered and recorded, never uploaded
    run_id, spec_uri = _start(farm, "drop", spec)
    message = _failed_once(farm, run_id, notification_validator, "RenderIncomplete")
    assert message["spec_uri"] == spec_uri
    dropped = f"{run_id}/prod-0001/DROP-0001-001.svg"
    assert _detail(message["cause"]).splitlines() == ["1 expected object(s) missing:", dropped], message[
        "cause"
    ]
    state = farm.wait(run_id)
    assert (state.children_total, state.children_failed) == (2, 0), "every child succeeded"
    keys = set(farm.keys(run_id))
    assert "manifest.json" not in keys and "index.html" not in keys
    assert len([k for k in keys if k.endswith(".svg")]) == 5


def test_child_crashing_on_every_attempt_ends_in_one_failure_message(farm, stack, notification_validator):
    _needs_test_hooks(stack)
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
    message = _failed_once(farm, run.run_id, notification_validator, "States.TaskFailed")
    assert message["spec_uri"] == run.spec_uri
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
