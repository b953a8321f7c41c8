"""Catalog specs: parse bytes, validate (schema + the rules a schema cannot express), and the flat
variant order.

Every problem carries the JSON pointer of what is wrong, so `farm validate`, ValidateInput and the worker all
report the same precise lines. Validation stays within ValidateInput's memory and a few seconds for any spec
up to MAX_SPEC_BYTES: each stage checks the sizes the next one depends on before it builds or walks anything
large (bytes, then parsed arrays, then the schema, then the rules), and only the first MAX_PROBLEMS problems
are listed.
"""

from __future__ import annotations

import bisect
import gc
import hashlib
import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from itertools import islice
from pathlib import Path
from typing import Any

from render_worker import fastcheck, formats, keywords, prescan, schemas, selection, sizing
from render_worker.errors import Problem, SpecInvalid, SpecTooLarge, shown
from render_worker.money import MINOR_UNITS, decimals_of

MAX_VARIANTS = 100_000
MAX_SPEC_BYTES = 64 * 1024 * 1024
# The spec decoded to a str may take no more memory than its byte limit: 4 bytes a character once one is an
# emoji, so 20 MB of text with an emoji take 80 MB, and the parsed strings as much again.
MAX_DECODED_BYTES = MAX_SPEC_BYTES
# JSON values and keys: a valid spec has at most 1,970,027 (10,000 products and 100,000 variants with every
# optional field); json.loads spends up to ~100 bytes on each.
MAX_JSON_ITEMS = 2_000_000
MAX_PROBLEMS = 100  # listed; the others are counted
# Counted beyond the listed ones, then "at least": each schema problem costs a jsonschema error (~10 us), and
# 100,000 broken variants can hold 2 million of them.
MAX_COUNTED = 100_000
_BOM = b"\xef\xbb\xbf"
# Valid stand-ins for the variants of a product and the products of a document (see _parts).
_VARIANT = {"sku": "x", "color": "#000000", "color_name": "x"}
_PRODUCT = {
    "product_id": "x",
    "name": "x",
    "price": {"amount": "1", "currency": "USD"},
    "variants": [_VARIANT],
}


