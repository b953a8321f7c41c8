"""ValidateInput and PublishResults against in-process moto S3 + KMS, through their real handlers."""

from __future__ import annotations

import json
import re

import pytest

from render_worker import errors, schemas, worker
from render_worker.errors import RenderIncomplete, SpecInvalid, SpecNotFound, SpecTooLarge
from render_worker.validate_input import InvalidExecutionInput

from .conftest import JOB_QUEUES, generated_spec


def put(s3, doc, key="catalog.json") -> str:
    s3.put_object(
        Bucket="specs", Key=key, Body=json.dumps(doc).encode() if not isinstance(doc, bytes) else doc
    )
    return f"s3://specs/{key}"


def render(s3, key_id, result, tmp_path) -> None:
    """Run every child of the validated run with the real worker (in-process, against moto)."""
    children = [None] if result["array_size"] == 1 else range(result["array_size"])
    for child in children:
        env = {
            "SPEC_URI": result["spec_uri"],
            "SPEC_VERSION_ID": result["spec_version_id"],
            "RUN_ID": result["run_id"],
            "OUTPUT_URI": result["output_uri"],
            "VARIANTS_PER_CHILD": str(result["variants_per_child"]),
            "SCRATCH_DIR": str(tmp_path / "scratch"),
            "OUTPUT_KMS_KEY_ID": key_id,
            "UPLOAD_CONCURRENCY": "4",
        }
        if child is not None:
            env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(child)
        assert worker.run(env) == 0


def test_named_errors_keep_their_names():
    # Step Functions matches errorType, the class name.
    for cls in (InvalidExecutionInput, SpecNotFound, SpecTooLarge, SpecInvalid, RenderIncomplete):
        assert cls.__name__ in (
            "InvalidExecutionInput",
            "SpecNotFound",
            "SpecTooLarge",
            "SpecInvalid",
            "RenderIncomplete",
        )
        assert issubclass(cls, errors.FarmError)


def test_validate_input_returns_the_run_plan(functions, example_doc):
    s3, _, validate, _ = functions
    uri = put(s3, example_doc)
    result = validate({"spec_uri": uri, "run_id": "run-42"}, None)
    assert result == {
        "run_id": "run-42",
        "attempt": 1,
        "execution": "run-42",
        "job_name": "run-42",
        "spec_uri": uri,
        "spec_version_id": "",  # an unversioned bucket
        "catalog_id": "spring-2026",
        "output_uri": "s3://renders/run-42/",
        "variant_count": 8,
        "selection": "0-7",  # every variant
        "selected_count": 8,
        # 8 variants: one child takes 0.54 s, two 0.53 s (0.5 s start-up each): one child is within 10%
        "variants_per_child": 8,
        "array_size": 1,
        "children": 1,
        "predicted_wall_s": 0.54,
        "sizing": {
            "model": {
                "child_variants_per_s": 200.0,
                "child_start_s": 0.5,
                "storage_puts_per_s": 250.0,
                "max_parallel_children": 2,
            },
            "basis": "1 child: 0.5 s at 1 x 200/s is within 10% of the best 0.5 s (the S3 ceiling 250/s, "
            "from 2 children); more would each pay a 0.5 s start-up for less",
        },
        "priority": "bulk",
        "job_queue": JOB_QUEUES["bulk"],
        "render_timeout_s": 900,  # the floor: 4 x 0.54 s is less
        "cost_estimate": {
            "children": 1,
            "child_seconds": 0.54,
            "billed_seconds": 60.0,
            "spot_usd": 0.000542,  # 60 s x (2 x 0.01334053 + 4 x 0.00146489) / 3600
            "on_demand_usd": 0.001646,
            "currency": "USD",
            "prices_date": "2026-11-30",
            "basis": "1 child x ~0.5 s (0.5 s start + 8 variants at 200/s), billed 60 s minimum each, "
            "2 vCPU + 4 GiB, us-east-1 prices of 2026-11-30",
        },
    }
    generated = validate({"spec_uri": uri}, None)["run_id"]
    assert generated.startswith("spring-2026-") and len(generated) <= 80


