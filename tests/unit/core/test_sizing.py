"""Flat order, sizing and slicing (docs/contracts.md)."""

from __future__ import annotations

import re

import pytest

from render_worker import sizing
from render_worker.spec import Catalog

from .conftest import generated_spec

# The env roots' defaults (envs/local/variables.tf, envs/aws/variables.tf) with the parallelism their compute
# environments give: 2 x floor(1 / 1) locally, 2 x floor(256 / 2) on aws.
LOCAL = sizing.SizingModel(
    child_variants_per_s=200, child_start_s=0.5, storage_puts_per_s=250, max_parallel_children=2
)
AWS = sizing.SizingModel(
    child_variants_per_s=320, child_start_s=45, storage_puts_per_s=3500, max_parallel_children=256
)
ENV = {
    "SIZING_CHILD_VARIANTS_PER_S": "200",
    "SIZING_CHILD_START_S": "0.5",
    "SIZING_STORAGE_PUTS_PER_S": "250",
    "SIZING_MAX_PARALLEL_CHILDREN": "2",
}


def test_predicted_wall_time_is_one_start_up_plus_the_variants_at_the_slower_of_children_and_storage():
    assert sizing.predicted_wall_s(1000, 1, LOCAL) == 0.5 + 1000 / 200
    assert sizing.predicted_wall_s(1000, 2, LOCAL) == 0.5 + 1000 / 250  # 2 x 200/s > the 250/s ceiling
    assert sizing.predicted_wall_s(10_000, 5, AWS) == 45 + 10_000 / 1600
    # More children than run at once (only an override gets there): waves of start-ups, P children's rate.
    assert sizing.predicted_wall_s(1000, 5, LOCAL) == 3 * 0.5 + 1000 / 250
    assert sizing.predicted_wall_s(1000, 5, sizing.SizingModel(10, 1, 1000, 2)) == 3 * 1 + 1000 / 20
    with pytest.raises(ValueError, match="children 0 is not at least 1"):
        sizing.predicted_wall_s(10, 0, LOCAL)


@pytest.mark.parametrize(
    ("model", "variants", "children", "per_child", "wall", "basis"),
    [
        (LOCAL, 1, 1, 1, 0.505, "1 child: one per variant"),
        (LOCAL, 1_000, 2, 500, 4.5, "2 children: S3 ceiling 250/s reached at 2 x 200/s"),
        (LOCAL, 10_000, 2, 5_000, 40.5, "2 children: S3 ceiling 250/s reached at 2 x 200/s"),
        (LOCAL, 100_000, 2, 50_000, 400.5, "2 children: S3 ceiling 250/s reached at 2 x 200/s"),
        (AWS, 1, 1, 1, 45.003, "1 child: one per variant"),
        (
            AWS, 1_000, 1, 1_000, 48.125,
            "1 child: 48.1 s at 1 x 320/s is within 10% of the best 45.3 s (the S3 ceiling 3500/s, from 11 "
            "children); more would each pay a 45 s start-up for less",
        ),
        (
            AWS, 10_000, 5, 2_000, 51.25,
            "5 children: 51.2 s at 5 x 320/s is within 10% of the best 47.9 s (the S3 ceiling 3500/s, "
            "from 11 children); more would each pay a 45 s start-up for less",
        ),
        (
            AWS, 100_000, 9, 11_112, 79.722,
            "9 children: 79.7 s at 9 x 320/s is within 10% of the best 73.6 s (the S3 ceiling 3500/s, "
            "from 11 children); more would each pay a 45 s start-up for less",
        ),
        (
            AWS, 1_000_000, 10, 100_000, 357.5,
            "10 children: 357.5 s at 10 x 320/s is within 10% of the best 330.7 s (the S3 ceiling "
            "3500/s, from 11 children); more would each pay a 45 s start-up for less",
        ),
    ],
)  # fmt: skip
def test_plan_takes_the_fewest_children_within_ten_percent_of_the_best(
    model, variants, children, per_child, wall, basis
):
    chosen = sizing.plan(variants, model)
    assert chosen == sizing.Plan(children, per_child, children, wall, basis)
    assert chosen.array_size == sizing.array_size(variants, per_child)
    best = min(sizing.predicted_wall_s(variants, c, model) for c in range(1, model.max_parallel_children + 1))
    assert chosen.predicted_wall_s <= best * 1.1 + 1e-3
    if children > 1:  # one child fewer would miss the 10%
        assert sizing.predicted_wall_s(variants, children - 1, model) > best * 1.1
    assert chosen.as_dict() == {
        "children": children,
        "variants_per_child": per_child,
        "array_size": children,
        "predicted_wall_s": wall,
        "basis": basis,
    }