def pointer(path) -> str:
    """JSON pointer (RFC 6901) of a path of keys and indexes; "" is the whole document."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(f"duplicate key {shown(key)} in one object")
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


@contextmanager
def _collector_paused() -> Iterator[None]:
    """json.loads builds trees, never cycles: collecting while it builds 2 million containers is pure cost
    (4 times the parse time for deeply nested arrays)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def parse(data: bytes) -> Any:
    """Bytes -> JSON document, or SpecInvalid with one problem at the document root."""

    def fail(message: str) -> SpecInvalid:
        return SpecInvalid([Problem("", message)])

    data = data.removeprefix(_BOM)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    if not text.strip():
        raise fail("empty document: expected a JSON object")
    try:
        with _collector_paused():
            return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise fail(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise fail("not valid JSON: nested too deeply") from None
    except ValueError as exc:  # duplicate keys, NaN/Infinity, integers too long to convert
        raise fail(f"not valid JSON: {exc}") from None


def _check_cost(data: bytes) -> None:
    """Refuse, before parsing, a document that would not fit in memory once parsed."""
    decoded = prescan.decoded_size(data)
    if decoded > MAX_DECODED_BYTES:
        raise SpecTooLarge(
            f"decoded, the spec takes {decoded:,} bytes, more than {MAX_DECODED_BYTES:,}: with one character "
            "past U+00FF each takes 2 bytes, past U+FFFF (emoji) 4; write those as \\u escapes (as "
            "json.dumps does) to keep 1 byte a character"
        )
    if prescan.json_items(data, stop_after=MAX_JSON_ITEMS) > MAX_JSON_ITEMS:
        message = f"more than {MAX_JSON_ITEMS:,} JSON values and keys; a valid spec has fewer"
        raise SpecInvalid([Problem("", message)])


@cache
def _array_limits() -> tuple[int, int]:
    """maxItems of the products and of one product's variants."""
    schema = schemas.load("catalog")
    variants = schema["$defs"]["product"]["properties"]["variants"]
    return schema["properties"]["products"]["maxItems"], variants["maxItems"]


def _count_problems(doc: Any) -> list[Problem]:
    """Array sizes, checked before the schema runs: jsonschema would walk, and report on, each of 200,000
    products."""
    products = doc.get("products") if isinstance(doc, dict) else None
    if not isinstance(products, list):
        return []
    max_products, max_variants = _array_limits()
    if len(products) > max_products:
        return [Problem("/products", f"has {len(products)} items; at most {max_products} allowed")]
    problems, total = [], 0
    for i, product in enumerate(products):
        variants = product.get("variants") if isinstance(product, dict) else None
        if isinstance(variants, list):
            total += len(variants)
            if len(variants) > max_variants:
                message = f"has {len(variants)} items; at most {max_variants} allowed"
                problems.append(Problem(f"/products/{i}/variants", message))
    if total > MAX_VARIANTS:
        problems.append(Problem("/products", f"{total} variants in total; at most {MAX_VARIANTS} allowed"))
    return problems


@cache
def _compiled_checks():
    """Compiled checks of a product (its variants cut to the stand-in) and of a variant."""
    schema = schemas.load("catalog")
    return tuple(fastcheck.compile_check(schema["$defs"][name], schema) for name in ("product", "variant"))


def _items(node: Any, key: str) -> list[Any]:
    items = node.get(key) if isinstance(node, dict) else None
    return items if isinstance(items, list) else []


def _cut(node: Any, key: str, stand_in: dict[str, Any]) -> Any:
    """`node` with its array `key`, when not empty, cut to one valid stand-in."""
    return {**node, key: [stand_in]} if _items(node, key) else node


def _parts(doc: Any, schema: dict[str, Any]) -> Iterator[tuple[tuple, Any, dict[str, Any] | None]]:
    """(path, part, subschema) of what jsonschema must judge, together the whole document: the document with
    its products cut to a stand-in (subschema None: the whole schema), then each product (its variants cut)
    and each variant the compiled checks refuse. jsonschema alone takes ~1 ms a product and ~70 us a variant:
    10 s for a large valid spec."""
    yield (), _cut(doc, "products", _PRODUCT), None
    product_passes, variant_passes = _compiled_checks()
    for i, product in enumerate(_items(doc, "products")):
        outline = _cut(product, "variants", _VARIANT)
        if not product_passes(outline):
            yield ("products", i), outline, schema["$defs"]["product"]
        for j, variant in enumerate(_items(product, "variants")):
            if not variant_passes(variant):
                yield ("products", i, "variants", j), variant, schema["$defs"]["variant"]


def _schema_problems(doc: Any) -> Iterator[Problem]:
    validator = keywords.catalog_validator()
    for path, part, subschema in _parts(doc, validator.schema):
        # Not descend() for the root: for a schema naming its $schema it would use jsonschema's own class.
        errors = validator.iter_errors(part) if subschema is None else validator.descend(part, subschema)
        for error in errors:
            yield Problem(pointer([*path, *error.absolute_path]), error.message)


def _duplicate_problems(products: list[dict[str, Any]]) -> Iterator[Problem]:
    # S3 keys are case-sensitive but filesystems (farm render on macOS) are not: refuse case-only differences.
    seen_products: dict[str, int] = {}
    seen_skus: dict[str, str] = {}
    for i, product in enumerate(products):
        first = seen_products.setdefault(product["product_id"].casefold(), i)
        if first != i:
            yield Problem(f"/products/{i}/product_id", f"duplicate product_id (first at /products/{first})")
        for j, variant in enumerate(product["variants"]):
            where = f"/products/{i}/variants/{j}/sku"
            first_sku = seen_skus.setdefault(variant["sku"].casefold(), where)
            if first_sku != where:
                yield Problem(where, f"duplicate SKU (first at {first_sku})")


def _decimal_problems(products: list[dict[str, Any]]) -> Iterator[Problem]:
    """No more decimals than the currency has."""
    for i, product in enumerate(products):
        prices = [(f"/products/{i}/price", product["price"])]
        prices += [
            (f"/products/{i}/variants/{j}/price", v["price"])
            for j, v in enumerate(product["variants"])
            if "price" in v
        ]
        for where, price in prices:
            allowed, decimals = MINOR_UNITS[price["currency"]], decimals_of(price["amount"])
            if decimals > allowed:
                message = f"{price['amount']!r} has {decimals} decimal(s); {price['currency']} has {allowed}"
                yield Problem(f"{where}/amount", message)


def _array_size_problems(doc: dict[str, Any]) -> Iterator[Problem]:
    """The default sizing never needs more than MAX_ARRAY_SIZE children: only an override can."""
    override = doc.get("options", {}).get("variants_per_child")
    if override is None:
        return
    total = sum(len(p["variants"]) for p in doc["products"])
    size = sizing.array_size(total, override)
    if size > sizing.MAX_ARRAY_SIZE:
        yield Problem(
            "/options/variants_per_child",
            f"{override} per child makes {size} children for {total} variants; "
            f"at most {sizing.MAX_ARRAY_SIZE} allowed (use >= {-(-total // sizing.MAX_ARRAY_SIZE)})",
        )


def _rule_problems(doc: dict[str, Any]) -> Iterator[Problem]:
    """Rules across the document (run only on a schema-valid document)."""
    yield from _duplicate_problems(doc["products"])
    yield from _decimal_problems(doc["products"])
    yield from _array_size_problems(doc)


def _problems(doc: Any) -> Iterator[Problem]:
    """Problems stage by stage, lazily; a stage runs only on a document the stages before it passed (the
    schema relies on bounded arrays, the rules on a schema-valid document)."""
    for stage in (_count_problems, _schema_problems, _rule_problems):
        found = False
        for problem in stage(doc):
            found = True
            yield problem
        if found:
            return


def _sort_key(ptr: str) -> list[tuple[int, int | str]]:
    # Numeric order for indexes, so /products/10 comes after /products/9.
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in ptr.split("/")]  # type: ignore[misc]