def test_validate_input_sizes_from_the_env_model_and_the_spec_override_wins(functions, monkeypatch):
    s3, _, validate, _ = functions
    result = validate({"spec_uri": put(s3, generated_spec(2, 500)), "run_id": "r"}, None)
    assert (result["variant_count"], result["children"], result["variants_per_child"]) == (1000, 2, 500)
    assert (result["array_size"], result["predicted_wall_s"]) == (2, 4.5)  # 0.5 + 1000 / min(400, 250)
    assert result["sizing"]["basis"] == "2 children: S3 ceiling 250/s reached at 2 x 200/s"
    # Another environment's parameters, another choice: AWS-like start-ups make one child enough.
    monkeypatch.setenv("SIZING_CHILD_START_S", "45")
    monkeypatch.setenv("SIZING_MAX_PARALLEL_CHILDREN", "256")
    monkeypatch.setenv("SIZING_STORAGE_PUTS_PER_S", "3500")
    monkeypatch.setenv("SIZING_CHILD_VARIANTS_PER_S", "320")
    result = validate({"spec_uri": put(s3, generated_spec(2, 500)), "run_id": "r"}, None)
    assert (result["children"], result["variants_per_child"], result["array_size"]) == (1, 1000, 1)
    assert result["sizing"]["model"]["max_parallel_children"] == 256
    # The spec's override wins; the prediction is the model's (7 waves of 2 at once: 3.5 s + 1000 / 640).
    monkeypatch.setenv("SIZING_CHILD_START_S", "0.5")
    monkeypatch.setenv("SIZING_MAX_PARALLEL_CHILDREN", "2")
    result = validate(
        {"spec_uri": put(s3, generated_spec(2, 500, variants_per_child=77)), "run_id": "r"}, None
    )
    assert (result["children"], result["variants_per_child"], result["array_size"]) == (13, 77, 13)
    assert result["predicted_wall_s"] == 5.062
    assert (
        result["sizing"]["basis"]
        == "13 children: the spec's override of 77 per child, in 7 waves of at most 2 at once"
    )


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SIZING_CHILD_START_S", None, "SIZING_CHILD_START_S is not set"),
        ("SIZING_CHILD_VARIANTS_PER_S", "fast", "SIZING_CHILD_VARIANTS_PER_S='fast' is not a number"),
        ("SIZING_MAX_PARALLEL_CHILDREN", "0", "SIZING_MAX_PARALLEL_CHILDREN=0.0 is not an integer >= 1"),
    ],
)
def test_validate_input_names_a_missing_or_bad_sizing_variable(
    functions, monkeypatch, variable, value, message
):
    s3, _, validate, _ = functions
    if value is None:
        monkeypatch.delenv(variable)
    else:
        monkeypatch.setenv(variable, value)
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        validate({"spec_uri": put(s3, generated_spec(1, 3)), "run_id": "r"}, None)


@pytest.mark.parametrize(
    ("event", "message"),
    [
        ({"spec_uri": "s3://specs/missing.json"}, "s3://specs/missing.json cannot be read (404)"),
        ({"spec_uri": "s3://no-such-bucket/x.json"}, "cannot be read"),
        ({"spec_uri": "https://example.com/x.json"}, "is not an s3://bucket/key"),
        ({}, "the event has no spec_uri"),
    ],
)
def test_validate_input_spec_not_found(functions, event, message):
    _, _, validate, _ = functions
    with pytest.raises(SpecNotFound) as caught:
        validate(event, None)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    ("execution_input", "message"),
    [
        (
            {"spec_uri": "s3://specs/catalog.json", "run_id": "run-7", "prio": 1, "spec_url": "x"},
            "unknown field(s) 'prio', 'spec_url'; it takes spec_uri and, optionally, run_id, variants, "
            "spec_version_id, priority and max_cost",
        ),
        (
            {"spec_uri": "s3://specs/catalog.json", "priority": "high"},
            "the execution input's priority 'high' is not one of bulk, urgent",
        ),
        (
            {"spec_uri": "s3://specs/catalog.json", "max_cost": "cheap"},
            "the execution input's max_cost 'cheap' is not a positive amount in USD",
        ),
        (
            {"spec_uri": "s3://specs/catalog.json", "run_id": "someone-else"},
            "run_id 'someone-else' is not the execution name 'run-7'",
        ),
        ({"spec_uri": "s3://specs/catalog.json", "run_id": 7}, "run_id 7 is not the execution name"),
        (["s3://specs/catalog.json"], "the execution input is not a JSON object"),
    ],
    ids=[
        "unknown-fields",
        "bad-priority",
        "bad-max-cost",
        "other-run-id",
        "run-id-not-a-string",
        "not-an-object",
    ],
)
def test_validate_input_refuses_a_bad_execution_input_before_reading_the_spec(
    functions, execution_input, message
):
    _, _, validate, _ = functions  # no spec exists: the input is refused before anything is read
    event = {"spec_uri": "s3://specs/catalog.json", "run_id": "run-7", "execution_input": execution_input}
    with pytest.raises(InvalidExecutionInput) as caught:
        validate(event, None)
    assert message in str(caught.value)