def test_plan_without_a_ceiling_in_reach_runs_every_child_the_environments_allow():
    model = sizing.SizingModel(
        child_variants_per_s=1, child_start_s=0, storage_puts_per_s=1e6, max_parallel_children=10
    )
    chosen = sizing.plan(300, model)
    assert (chosen.children, chosen.variants_per_child, chosen.predicted_wall_s) == (10, 30, 30.0)
    assert chosen.basis == (
        "10 children: as many as the compute environments run at once "
        "(10 x 1/s, below the S3 ceiling 1e+06/s)"
    )
    # Fewer variants than children allowed: one per variant.
    assert sizing.plan(4, model).as_dict() | {"basis": ""} == {
        "children": 4, "variants_per_child": 1, "array_size": 4, "predicted_wall_s": 1.0, "basis": ""
    }  # fmt: skip


def test_plan_keeps_the_array_within_the_batch_limit():
    huge = sizing.SizingModel(
        child_variants_per_s=1, child_start_s=0, storage_puts_per_s=1e9, max_parallel_children=50_000
    )
    chosen = sizing.plan(1_000_000, huge)
    # The best is AWS Batch's limit of 10,000 children; 9,091 of 110 are within 10% of it.
    assert (chosen.children, chosen.variants_per_child, chosen.predicted_wall_s) == (9_091, 110, 109.999)
    assert "within 10% of the best 100.0 s (10000 children at once)" in chosen.basis
    assert sizing.plan(10_000_000 // 100, huge, override=None).children <= sizing.MAX_ARRAY_SIZE
    flat = sizing.SizingModel(
        child_variants_per_s=1, child_start_s=0, storage_puts_per_s=1e9, max_parallel_children=10_000
    )
    capped = sizing.plan(10_000_000, flat)
    assert (
        capped.children <= sizing.MAX_ARRAY_SIZE
        and capped.array_size * capped.variants_per_child >= 10_000_000
    )


def test_plan_rounds_children_to_equal_slices():
    # 10 variants on at most 6 children: 2 per child makes 5 children (a sixth would have nothing to do).
    model = sizing.SizingModel(
        child_variants_per_s=1, child_start_s=0, storage_puts_per_s=1e6, max_parallel_children=6
    )
    chosen = sizing.plan(10, model)
    assert (chosen.children, chosen.variants_per_child, chosen.array_size) == (5, 2, 5)
    covered = [
        i for c in range(chosen.array_size) for i in sizing.child_range(c, chosen.variants_per_child, 10)
    ]
    assert covered == list(range(10))


def test_the_spec_override_wins_and_the_model_predicts_its_wall_time():
    chosen = sizing.plan(10_000, LOCAL, override=100)  # the old default: 100 children on 2 slots
    assert (chosen.children, chosen.variants_per_child, chosen.array_size) == (100, 100, 100)
    assert chosen.predicted_wall_s == 50 * 0.5 + 10_000 / 250
    assert (
        chosen.basis == "100 children: the spec's override of 100 per child, in 50 waves of at most 2 at once"
    )
    one = sizing.plan(10_000, AWS, override=5_000)
    assert (one.children, one.predicted_wall_s) == (2, 45 + 10_000 / 640)
    assert one.basis == "2 children: the spec's override of 5000 per child"
    assert sizing.plan(8, AWS, override=100).array_size == 1  # one child's worth: a plain job
    with pytest.raises(ValueError, match="variants_per_child override 0 is not at least 1"):
        sizing.plan(8, AWS, override=0)
    with pytest.raises(ValueError, match="variant_count 0 is not at least 1"):
        sizing.plan(0, AWS)


def test_model_from_env():
    assert sizing.SizingModel.from_env(ENV) == LOCAL
    assert (
        sizing.SizingModel.from_env({**ENV, "SIZING_MAX_PARALLEL_CHILDREN": "256.0"}).max_parallel_children
        == 256
    )
    assert sizing.SizingModel.from_env({**ENV, "SIZING_CHILD_START_S": "0"}).child_start_s == 0
    assert LOCAL.as_dict() == {
        "child_variants_per_s": 200,
        "child_start_s": 0.5,
        "storage_puts_per_s": 250,
        "max_parallel_children": 2,
    }


@pytest.mark.parametrize(
    ("variable", "value", "message"),
    [
        ("SIZING_CHILD_VARIANTS_PER_S", None, "SIZING_CHILD_VARIANTS_PER_S is not set"),
        ("SIZING_CHILD_START_S", " ", "SIZING_CHILD_START_S is not set"),
        ("SIZING_STORAGE_PUTS_PER_S", "lots", "SIZING_STORAGE_PUTS_PER_S='lots' is not a number"),
        ("SIZING_CHILD_VARIANTS_PER_S", "0", "SIZING_CHILD_VARIANTS_PER_S=0.0 is not a finite number > 0"),
        ("SIZING_CHILD_VARIANTS_PER_S", "nan", "SIZING_CHILD_VARIANTS_PER_S=nan is not a finite number > 0"),
        ("SIZING_STORAGE_PUTS_PER_S", "inf", "SIZING_STORAGE_PUTS_PER_S=inf is not a finite number > 0"),
        ("SIZING_CHILD_START_S", "-1", "SIZING_CHILD_START_S=-1.0 is not a finite number >= 0"),
        ("SIZING_MAX_PARALLEL_CHILDREN", "0", "SIZING_MAX_PARALLEL_CHILDREN=0.0 is not an integer >= 1"),
        ("SIZING_MAX_PARALLEL_CHILDREN", "2.5", "SIZING_MAX_PARALLEL_CHILDREN=2.5 is not an integer >= 1"),
    ],
)
def test_model_from_env_names_the_bad_variable(variable, value, message):
    env = {k: v for k, v in ENV.items() if k != variable}
    if value is not None:
        env[variable] = value
    with pytest.raises(ValueError, match=f"^{re.escape(message)}"):
        sizing.SizingModel.from_env(env)


def test_model_refuses_bad_fields_by_name():
    with pytest.raises(ValueError, match=r"^child_start_s=-1 is not a finite number >= 0"):
        sizing.SizingModel(
            child_variants_per_s=1, child_start_s=-1, storage_puts_per_s=1, max_parallel_children=1
        )
    with pytest.raises(ValueError, match=r"^max_parallel_children=True is not an integer >= 1"):
        sizing.SizingModel(
            child_variants_per_s=1, child_start_s=0, storage_puts_per_s=1, max_parallel_children=True
        )


def test_the_stack_output_gives_the_model():
    from farm.stack import Stack

    outputs = {"sizing": {**{k: v for k, v in LOCAL.as_dict().items()}, "max_parallel_children": 2.0}}
    assert Stack(env="local", outputs=outputs).sizing_model() == LOCAL


def test_without_a_plan_the_worker_slices_by_the_override_or_the_fallback():
    # A job submitted straight to Batch carries no VARIANTS_PER_CHILD: the worker's fallback slicing.
    assert sizing.variants_per_child(8) == sizing.FALLBACK_VARIANTS_PER_CHILD == 100
    assert sizing.variants_per_child(1000, override=7) == 7
    assert (
        sizing.variants_per_child(100_000, default=1) == 10
    )  # ceil(n / 10,000) keeps the array within 10,000
    assert sizing.array_size(1000, 7) == 143
    assert (
        sizing.array_size(100_000, 9) == 11_112
    )  # > MAX_ARRAY_SIZE: spec validation refuses such an override


@pytest.mark.parametrize(
    ("index", "per_child", "n", "expected"),
    [
        (0, 10, 35, range(0, 10)),  # first
        (1, 10, 35, range(10, 20)),  # middle
        (3, 10, 35, range(30, 35)),  # last, short
        (4, 10, 35, range(35, 35)),  # past the end: nothing
        (0, 100, 8, range(0, 8)),  # single short child
        (None, 10, 35, range(0, 35)),  # plain job renders everything
        (9_999, 10, 100_000, range(99_990, 100_000)),
    ],
)
def test_child_ranges(index, per_child, n, expected):
    assert sizing.child_range(index, per_child, n) == expected


def test_children_cover_the_flat_order_exactly_once():
    n, k = 1234, 100
    covered = [i for c in range(sizing.array_size(n, k)) for i in sizing.child_range(c, k, n)]
    assert covered == list(range(n))


def test_child_names():
    assert sizing.child_name(None) == "plain"
    assert sizing.child_name(0) == "child-00000"
    assert sizing.child_name(9999) == "child-09999"
    with pytest.raises(ValueError):
        sizing.child_range(-1, 10, 10)


def test_flat_order_is_products_then_variants(example_doc):
    catalog = Catalog(example_doc)
    order = [(p["product_id"], v["sku"]) for _, p, v in catalog.entries(range(catalog.variant_count))]
    expected = [(p["product_id"], v["sku"]) for p in example_doc["products"] for v in p["variants"]]
    assert order == expected
    assert catalog.locate(4) == (1, 0)
    assert [f for f, _, _ in catalog.entries(range(3, 7))] == [3, 4, 5, 6]
    assert [v["sku"] for _, _, v in catalog.entries(range(5, 7))] == ["MUG-EN-SAND", "SOCK-MW-CHAR"]
    with pytest.raises(IndexError):
        catalog.locate(8)


def test_entries_cross_many_products():
    catalog = Catalog(generated_spec(7, 3))
    skus = [v["sku"] for _, _, v in catalog.entries(range(2, 11))]
    assert skus[0] == "P0000-V00002" and skus[1] == "P0001-V00000" and skus[-1] == "P0003-V00001"
