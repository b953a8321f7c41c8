"""Reruns of only the missing variants: the selection parser (one for ValidateInput and the worker), sparse
slicing, execution names and attempts, ValidateInput's new fields, the worker's per-attempt part records and
scratch, the FAILONCE- hook, and PublishResults over several attempts (the latest attempt's record wins)."""

from __future__ import annotations

import json
import re

import pytest

from render_worker import parts, schemas, sizing, worker
from render_worker.errors import RenderIncomplete, SpecNotFound
from render_worker.publish_results import list_sizes
from render_worker.selection import MAX_RANGES, Selection, SelectionError, check_within, parse
from render_worker.spec import Catalog
from render_worker.uri import Execution, parse_execution
from render_worker.validate_input import InvalidExecutionInput

from .conftest import generated_spec
from .test_lambdas import put
from .test_worker import worker_env

# ---- the selection -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "canonical", "count"),
    [
        ("0-99,250,300-310", "0-99,250,300-310", 112),
        ("300-310, 250 ,0-99", "0-99,250,300-310", 112),  # any order, spaces around items
        ("0-4,5-9,10", "0-10", 11),  # touching ranges merge
        ("7-7", "7", 1),
        ("007", "7", 1),
        ("", "", 0),
        ("  ", "", 0),
    ],
)
def test_ranges_are_parsed_and_canonicalised(text, canonical, count):
    chosen = parse(text, "variants")
    assert (chosen.text, chosen.count) == (canonical, count)
    assert parse(chosen.text, "variants") == chosen  # canonical text is a fixed point


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("5-3", "variants: '5-3' is reversed (5 > 3); write 3-5"),
        ("0-9,5", "variants: '0-9' and '5' overlap (both select 5)"),
        ("0-9,9-12", "variants: '0-9' and '9-12' overlap (both select 9)"),
        ("1,,2", "variants has an empty range (two commas, or one at an end)"),
        ("1,", "variants has an empty range"),
        ("a-3", "variants: 'a-3' is not an index or an inclusive range such as 300-310"),
        ("-3", "variants: '-3' is not an index"),
        ("1-2-3", "variants: '1-2-3' is not an index"),
        ("1 2", "variants: '1 2' is not an index"),
        (7, "variants 7 is not a string of index ranges"),
        (",".join(str(2 * i) for i in range(MAX_RANGES + 1)), "variants has 1,001 ranges; at most 1,000"),
    ],
)
def test_bad_ranges_are_refused_naming_the_field(text, message):
    with pytest.raises(SelectionError, match=f"^{re.escape(message)}"):
        parse(text, "variants")


def test_the_cap_is_exactly_max_ranges_and_ranges_past_the_spec_are_refused():
    assert len(parse(",".join(str(2 * i) for i in range(MAX_RANGES)), "v").ranges) == MAX_RANGES
    check_within(parse("0-9", "v"), 10, "v")
    with pytest.raises(SelectionError, match=r"^v: '5-10' is out of range: the spec has 10 variants \(flat "):
        check_within(parse("0,5-10", "v"), 10, "v")


def test_covering_closes_the_smallest_gaps():
    scattered = Selection.of([1, 2, 3, 7, 20, 21, 40])
    assert scattered.text == "1-3,7,20-21,40"
    assert scattered.covering(2).text == "1-21,40"
    assert scattered.covering(10) is scattered
    assert len(Selection.of(range(0, 5000, 2)).covering().ranges) == MAX_RANGES


# ---- sparse slicing ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "per_child"), [("0-99,250,300-310", 7), ("3", 5), ("0-9", 3), ("1,3,5,7,9,11", 2), ("", 4)]
)
def test_children_render_every_selected_index_exactly_once(text, per_child):
    chosen = parse(text, "v")
    size = sizing.array_size(chosen.count, per_child)
    slices = [list(sizing.child_range(c, per_child, 400, chosen)) for c in range(size)]
    flat = [i for piece in slices for i in piece]
    assert flat == list(chosen.indexes())  # each once, in order, none unselected
    assert all(0 < len(piece) <= per_child for piece in slices)
    assert list(sizing.child_range(None, per_child, 400, chosen)) == list(chosen.indexes())
    assert list(sizing.child_range(size, per_child, 400, chosen)) == []


