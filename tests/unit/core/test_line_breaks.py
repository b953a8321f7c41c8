"""Identifiers, colours, currencies and run ids with a line break are refused. Python's `$` also matches
before a final newline (ECMA-262's does not), so the `single-line` format closes the gap: in the schema path
(jsonschema), in the compiled fastcheck path, and wherever code checks a run id."""

from __future__ import annotations

import copy
import random

import pytest
from jsonschema import Draft202012Validator

from render_worker import formats, keywords, schemas, spec
from render_worker.fastcheck import compile_check
from render_worker.uri import check_run_id
from render_worker.validate_input import validate_input

from .conftest import schema_nodes

# field -> (where it is in the example, the subschema that judges it, what the refusal says)
FIELDS = {
    "product_id": (("products", 0, "product_id"), "#/$defs/key_part", "has a line break"),
    "sku": (("products", 0, "variants", 3, "sku"), "#/$defs/key_part", "has a line break"),
    "color": (("products", 0, "variants", 3, "color"), "#/$defs/color", "has a line break"),
    "currency": (
        ("products", 0, "price", "currency"),
        "#/$defs/price/properties/currency",
        "is not an ISO 4217",
    ),
    "catalog_id": (("catalog_id",), "#/$defs/key_part", "has a line break"),
    "amount": (("products", 0, "price", "amount"), "#/$defs/price/properties/amount", "has a line break"),
    "locale": (("locale",), "#/properties/locale", "has a line break"),
    "font_family": (("defaults", "font_family"), "#/$defs/font_family", "has a line break"),
    "name": (("products", 0, "name"), "#/$defs/product/properties/name", "has a line break"),
}
# Every line terminator str.splitlines knows.
TERMINATORS = ["\n", "\r", "\r\n", "\v", "\f", "\x1c", "\x1d", "\x1e", "\x85", "\u2028", "\u2029"]


def _get(doc, path):
    for part in path:
        doc = doc[part]
    return doc


def _set(doc, path, value):
    _get(doc, path[:-1])[path[-1]] = value


def _judges(ref: str, name: str = "catalog"):
    """jsonschema's own validator, the catalog's (short messages) and the compiled check of one subschema."""
    root = schemas.load(name)
    node = _get(root, ref[2:].split("/"))
    checker = formats.format_checker()
    return (
        Draft202012Validator(root, format_checker=checker).evolve(schema=node),
        keywords.Validator(root, format_checker=checker).evolve(schema=node),
        compile_check(node, root),
    )


@pytest.mark.parametrize("field", list(FIELDS))
def test_a_trailing_newline_is_refused_at_the_fields_pointer(example_doc, field):
    path, _, says = FIELDS[field]
    doc = copy.deepcopy(example_doc)
    _set(doc, path, _get(doc, path) + "\n")
    found = [str(p) for p in spec.problems_of(doc)]
    assert len(found) == 1 and found[0].startswith(f"{spec.pointer(path)}: {_get(doc, path)!r} {says}"), found
    errors = list(schemas.validator("catalog").iter_errors(doc))  # jsonschema's own, with the format checker
    assert [list(e.absolute_path) for e in errors] == [list(path)]


@pytest.mark.parametrize("field", list(FIELDS))
def test_a_trailing_newline_fails_the_compiled_check_too(example_doc, field):
    path, ref, _ = FIELDS[field]
    stock, ours, compiled = _judges(ref)
    value = _get(example_doc, path)
    assert compiled(value) and stock.is_valid(value) and ours.is_valid(value)
    assert not compiled(value + "\n") and not stock.is_valid(value + "\n") and not ours.is_valid(value + "\n")


@pytest.mark.parametrize("field", list(FIELDS))
@pytest.mark.parametrize("terminator", TERMINATORS, ids=[repr(t) for t in TERMINATORS])
def test_any_line_terminator_at_either_end_is_refused(example_doc, field, terminator):
    path, _, _ = FIELDS[field]
    for value in (_get(example_doc, path) + terminator, terminator + _get(example_doc, path)):
        doc = copy.deepcopy(example_doc)
        _set(doc, path, value)
        assert spec.pointer(path) in {p.pointer for p in spec.problems_of(doc)}, repr(value)


