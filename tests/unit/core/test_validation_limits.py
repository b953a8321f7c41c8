"""Validation is bounded: sizes and counts are checked before what they would cost, only the first 100
problems are listed (the rest counted), and every message stays short whatever the spec holds."""

from __future__ import annotations

import copy
import gc
import json
import sys
import weakref

import pytest

from render_worker import keywords, prescan, spec
from render_worker.errors import MAX_LINE, SpecInvalid, SpecTooLarge

from .conftest import generated_spec


def _lines(doc) -> list[str]:
    return [str(p) for p in spec.problems_of(doc)]


def _broken_colors(count: int) -> dict:
    doc = generated_spec(1, count)
    for variant in doc["products"][0]["variants"]:
        variant["color"] = "nope"
    return doc


def test_the_first_100_problems_are_listed_and_the_others_counted():
    with pytest.raises(SpecInvalid) as caught:
        spec.load_catalog(json.dumps(_broken_colors(250)).encode())
    invalid = caught.value
    assert len(invalid.problems) == 100 and (invalid.more, invalid.more_exact) == (150, True)
    assert invalid.problems[-1].pointer == "/products/0/variants/99/color"
    assert invalid.report().splitlines()[-1] == "... and 150 more problems"
    assert len(str(invalid).splitlines()) == 21  # the Lambda's message: 20 lines and the count
    assert str(invalid).splitlines()[-1] == "... and 230 more problems"


def test_past_max_counted_the_count_is_a_lower_bound(monkeypatch):
    monkeypatch.setattr(spec, "MAX_COUNTED", 10)
    with pytest.raises(SpecInvalid) as caught:
        spec.check(_broken_colors(250))
    assert (caught.value.more, caught.value.more_exact) == (10, False)
    assert caught.value.report().splitlines()[-1] == "... and at least 10 more problems"


def test_one_more_problem_is_said_in_the_singular():
    with pytest.raises(SpecInvalid) as caught:
        spec.check(_broken_colors(101))
    assert caught.value.report().splitlines()[-1] == "... and 1 more problem"


def test_a_refused_document_is_freed_with_its_error(example_doc):
    """No reference cycle through the error keeps a refused document alive until a collection."""

    class Doc(dict):  # a dict that can be weakly referenced
        pass

    doc = Doc(example_doc, extra=1)
    alive = weakref.ref(doc)
    gc.disable()
    try:
        with pytest.raises(SpecInvalid):
            spec.check(doc)
        del doc
        assert alive() is None
    finally:
        gc.enable()


def test_too_many_products_are_refused_before_the_schema_walks_them(monkeypatch):
    monkeypatch.setattr(spec, "_schema_problems", None)  # never reached
    doc = {"schema_version": "1.0", "catalog_id": "c", "products": [{}] * 200_000}
    assert _lines(doc) == ["/products: has 200000 items; at most 10000 allowed"]


def test_too_many_variants_are_refused_per_product_and_in_total():
    doc = generated_spec(2, 1)
    doc["products"][1]["variants"] = [{}] * 100_001
    assert _lines(doc) == [
        "/products: 100002 variants in total; at most 100000 allowed",
        "/products/1/variants: has 100001 items; at most 100000 allowed",
    ]


def test_too_many_json_values_are_refused_before_parsing(example_path, monkeypatch):
    monkeypatch.setattr(spec, "MAX_JSON_ITEMS", 50)
    monkeypatch.setattr(spec, "parse", None)  # never reached
    with pytest.raises(SpecInvalid, match=r"^/: more than 50 JSON values and keys"):
        spec.load_catalog(example_path.read_bytes())


def test_a_spec_too_large_once_decoded_is_refused_before_decoding(monkeypatch):
    monkeypatch.setattr(spec, "parse", None)  # never reached
    data = json.dumps({"catalog_id": "\U0001f600" + "a" * 20_000_000}, ensure_ascii=False).encode()
    with pytest.raises(
        SpecTooLarge, match=r"^decoded, the spec takes 80,000,0\d\d bytes, more than 67,108,864"
    ):
        spec.load_catalog(data)
    escaped = json.dumps({"catalog_id": "\U0001f600" + "a" * 20_000_000}).encode()  # what the message advises
    assert prescan.decoded_size(escaped) == len(escaped)


@pytest.mark.parametrize(
    "doc",
    [
        {"a": [1, 2.5, None, True, "x"], "b": {"c": {"d": []}}},
        {'tricky, "quoted" [keys]: {}': "values, with: [brackets] and {braces}", "\\": '\\"', "e": {}},
        [[], [[]], {}, {"": ""}],
        "just a string, with: commas",
    ],
)
def test_json_items_counts_the_values_and_keys_json_loads_builds(doc):
    def items(node) -> int:
        if isinstance(node, dict):
            return 1 + sum(1 + items(v) for v in node.values()) + (not node)
        if isinstance(node, list):
            return 1 + sum(map(items, node)) + (not node)
        return 1

    for data in (json.dumps(doc).encode(), json.dumps(doc, indent=2, ensure_ascii=False).encode()):
        assert prescan.json_items(data, stop_after=10**6) == items(doc)


def test_json_items_stops_counting_past_the_bound():
    data = b"[" + b"0," * 5_000_000 + b"0]"
    assert 1_000_000 < prescan.json_items(data, stop_after=1_000_000) < 2_000_000


@pytest.mark.parametrize(
    "text", ["plain ascii", "caf\u00e9 cr\u00e8me", "\u05e9\u05dc\u05d5\u05dd ok", "tee \U0001f455 ok"]
)
def test_decoded_size_is_what_the_str_takes(text):
    width = 4 if max(text) > "\uffff" else 2 if max(text) > "\xff" else 1
    assert prescan.decoded_size(text.encode()) == len(text) * width
    assert 0 < sys.getsizeof(text) - len(text) * width < 100  # what CPython takes, less its header


def test_messages_quote_at_most_a_few_dozen_characters_of_a_huge_value(example_doc):
    doc = copy.deepcopy(example_doc)
    doc["products"] = {"k": list(range(1_000_000))}
    doc["catalog_id"] = "x" * 1_000_000 + "\n"
    doc["locale"] = ["en"] * 1_000_000
    for line in _lines(doc):
        assert len(line) < 200, line[:300]


def test_a_problem_line_stays_short_even_for_a_huge_key(example_doc):
    doc = copy.deepcopy(example_doc)
    doc["k" * 1_000_000] = 1
    (line,) = _lines(doc)
    assert len(line) == MAX_LINE and line.startswith("/kkk") and line.endswith("...")


def test_the_stand_ins_are_valid():
    validator = keywords.catalog_validator()
    schema = validator.schema
    assert validator.evolve(schema=schema["$defs"]["variant"]).is_valid(spec._VARIANT)
    assert validator.evolve(schema=schema["$defs"]["product"]).is_valid(spec._PRODUCT)
