"""The catalog schema and the rules checked in code: accepted and refused specs, with precise pointers."""

from __future__ import annotations

import copy
import json

import pytest
from jsonschema import Draft202012Validator

from render_worker import schemas, spec
from render_worker.errors import SpecInvalid
from render_worker.fastcheck import compile_check
from render_worker.money import CURRENCIES

from .conftest import generated_spec, schema_nodes


def problems(doc) -> list[str]:
    return [str(p) for p in spec.problems_of(doc)]


def test_schemas_are_valid_2020_12_and_found_by_name():
    for name in ("catalog", "manifest", "notification"):
        schema = schemas.load(name)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        Draft202012Validator.check_schema(schema)
    assert schemas.path_of("catalog").name == "catalog.schema.json"


def test_every_string_array_number_and_object_is_limited():
    unlimited = []
    for where, node in schema_nodes(schemas.load("catalog")):
        kind = node.get("type")
        if kind == "string" and not ("maxLength" in node or "pattern" in node):
            unlimited.append(where)
        if kind == "array" and "maxItems" not in node:
            unlimited.append(where)
        if kind == "integer" and not ("maximum" in node and "minimum" in node):
            unlimited.append(where)
        if kind == "object" and node.get("additionalProperties") is not False:
            unlimited.append(where)
    assert unlimited == []


def test_currency_enum_is_the_formatting_table():
    schema = schemas.load("catalog")
    enum = schema["$defs"]["price"]["properties"]["currency"]["enum"]
    assert tuple(enum) == CURRENCIES
    assert {"USD", "EUR", "GBP", "JPY", "KWD"} <= set(enum) and "XXX" not in enum


def test_example_is_valid(example_doc):
    assert problems(example_doc) == []


def test_any_unicode_display_text_is_accepted(example_doc):
    doc = copy.deepcopy(example_doc)
    doc["products"][0]["name"] = "Tee <b>&amp;</b> \"quoted\" 'single' 👕🏽 👩‍👩‍👧‍👦"
    doc["products"][0]["tagline"] = "قميص كلاسيكي من القطن العضوي"
    doc["products"][1]["name"] = "חולצה קלאסית"
    doc["products"][2]["variants"][0]["color_name"] = "木炭 グレー"
    doc["products"][2]["variants"][0]["badge"] = "🔥 -50%"
    assert problems(doc) == []


def _set(path, value):
    def mutate(doc):
        node = doc
        for part in path[:-1]:
            node = node[part]
        if value is _DELETE:
            del node[path[-1]]
        else:
            node[path[-1]] = value

    return mutate


_DELETE = object()
V3 = ("products", 0, "variants", 3)