def test_a_whole_run_slices_as_before():
    everything = Selection.everything(23)
    for child in range(3):
        assert sizing.child_range(child, 10, 23, everything) == sizing.child_range(child, 10, 23)
        assert isinstance(sizing.child_range(child, 10, 23, everything), range)


def test_a_plan_over_nothing_has_no_children():
    plan = sizing.nothing_selected()
    assert (plan.children, plan.array_size, plan.variants_per_child) == (0, 0, 1)
    assert sizing.nothing_selected(50).variants_per_child == 50


def test_catalog_entries_follow_a_sparse_slice(example_doc):
    catalog = Catalog(example_doc)
    entries = list(catalog.entries([0, 2, 3, 7]))
    assert [i for i, _, _ in entries] == [0, 2, 3, 7]
    full = {i: v["sku"] for i, _, v in catalog.entries(range(catalog.variant_count))}
    assert [v["sku"] for _, _, v in entries] == [full[i] for i in (0, 2, 3, 7)]


# ---- execution names ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "run_id", "attempt", "job"),
    [("run-1", "run-1", 1, "run-1"), ("run-1.r2", "run-1", 2, "run-1-r2"), ("a.r9999", "a", 9999, "a-r9999")],
)
def test_execution_names_carry_run_id_and_attempt(name, run_id, attempt, job):
    execution = parse_execution(name)
    assert (execution.run_id, execution.attempt, execution.job_name, execution.name) == (
        run_id,
        attempt,
        job,
        name,
    )


@pytest.mark.parametrize("name", ["run-1.r1", "run-1.r0", "run-1.r02", "run-1.2", "run.1.r2", "", ".r2", 7])
def test_other_execution_names_are_refused(name):
    with pytest.raises(ValueError, match="is neither a run id"):
        parse_execution(name)


# ---- ValidateInput -----------------------------------------------------------------------------------------


def _validate(validate, uri, execution="run-7", **execution_input):
    event = {"spec_uri": uri, "execution": execution, "execution_input": {"spec_uri": uri, **execution_input}}
    return validate(event, None)


def test_a_rerun_keeps_the_run_prefix_and_names_its_attempt(functions):
    s3, _, validate, _ = functions
    uri = put(s3, generated_spec(2, 5))
    result = _validate(validate, uri, "run-7.r3", variants="8,0-2", run_id="run-7")
    assert {k: result[k] for k in ("run_id", "attempt", "execution", "job_name", "output_uri")} == {
        "run_id": "run-7",
        "attempt": 3,
        "execution": "run-7.r3",
        "job_name": "run-7-r3",
        "output_uri": "s3://renders/run-7/",
    }
    assert (result["selection"], result["selected_count"], result["variant_count"]) == ("0-2,8", 4, 10)
    assert (result["children"], result["array_size"]) == (1, 1)


def test_variants_as_skus_and_a_partial_first_attempt(functions):
    s3, _, validate, _ = functions
    uri = put(s3, generated_spec(2, 5))  # SKUs P0000-V00000..P0001-V00004
    result = _validate(validate, uri, variants=["P0001-V00004", "P0000-V00001", "P0000-V00002"])
    assert (result["attempt"], result["selection"], result["selected_count"]) == (1, "1-2,9", 3)


def test_nothing_selected_plans_no_children(functions):
    s3, _, validate, _ = functions
    uri = put(s3, generated_spec(1, 3))
    for nothing in ("", []):
        result = _validate(validate, uri, "run-7.r2", variants=nothing)
        assert (result["selection"], result["selected_count"], result["array_size"]) == ("", 0, 0)