def test_a_run_id_with_a_newline_is_refused_everywhere(example_path):
    assert check_run_id("run-1") == "run-1"
    for bad in ("run-1\n", "\nrun-1", "run-1\r", "run-1\u2028"):
        with pytest.raises(ValueError, match=r"^run_id '.*' is not 1-80 letters"):
            check_run_id(bad)
    event = {"spec_uri": "s3://specs/catalog.json", "run_id": "run-1\n"}
    with pytest.raises(ValueError, match="run_id 'run-1\\\\n' is not"):
        validate_input(event, s3=None, env={"RENDERS_BUCKET": "renders"})
    for name, ref in (
        ("manifest", "#/properties/run_id"),
        ("notification", "#/$defs/completion/properties/run_id"),
    ):
        stock, _, compiled = _judges(ref, name)
        assert compiled("run-1") and stock.is_valid("run-1")
        assert not compiled("run-1\n") and not stock.is_valid("run-1\n")


def test_every_anchored_pattern_of_every_schema_goes_with_single_line():
    missing = [
        f"{name}{where}"
        for name in ("catalog", "manifest", "notification")
        for where, node in schema_nodes(schemas.load(name))
        if str(node.get("pattern", "")).endswith("$") and node.get("format") != "single-line"
    ]
    assert missing == []


# A property test: fastcheck, jsonschema and our validator agree on hostile values (with a fixed seed).
SAMPLES = {
    "#/$defs/key_part": "tee-classic",
    "#/$defs/color": "#A1B2C3",
    "#/$defs/price/properties/amount": "19.99",
    "#/$defs/price/properties/currency": "USD",
    "#/properties/locale": "en-US",
    "#/$defs/font_family": "Inter, Arial",
    "#/$defs/product/properties/name": "Tee ☕ <b>",
}
PIECES = list("aZ09._-/# ,") + TERMINATORS + ["\t", "\x00", "\x7f", "é", "中", "😀", "\ud800", "..", "$", "^"]
NOT_STRINGS = [None, 1, 1.0, True, [], {}, ["USD"]]


def hostile_values(rng: random.Random, sample: str, count: int = 300) -> list:
    """The sample, some non-strings, then the sample with a piece inserted (often at an end), or pieces."""
    values = [sample, *NOT_STRINGS]
    while len(values) < count:
        if rng.random() < 0.5:
            at = rng.choice([0, len(sample), rng.randrange(len(sample) + 1)])
            values.append(sample[:at] + rng.choice(PIECES) + sample[at:])
        else:
            values.append("".join(rng.choices(PIECES, k=rng.randrange(70))))
    return values


@pytest.mark.parametrize("ref", list(SAMPLES))
def test_fastcheck_and_the_schema_agree_on_hostile_values(ref):
    stock, ours, compiled = _judges(ref)
    rng = random.Random(12)
    values = hostile_values(rng, SAMPLES[ref])
    disagree = [v for v in values if not compiled(v) == stock.is_valid(v) == ours.is_valid(v)]
    assert disagree == []
    assert 0 < sum(map(compiled, values)) < len(values)  # both verdicts occur


def test_run_id_checks_agree_on_hostile_values():
    stock, _, compiled = _judges("#/properties/run_id", "manifest")

    def accepted(value) -> bool:
        try:
            return check_run_id(value) == value
        except ValueError:
            return False

    values = hostile_values(random.Random(7), "run-1")
    assert [v for v in values if not compiled(v) == stock.is_valid(v) == accepted(v)] == []
    assert 0 < sum(map(compiled, values)) < len(values)


def test_fastcheck_and_the_schema_agree_on_hostile_variants(example_doc):
    stock, ours, compiled = _judges("#/$defs/variant")
    rng = random.Random(3)
    good = example_doc["products"][0]["variants"][3]
    fields = {
        "sku": "#/$defs/key_part",
        "color": "#/$defs/color",
        "color_name": "#/$defs/product/properties/name",
    }
    pools = {name: hostile_values(rng, good[name], 50) for name in fields}
    variants = [good]
    while len(variants) < 300:
        variant = {
            **good,
            "price": {"amount": rng.choice(["1", "1.5\n", "01"]), "currency": rng.choice(["USD", "usd"])},
        }
        for name in rng.sample(list(fields), rng.randrange(1, 4)):
            variant[name] = rng.choice(pools[name])
        if rng.random() < 0.1:
            variant["shade"] = "x"  # unexpected
        if rng.random() < 0.1:
            del variant["color"]  # required
        variants.append(variant)
    assert [v for v in variants if not compiled(v) == stock.is_valid(v) == ours.is_valid(v)] == []
    assert 0 < sum(map(compiled, variants)) < len(variants)