REFUSED = [
    (_set((*V3, "color"), "red"), "/products/0/variants/3/color: 'red' is not a colour as #RRGGBB"),
    (_set((*V3, "color"), "#12345G"), "/products/0/variants/3/color: '#12345G' is not a colour"),
    (_set((*V3, "sku"), "../etc"), "/products/0/variants/3/sku: '../etc' is not an identifier safe"),
    (_set((*V3, "sku"), "a/b"), "/products/0/variants/3/sku: 'a/b' is not an identifier safe"),
    (_set((*V3, "sku"), ".hidden"), "/products/0/variants/3/sku: '.hidden' is not an identifier safe"),
    (_set((*V3, "sku"), "x.."), "/products/0/variants/3/sku: 'x..' is not an identifier safe"),
    (_set((*V3, "sku"), "trailing."), "/products/0/variants/3/sku: 'trailing.' is not an identifier safe"),
    (_set((*V3, "sku"), ""), "/products/0/variants/3/sku: '' is not an identifier safe"),
    (_set((*V3, "sku"), "S" * 65), "/products/0/variants/3/sku: has 65 characters; at most 64 allowed"),
    (
        _set((*V3, "sku"), "TEE-CL-RED-M"),
        "/products/0/variants/3/sku: duplicate SKU (first at /products/0/variants/0/sku)",
    ),
    (_set((*V3, "sku"), "tee-cl-red-m"), "/products/0/variants/3/sku: duplicate SKU"),
    (_set((*V3, "sku"), _DELETE), "/products/0/variants/3/sku: required property is missing"),
    (
        _set((*V3, "shade"), 1),
        "/products/0/variants/3/shade: unexpected property (allowed: badge, color, color_name",
    ),
    (_set((*V3, "badge"), "B" * 25), "/products/0/variants/3/badge: has 25 characters; at most 24 allowed"),
    (_set((*V3, "badge"), ""), "/products/0/variants/3/badge: has 0 characters; at least 1 allowed"),
    (
        _set((*V3, "color_name"), "Navy\u0000"),
        "/products/0/variants/3/color_name: 'Navy\\x00' is not text without control",
    ),
    (
        _set((*V3, "color_name"), "a\nb"),
        "/products/0/variants/3/color_name: 'a\\nb' is not text without control",
    ),
    (
        _set((*V3, "color_name"), "\ud800"),
        "/products/0/variants/3/color_name: '\\ud800' is not text without control",
    ),
    (
        _set((*V3, "price", "amount"), 17.99),
        "/products/0/variants/3/price/amount: 17.99 is not of type string",
    ),
    (
        _set((*V3, "price", "amount"), "1e3"),
        "/products/0/variants/3/price/amount: '1e3' is not a non-negative decimal",
    ),
    (
        _set((*V3, "price", "amount"), "017.99"),
        "/products/0/variants/3/price/amount: '017.99' is not a non-negative",
    ),
    (
        _set((*V3, "price", "amount"), "17.9999"),
        "/products/0/variants/3/price/amount: '17.9999' is not a non-negative",
    ),
    (
        _set((*V3, "price", "currency"), "usd"),
        "/products/0/variants/3/price/currency: 'usd' is not an ISO 4217 currency code",
    ),
    (
        _set((*V3, "price", "currency"), "XYZ"),
        "/products/0/variants/3/price/currency: 'XYZ' is not an ISO 4217",
    ),
    (
        _set(("products", 0, "price"), {"amount": "1500.5", "currency": "JPY"}),
        "/products/0/price/amount: '1500.5' has 1 decimal(s); JPY has 0",
    ),
    (
        _set(("products", 0, "price"), {"amount": "1.2345", "currency": "KWD"}),
        "/products/0/price/amount: '1.2345' is not a non-negative",
    ),
    (
        _set(("products", 0, "template"), "poster"),
        "/products/0/template: 'poster' is not one of card, banner, swatch",
    ),
    (_set(("products", 0, "product_id"), "a..b"), "/products/0/product_id: 'a..b' is not an identifier safe"),
    (
        _set(("products", 1, "product_id"), "TEE-CLASSIC"),
        "/products/1/product_id: duplicate product_id (first at /products/0)",
    ),
    (_set(("products", 0, "name"), "x" * 201), "/products/0/name: has 201 characters; at most 200 allowed"),
    (_set(("products", 0, "name"), _DELETE), "/products/0/name: required property is missing"),
    (_set(("products", 0, "variants"), []), "/products/0/variants: has 0 items; at least 1 allowed"),
    (
        _set(("products", 1, "canvas", "width"), 63),
        "/products/1/canvas/width: 63 is less than the minimum of 64",
    ),
    (
        _set(("products", 1, "canvas", "height"), 400.5),
        "/products/1/canvas/height: 400.5 is not of type integer",
    ),
    (
        _set(("products", 1, "canvas", "background"), "#FFF"),
        "/products/1/canvas/background: '#FFF' is not a colour",
    ),
    (
        _set(("defaults", "font_family"), "x'; src:url(http://evil/)"),
        '/defaults/font_family: "x\'; src:url(http://evil/)" is not a font family',
    ),
    (_set(("defaults", "template"), "CARD"), "/defaults/template: 'CARD' is not one of card, banner, swatch"),
    (_set(("locale",), "english"), "/locale: 'english' is not a BCP 47 language tag"),
    (_set(("schema_version",), "2.0"), "/schema_version: '2.0' must be '1.0'"),
    (_set(("catalog_id",), "spring/2026"), "/catalog_id: 'spring/2026' is not an identifier safe"),
    (_set(("products",), []), "/products: has 0 items; at least 1 allowed"),
    (_set(("products",), {}), "/products: {} is not of type array"),
    (
        _set(("options",), {"variants_per_child": 0}),
        "/options/variants_per_child: 0 is less than the minimum of 1",
    ),
    (
        _set(("options",), {"children": 3}),
        "/options/children: unexpected property (allowed: max_cost, variants_per_child)",
    ),
    (
        _set(("extra",), True),
        "/extra: unexpected property (allowed: catalog_id, defaults, locale, options, products",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), REFUSED, ids=[e.split(":")[0] + "|" + e[-20:] for _, e in REFUSED]
)
def test_refused_with_the_precise_pointer(example_doc, mutate, expected):
    doc = copy.deepcopy(example_doc)
    mutate(doc)
    found = problems(doc)
    assert any(line.startswith(expected) for line in found), found