def test_validate_input_accepts_the_input_the_workflow_is_started_with(functions, example_doc):
    s3, _, validate, _ = functions
    uri = put(s3, example_doc)
    for execution_input in ({"spec_uri": uri}, {"spec_uri": uri, "run_id": "run-8"}):
        event = {"spec_uri": uri, "run_id": "run-8", "execution_input": execution_input}
        assert validate(event, None)["run_id"] == "run-8"


def test_validate_input_names_the_version_it_validated_and_publish_reads_it(functions, tmp_path):
    s3, key_id, validate, publish = functions
    s3.put_bucket_versioning(Bucket="specs", VersioningConfiguration={"Status": "Enabled"})
    uri = put(s3, generated_spec(1, 4))
    result = validate({"spec_uri": uri, "run_id": "ver-1"}, None)
    latest = s3.head_object(Bucket="specs", Key="catalog.json")["VersionId"]
    assert result["spec_version_id"] == latest and latest not in ("", "null")
    render(s3, key_id, result, tmp_path)
    put(s3, generated_spec(1, 5))  # overwritten during the run: nothing may notice
    message = publish(result, None)
    assert message["variant_count"] == 4
    manifest = json.loads(s3.get_object(Bucket="renders", Key="ver-1/manifest.json")["Body"].read())
    assert manifest["variant_count"] == 4
    s3.delete_object(Bucket="specs", Key="catalog.json")  # even a delete marker changes nothing
    assert publish(result, None)["variant_count"] == 4
    with pytest.raises(SpecNotFound, match=r"catalog\.json has no version 'no-such-version' \(404\)"):
        publish({**result, "spec_version_id": "no-such-version"}, None)


def test_validate_input_spec_too_large(functions, example_doc, monkeypatch):
    s3, _, validate, _ = functions
    monkeypatch.setenv("MAX_SPEC_BYTES", "1024")
    with pytest.raises(SpecTooLarge, match=r"is \d+ bytes; the limit is 1024"):
        validate({"spec_uri": put(s3, example_doc)}, None)


def test_validate_input_spec_invalid_names_every_pointer(functions, example_doc):
    s3, _, validate, _ = functions
    example_doc["products"][0]["variants"][3]["color"] = "navy"
    example_doc["products"][2]["price"]["currency"] = "GBX"
    with pytest.raises(SpecInvalid) as caught:
        validate({"spec_uri": put(s3, example_doc)}, None)
    assert str(caught.value).splitlines() == [
        "/products/0/variants/3/color: 'navy' is not a colour as #RRGGBB (the pattern also fixes the length)",
        "/products/2/price/currency: 'GBX' is not an ISO 4217 currency code",
    ]
    with pytest.raises(SpecInvalid, match=r"^/: not valid JSON"):
        validate({"spec_uri": put(s3, b"\x00\x01garbage")}, None)


def test_publish_results_writes_manifest_and_gallery(functions, tmp_path):
    s3, key_id, validate, publish = functions
    result = validate(
        {"spec_uri": put(s3, generated_spec(3, 9, variants_per_child=4)), "run_id": "pub-1"}, None
    )
    assert result["array_size"] == 7
    render(s3, key_id, result, tmp_path)

    message = publish(result, None)
    schemas.validator("notification").validate(message)
    assert message == {
        "schema_version": "1.0",
        "status": "SUCCEEDED",
        "run_id": "pub-1",
        "catalog_id": "spring-2026",
        "spec_uri": "s3://specs/catalog.json",
        "variant_count": 27,
        "manifest_uri": "s3://renders/pub-1/manifest.json",
        "gallery_uri": "s3://renders/pub-1/index.html",
        "attempt": 1,
        "rendered": 27,
        # No render job in this event (the test ran the children itself): estimate only, nothing billed.
        "cost": {"attempt": 1, "estimate": result["cost_estimate"], "actual": message["cost"]["actual"]},
    }
    assert message["cost"]["actual"]["children"] == 0 and message["cost"]["actual"]["on_demand_usd"] == 0
    manifest_object = s3.get_object(Bucket="renders", Key="pub-1/manifest.json")
    assert manifest_object["ServerSideEncryption"] == "aws:kms" and key_id in manifest_object["SSEKMSKeyId"]
    manifest = json.loads(manifest_object["Body"].read())
    schemas.validator("manifest").validate(manifest)
    assert manifest["variant_count"] == 27 and [v["index"] for v in manifest["variants"]] == list(range(27))
    assert manifest["attempts"] == [{"attempt": 1, "execution": "pub-1", "rendered": 27}]
    first = manifest["variants"][0]
    assert first["key"] == "tee-classic-0000/P0000-V00000.svg"  # relative to the run's prefix
    body = s3.get_object(Bucket="renders", Key=f"pub-1/{first['key']}")["Body"].read()
    assert first["bytes"] == len(body) and manifest["total_bytes"] == sum(
        v["bytes"] for v in manifest["variants"]
    )
    gallery = s3.get_object(Bucket="renders", Key="pub-1/index.html")
    assert gallery["ContentType"].startswith("text/html") and gallery["ServerSideEncryption"] == "aws:kms"
    html = gallery["Body"].read().decode()
    assert html.count("<img ") == 27 and '<img src="tee-classic-0000/P0000-V00000.svg"' in html

    again = publish(result, None)  # idempotent: a retried PublishResults writes the same bytes
    assert again == message
    assert json.loads(s3.get_object(Bucket="renders", Key="pub-1/manifest.json")["Body"].read()) == manifest