@pytest.mark.parametrize(
    ("execution", "execution_input", "message"),
    [
        ("run-7", {"variants": "5-3"}, "the execution input's variants: '5-3' is reversed"),
        ("run-7", {"variants": "0-5,5"}, "the execution input's variants: '0-5' and '5' overlap"),
        (
            "run-7",
            {"variants": "0-10"},
            "the execution input's variants: '0-10' is out of range: the spec has 10",
        ),
        ("run-7", {"variants": "x"}, "the execution input's variants: 'x' is not an index"),
        ("run-7", {"variants": 5}, "the execution input's variants 5 is neither a string"),
        ("run-7", {"variants": ["P0000-V00000", 3]}, "the execution input's variants[1] 3 is not a SKU"),
        ("run-7", {"variants": ["P0000-V00000"] * 2}, "variants lists SKU 'P0000-V00000' twice"),
        ("run-7", {"variants": ["nope", "P0000-V00000"]}, "names 1 SKU(s) the spec does not have: 'nope'"),
        ("run-7", {"spec_version_id": 3}, "the execution input's spec_version_id 3 is not an S3 version id"),
        (
            "run-7.r2",
            {"run_id": "run-7.r2"},
            "run_id 'run-7.r2' is not the run id 'run-7' of the execution name",
        ),
        ("run-7.r1", {}, "the execution name 'run-7.r1' is neither a run id"),
        ("run.7", {}, "the execution name 'run.7' is neither a run id"),
    ],
)
def test_validate_input_refuses_bad_rerun_inputs_naming_the_field(
    functions, execution, execution_input, message
):
    s3, _, validate, _ = functions
    uri = put(s3, generated_spec(2, 5))
    with pytest.raises(InvalidExecutionInput) as caught:
        _validate(validate, uri, execution, **execution_input)
    assert message in str(caught.value)


def test_too_many_scattered_skus_are_refused(functions):
    s3, _, validate, _ = functions
    uri = put(s3, generated_spec(1, 2 * MAX_RANGES + 2))
    every_other = [f"P0000-V{v:05d}" for v in range(0, 2 * MAX_RANGES + 2, 2)]
    with pytest.raises(
        InvalidExecutionInput, match=r"variants makes 1,001 ranges of flat indexes; at most 1,000"
    ):
        _validate(validate, uri, variants=every_other)


def test_a_rerun_reads_the_spec_version_it_names(functions):
    s3, _, validate, _ = functions
    s3.put_bucket_versioning(Bucket="specs", VersioningConfiguration={"Status": "Enabled"})
    uri = put(s3, generated_spec(1, 4))
    first = _validate(validate, uri)["spec_version_id"]
    put(s3, generated_spec(1, 6))  # overwritten after the first attempt
    rerun = _validate(validate, uri, "run-7.r2", spec_version_id=first)
    assert (rerun["spec_version_id"], rerun["variant_count"]) == (first, 4)
    with pytest.raises(
        SpecNotFound, match=r"^the execution input's spec_version_id: s3://specs/catalog\.json has no "
    ):
        _validate(validate, uri, "run-7.r2", spec_version_id="gone")


# ---- the worker --------------------------------------------------------------------------------------------


def _worker_env(tmp_path, **extra):
    return worker_env(tmp_path, UPLOAD_CONCURRENCY=2, **extra)


def _part(s3, key):
    return json.loads(s3.get_object(Bucket="renders", Key=f"run-1/{key}")["Body"].read())


def test_a_rerun_child_renders_its_slice_of_the_selection(cloud, tmp_path):
    s3, _ = cloud
    put(s3, generated_spec(2, 10))
    env = _worker_env(
        tmp_path,
        VARIANT_SELECTION="1,5-7,18",
        FARM_ATTEMPT=2,
        VARIANTS_PER_CHILD=2,
        AWS_BATCH_JOB_ARRAY_INDEX=1,
    )
    assert worker.run(env) == worker.EXIT_OK
    part = _part(s3, "_parts/r2/child-00001.json")
    assert (part["child"], part["attempt"], part["failed"]) == ("child-00001", 2, [])
    assert [(v["index"], v["sku"]) for v in part["variants"]] == [(6, "P0000-V00006"), (7, "P0000-V00007")]
    listed = s3.list_objects_v2(Bucket="renders", Prefix="run-1/")["Contents"]
    assert sorted(o["Key"] for o in listed if o["Key"].endswith(".svg")) == [
        "run-1/tee-classic-0000/P0000-V00006.svg",
        "run-1/tee-classic-0000/P0000-V00007.svg",
    ]
    assert (tmp_path / "scratch/run-1.r2/progress/child-00001.done").is_file()  # the attempt's own scratch
    assert not (tmp_path / "scratch/run-1").exists()