def test_problems_are_sorted_in_document_order(example_doc):
    doc = copy.deepcopy(example_doc)
    doc["products"][2]["variants"][1]["color"] = "bad"
    doc["products"][0]["variants"][0]["color"] = "bad"
    doc["products"][0]["variants"][10:] = []
    pointers = [p.pointer for p in spec.problems_of(doc)]
    assert pointers == ["/products/0/variants/0/color", "/products/2/variants/1/color"]


def test_100000_variants_are_accepted_and_one_more_is_refused_at_products():
    doc = generated_spec(100, 1000)
    catalog = spec.load_catalog(json.dumps(doc).encode())
    assert catalog.variant_count == 100_000
    doc["products"][-1]["variants"].append({**doc["products"][-1]["variants"][0], "sku": "ONE-MORE"})
    assert problems(doc) == ["/products: 100001 variants in total; at most 100000 allowed"]


def test_an_override_that_needs_more_than_10000_children_is_refused():
    doc = generated_spec(1, 10_001, variants_per_child=1)
    assert problems(doc) == [
        "/options/variants_per_child: 1 per child makes 10001 children for 10001 variants; "
        "at most 10000 allowed (use >= 2)"
    ]
    assert problems(generated_spec(1, 10_001, variants_per_child=2)) == []


def test_parse_refuses_what_is_not_one_json_document():
    cases = {
        b"": "/: empty document",
        b"  \n": "/: empty document",
        b"\xff\xfe{": "/: not UTF-8 text (byte 0xff at offset 0)",
        b"{": "/: not valid JSON: Expecting property name enclosed in double quotes at line 1 column 2",
        b'{"a": NaN}': "/: not valid JSON: NaN is not a JSON number",
        b'{"a": 1, "a": 2}': "/: not valid JSON: duplicate key 'a' in one object",
        b"[" * 100_000: "/: not valid JSON: nested too deeply",
    }
    for data, expected in cases.items():
        with pytest.raises(SpecInvalid) as caught:
            spec.parse(data)
        assert str(caught.value).startswith(expected), (data[:10], str(caught.value))


def test_spec_invalid_message_lists_at_most_20_problems(example_doc):
    doc = generated_spec(1, 30)
    for variant in doc["products"][0]["variants"]:
        variant["color"] = "nope"
    with pytest.raises(SpecInvalid) as caught:
        spec.load_catalog(json.dumps(doc).encode())
    lines = str(caught.value).splitlines()
    assert len(caught.value.problems) == 30
    assert len(lines) == 21 and lines[-1] == "... and 10 more problems"
    assert lines[0].startswith("/products/0/variants/0/color: 'nope'")


