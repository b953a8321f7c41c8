"""Flat order, sizing and slicing (docs/contracts.md)."""

from __future__ import annotations

import pytest

from render_worker import sizing
from render_worker.spec import Catalog

from .conftest import generated_spec


def test_default_sizing_uses_the_default_until_the_array_limit_forces_more():
    assert sizing.variants_per_child(8) == 100
    assert sizing.array_size(8, 100) == 1
    assert sizing.variants_per_child(1_000_000 // 10) == 100  # 100,000 / 10,000 = 10 < 100
    assert sizing.variants_per_child(100_000, default=1) == 10  # ceil(n / 10,000) wins over a small default
    assert sizing.variants_per_child(99_999, default=1) == 10
    assert sizing.array_size(100_000, 10) == 10_000
    assert sizing.variants_per_child(30, default=1) == 1  # one child per variant


def test_override_wins_and_may_break_the_cap_only_to_be_refused_elsewhere():
    assert sizing.variants_per_child(1000, override=7) == 7
    assert sizing.array_size(1000, 7) == 143
    assert sizing.array_size(100_000, 9) == 11_112  # > MAX_ARRAY_SIZE: spec validation refuses it


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