def test_a_selection_past_the_spec_fails_the_child(cloud, tmp_path):
    s3, _ = cloud
    put(s3, generated_spec(1, 3))
    assert worker.run(_worker_env(tmp_path, VARIANT_SELECTION="0-3")) == worker.EXIT_FAILED
    assert worker.run(_worker_env(tmp_path, VARIANT_SELECTION="3-0")) == worker.EXIT_FAILED


def test_failonce_fails_on_attempt_1_only_and_the_rest_is_recorded(cloud, tmp_path):
    s3, _ = cloud
    doc = generated_spec(1, 6)
    doc["products"][0]["variants"][4]["sku"] = "FAILONCE-4"
    put(s3, doc)
    hooks = {"FARM_TEST_HOOKS": 1}
    assert worker.run(_worker_env(tmp_path, **hooks)) == worker.EXIT_FAILED
    assert worker.run(_worker_env(tmp_path, **hooks)) == worker.EXIT_FAILED  # a Batch retry: same attempt
    first = _part(s3, "_parts/plain.json")
    assert ([v["index"] for v in first["variants"]], first["failed"]) == ([0, 1, 2, 3, 5], [4])
    assert worker.run(_worker_env(tmp_path, VARIANT_SELECTION="4", FARM_ATTEMPT=2, **hooks)) == worker.EXIT_OK
    assert [v["sku"] for v in _part(s3, "_parts/r2/plain.json")["variants"]] == ["FAILONCE-4"]


# ---- PublishResults over attempts --------------------------------------------------------------------------


def _render(s3, key_id, tmp_path, result):
    children = [None] if result["array_size"] == 1 else range(result["array_size"])
    for child in children:
        env = _worker_env(
            tmp_path,
            SPEC_VERSION_ID=result["spec_version_id"],
            RUN_ID=result["run_id"],
            OUTPUT_URI=result["output_uri"],
            VARIANTS_PER_CHILD=result["variants_per_child"],
            VARIANT_SELECTION=result["selection"],
            FARM_ATTEMPT=result["attempt"],
            OUTPUT_KMS_KEY_ID=key_id,
            FARM_TEST_HOOKS=1,
        )
        if child is not None:
            env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(child)
        worker.run(env)