def test_publish_results_refuses_an_incomplete_run_and_writes_nothing(functions, tmp_path):
    s3, key_id, validate, publish = functions
    result = validate(
        {"spec_uri": put(s3, generated_spec(2, 5, variants_per_child=3)), "run_id": "inc-1"}, None
    )
    render(s3, key_id, result, tmp_path)
    s3.delete_object(Bucket="renders", Key="inc-1/mug-enamel-0001/P0001-V00002.svg")
    s3.delete_object(Bucket="renders", Key="inc-1/_parts/child-00002.json")
    with pytest.raises(RenderIncomplete) as caught:
        publish(result, None)
    lines = str(caught.value).splitlines()
    assert lines[0] == "2 expected object(s) missing:"
    assert set(lines[1:]) == {"inc-1/mug-enamel-0001/P0001-V00002.svg", "inc-1/_parts/child-00002.json"}
    listing = [o["Key"] for o in s3.list_objects_v2(Bucket="renders", Prefix="inc-1/")["Contents"]]
    assert "inc-1/manifest.json" not in listing and "inc-1/index.html" not in listing


def test_render_incomplete_lists_the_first_20_and_counts_the_rest(functions, tmp_path):
    s3, _, validate, publish = functions
    result = validate({"spec_uri": put(s3, generated_spec(1, 30)), "run_id": "none-1"}, None)
    with pytest.raises(RenderIncomplete) as caught:  # nothing rendered at all
        publish(result, None)
    lines = str(caught.value).splitlines()
    assert lines[0] == "31 expected object(s) missing:" and len(lines) == 22
    assert lines[1] == "none-1/_parts/plain.json" and lines[-1] == "... and 11 more"


def test_publish_results_notices_a_spec_changed_after_validation(functions, tmp_path):
    s3, key_id, validate, publish = functions
    result = validate({"spec_uri": put(s3, generated_spec(1, 4)), "run_id": "chg-1"}, None)
    render(s3, key_id, result, tmp_path)
    put(s3, generated_spec(1, 5))
    with pytest.raises(RenderIncomplete, match="now has 5 variants; 4 were rendered"):
        publish(result, None)


def test_handlers_log_json_with_the_run_id(functions, example_doc, capsys):
    s3, _, validate, _ = functions
    validate({"spec_uri": put(s3, example_doc), "run_id": "log-1"}, None)
    lines = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    assert any(e["message"] == "spec valid" and e["correlation_id"] == "log-1" for e in lines)


def test_publish_results_refuses_a_render_that_does_not_match_its_part_record(functions, tmp_path):
    s3, key_id, validate, publish = functions
    result = validate({"spec_uri": put(s3, generated_spec(1, 3)), "run_id": "tamper-1"}, None)
    render(s3, key_id, result, tmp_path)
    s3.put_object(Bucket="renders", Key="tamper-1/tee-classic-0000/P0000-V00001.svg", Body=b"<svg/>")
    with pytest.raises(RenderIncomplete) as caught:
        publish(result, None)
    assert (
        "tamper-1/_parts/plain.json (no matching record for tamper-1/tee-classic-0000/P0000-V00001.svg)"
        in str(caught.value)
    )