def test_the_compiled_variant_check_agrees_with_the_schema(example_doc):
    schema = schemas.load("catalog")
    check = compile_check(schema["$defs"]["variant"], schema)
    validator = schemas.validator("catalog").evolve(schema=schema["$defs"]["variant"])
    good = example_doc["products"][0]["variants"][3]
    candidates = [good]
    for key, values in {
        "sku": ["", "a/b", "..", "A" * 64, "A" * 65, 5, None, "A1\n", "A1\r\n"],
        "color": ["#abcdef", "#ABCDEG", "abc", "#1234567", 1],
        "color_name": ["", "x" * 64, "x" * 65, "a\tb", "ok 👍", ["x"]],
        "size": ["M", "", "x" * 33],
        "badge": ["NEW", "x" * 25],
        "price": [
            {"amount": "1", "currency": "USD"},
            {"amount": "1"},
            {"amount": "1", "currency": "usd"},
            {},
        ],
        "extra": [1],
    }.items():
        for value in values:
            candidates.append({**good, key: value})
    for candidate in candidates:
        assert check(candidate) == validator.is_valid(candidate), candidate
    assert check(good)
    assert sum(map(check, candidates)) >= 8  # the shortcut does take the valid ones


def test_the_compiled_product_check_agrees_with_the_schema(example_doc):
    schema = schemas.load("catalog")
    check = compile_check(schema["$defs"]["product"], schema)
    validator = schemas.validator("catalog").evolve(schema=schema["$defs"]["product"])
    good = example_doc["products"][1]
    candidates = [
        {**good, "canvas": {**good["canvas"], "width": w}} for w in (400, 400.0, 400.5, 63, True, "400")
    ]
    candidates += [{**good, "variants": v} for v in ([], [{}], good["variants"] * 2, {"a": 1})]
    candidates += [{**good, "product_id": "mug-enamel\n"}, {**good, "tagline": "a\u2028b"}]
    assert [check(c) for c in candidates] == [validator.is_valid(c) for c in candidates]
    assert check(good) and not all(map(check, candidates))


def test_the_packaged_copy_is_found_first_as_in_a_lambda_zip_or_the_image(tmp_path, example_path):
    """Lay the package out as the zip and the Dockerfile do (schemas inside render_worker/schemas/), away from
    the repository, and run the worker on the example from there."""
    import shutil
    import subprocess
    import sys

    from .conftest import ROOT

    shutil.copytree(ROOT / "worker" / "render_worker", tmp_path / "app" / "render_worker")
    for schema in (ROOT / "schemas").glob("*.schema.json"):
        shutil.copy(schema, tmp_path / "app" / "render_worker" / "schemas" / schema.name)
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": str(tmp_path / "app"), "PYTHONNOUSERSITE": "1"}
    probe = "import render_worker.schemas as s; print(s.path_of('catalog'))"
    found = subprocess.run(
        [sys.executable, "-c", probe], env=env, cwd=tmp_path, capture_output=True, text=True
    )
    assert found.stdout.strip() == str(tmp_path / "app/render_worker/schemas/catalog.schema.json"), (
        found.stderr
    )
    run = subprocess.run(
        [sys.executable, "-m", "render_worker"],
        env={
            **env,
            "SPEC_URI": example_path.as_uri(),
            "RUN_ID": "packaged",
            "OUTPUT_URI": (tmp_path / "out").as_uri() + "/",
            "SCRATCH_DIR": str(tmp_path / "scratch"),
        },
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert run.returncode == 0, run.stderr
    assert len(list((tmp_path / "out").rglob("*.svg"))) == 8


def test_notification_schema_takes_both_shapes_and_nothing_else():
    validator = schemas.validator("notification")
    completion = {
        "schema_version": "1.0",
        "status": "SUCCEEDED",
        "run_id": "run-1",
        "catalog_id": "spring-2026",
        "spec_uri": "s3://specs/catalog.json",
        "variant_count": 8,
        "manifest_uri": "s3://renders/run-1/manifest.json",
        "gallery_uri": "s3://renders/run-1/index.html",
    }
    failure = {
        "schema_version": "1.0",
        "status": "FAILED",
        "run_id": "run-1",
        "spec_uri": "s3://specs/catalog.json",
        "error": "SpecInvalid",
        "cause": "/products/0/variants/3/color: 'red' is not a colour as #RRGGBB",
    }
    assert validator.is_valid(completion) and validator.is_valid(failure)
    assert not validator.is_valid({**completion, "status": "FAILED"})
    assert not validator.is_valid({**failure, "extra": 1})
    assert not validator.is_valid({k: v for k, v in completion.items() if k != "manifest_uri"})
    assert not validator.is_valid({**completion, "variant_count": 100_001})