def check(doc: Any) -> None:
    """SpecInvalid with the first MAX_PROBLEMS problems of a parsed document, in document order, and how many
    more there are; nothing for a valid document."""
    found = _problems(doc)
    listed = sorted(islice(found, MAX_PROBLEMS), key=lambda p: (_sort_key(p.pointer), p.message))
    if listed:
        more = sum(1 for _ in islice(found, MAX_COUNTED + 1))
        # Raised as made, never held in a local: frame -> exception -> traceback -> frame would be a cycle
        # keeping the whole document alive until a collection (2 s for 2 million containers).
        raise SpecInvalid(listed, min(more, MAX_COUNTED), more_exact=more <= MAX_COUNTED)


def problems_of(doc: Any) -> list[Problem]:
    """The problems `check` lists ([] for a valid document)."""
    try:
        check(doc)
    except SpecInvalid as exc:
        return exc.problems
    return []


@dataclass
class Catalog:
    """A validated spec with its flat variant order (products in order, then their variants)."""

    doc: dict[str, Any]
    starts: list[int] = field(init=False)  # flat index of each product's first variant

    def __post_init__(self) -> None:
        self.starts = []
        total = 0
        for product in self.doc["products"]:
            self.starts.append(total)
            total += len(product["variants"])
        self.variant_count = total

    @property
    def catalog_id(self) -> str:
        return self.doc["catalog_id"]

    @property
    def products(self) -> list[dict[str, Any]]:
        return self.doc["products"]

    @property
    def override(self) -> int | None:
        return self.doc.get("options", {}).get("variants_per_child")

    @property
    def max_cost(self) -> float | None:
        """options.max_cost: refuse the run when its estimate is over it (USD)."""
        return self.doc.get("options", {}).get("max_cost")

    def locate(self, flat_index: int) -> tuple[int, int]:
        """Flat index -> (product index, variant index)."""
        if not 0 <= flat_index < self.variant_count:
            raise IndexError(f"flat index {flat_index} outside 0..{self.variant_count - 1}")
        p = bisect.bisect_right(self.starts, flat_index) - 1
        return p, flat_index - self.starts[p]

    def entries(self, flat: Iterable[int]) -> Iterator[tuple[int, dict[str, Any], dict[str, Any]]]:
        """(flat index, product, variant) for every index of `flat` (a range, or sorted indexes: a rerun's
        slice may have gaps), in order."""
        if isinstance(flat, range) and flat.step == 1:
            yield from self._stretch(flat)
            return
        for stretch in selection.runs(flat):
            yield from self._stretch(stretch)

    def _stretch(self, flat: range) -> Iterator[tuple[int, dict[str, Any], dict[str, Any]]]:
        if not flat:
            return
        p, v = self.locate(flat.start)
        products = self.products
        for f in flat:
            variants = products[p]["variants"]
            while v >= len(variants):
                p, v = p + 1, 0
                variants = products[p]["variants"]
            yield f, products[p], variants[v]
            v += 1


def relative_key(product_id: str, sku: str) -> str:
    """Where a variant's SVG lives below the run's output prefix (and below `farm render --out`)."""
    return f"{product_id}/{sku}.svg"


@cache
def validator_id() -> str:
    """Changes whenever the catalog schema or the validating code changes (a stamp of validity names it)."""
    digest = hashlib.sha256(schemas.path_of("catalog").read_bytes())
    for module in (__file__, keywords.__file__, prescan.__file__, formats.__file__, fastcheck.__file__):
        digest.update(Path(module).read_bytes())
    return digest.hexdigest()[:16]


def load_catalog(data: bytes) -> Catalog:
    """Check the cost, parse and validate: SpecTooLarge, or SpecInvalid with the first problems."""
    data = data.removeprefix(_BOM)  # a copy only when there is one
    _check_cost(data)
    doc = parse(data)
    check(doc)
    return Catalog(doc)