def test_a_rerun_of_the_missing_variants_publishes_the_whole_run(functions, tmp_path):
    s3, key_id, validate, publish = functions
    doc = generated_spec(3, 4, variants_per_child=5)  # 12 variants, children of 5
    doc["products"][1]["variants"][2]["sku"] = "FAILONCE-6"
    doc["products"][2]["variants"][3]["sku"] = "FAILONCE-11"
    uri = put(s3, doc)
    first = _validate(validate, uri, "run-9")
    _render(s3, key_id, tmp_path, first)  # children 1 and 2 fail on their FAILONCE- variant
    with pytest.raises(RenderIncomplete) as caught:
        publish(first, None)
    assert "run-9/mug-enamel-0001/FAILONCE-6.svg" in str(caught.value)

    # What a client computes from the spec and the stored objects: exactly the FAILONCE- variants.
    listing = list_sizes(s3, "renders", "run-9/")
    found = parts.load(s3, "renders", "run-9/", listing)
    missing = parts.unrendered(Catalog(doc), "run-9/", listing, parts.latest(found))
    assert Selection.of(missing).text == "6,11"

    rerun = _validate(validate, uri, "run-9.r2", variants="6,11", spec_version_id=first["spec_version_id"])
    assert (rerun["selected_count"], rerun["array_size"]) == (2, 1)
    _render(s3, key_id, tmp_path, rerun)
    message = publish(rerun, None)
    schemas.validator("notification").validate(message)
    assert (message["attempt"], message["rendered"], message["variant_count"]) == (2, 2, 12)
    manifest = json.loads(s3.get_object(Bucket="renders", Key="run-9/manifest.json")["Body"].read())
    schemas.validator("manifest").validate(manifest)
    assert [v["index"] for v in manifest["variants"]] == list(range(12))
    assert manifest["attempts"] == [
        {"attempt": 1, "execution": "run-9", "rendered": 10},
        {"attempt": 2, "execution": "run-9.r2", "rendered": 2},
    ]
    # Who rendered a SKU: the latest attempt's part record that lists it.
    winners = parts.latest(parts.load(s3, "renders", "run-9/", list_sizes(s3, "renders", "run-9/")))
    assert (winners[6].attempt, winners[6].child, winners[6].part_key) == (
        2,
        "plain",
        "run-9/_parts/r2/plain.json",
    )
    assert (winners[0].attempt, winners[0].child) == (1, "child-00000")

    # A third attempt re-rendering a variant: its record wins; nothing selected publishes at once.
    third = _validate(validate, uri, "run-9.r3", variants="0", spec_version_id=first["spec_version_id"])
    _render(s3, key_id, tmp_path, third)
    assert publish(third, None)["rendered"] == 1
    winners = parts.latest(parts.load(s3, "renders", "run-9/", list_sizes(s3, "renders", "run-9/")))
    assert winners[0].attempt == 3
    fourth = _validate(validate, uri, "run-9.r4", variants="", spec_version_id=first["spec_version_id"])
    assert fourth["array_size"] == 0
    message = publish(fourth, None)
    assert (message["attempt"], message["rendered"]) == (4, 0)
    manifest = json.loads(s3.get_object(Bucket="renders", Key="run-9/manifest.json")["Body"].read())
    assert [a["attempt"] for a in manifest["attempts"]] == [1, 2, 3, 4]


def test_publish_names_a_variant_no_attempt_rendered(functions, tmp_path):
    s3, key_id, validate, publish = functions
    doc = generated_spec(2, 3)
    doc["products"][1]["variants"][0]["sku"] = "FAILONCE-3"
    uri = put(s3, doc)
    first = _validate(validate, uri, "run-5")
    _render(s3, key_id, tmp_path, first)
    rerun = _validate(validate, uri, "run-5.r2", variants="0")  # the wrong variant
    _render(s3, key_id, tmp_path, rerun)
    with pytest.raises(RenderIncomplete) as caught:
        publish(rerun, None)
    assert str(caught.value).splitlines() == [
        "1 expected object(s) missing:",
        "run-5/mug-enamel-0001/FAILONCE-3.svg",
    ]
    # A rerun's own absent part record is named by its key.
    s3.delete_object(Bucket="renders", Key="run-5/_parts/r2/plain.json")
    with pytest.raises(RenderIncomplete, match=re.escape("run-5/_parts/r2/plain.json")):
        publish(rerun, None)


def test_part_keys_name_their_attempt():
    assert parts.part_key("child-00003") == "_parts/child-00003.json"
    assert parts.part_key("plain", 2) == "_parts/r2/plain.json"
    assert parts.parse_part_key("_parts/r12/child-00003.json") == (12, "child-00003")
    assert parts.parse_part_key("_parts/plain.json") == (1, "plain")
    for other in ("_parts/r1/plain.json", "_parts/r2/x.json", "a/b.svg", "_parts/r02/plain.json"):
        assert parts.parse_part_key(other) is None
    keys = ["p/_parts/r3/plain.json", "p/_parts/child-00001.json", "p/_parts/r2/child-00000.json", "p/x.svg"]
    assert [f[:2] for f in parts.find(keys, "p/")] == [(1, "child-00001"), (2, "child-00000"), (3, "plain")]
    assert [f[:2] for f in parts.find(keys, "p/", up_to=2)] == [(1, "child-00001"), (2, "child-00000")]
    assert Execution("r", 5).name == "r.r5"
