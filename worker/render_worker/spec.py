"""Catalog specs: parse bytes, validate (schema + the rules a schema cannot express), and the flat
variant order.

Every problem carries the JSON pointer of what is wrong, so `farm validate`, ValidateInput and the worker all
report the same precise lines.
"""

from __future__ import annotations

import bisect
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from render_worker import schemas, sizing
from render_worker.errors import Problem, SpecInvalid
from render_worker.fastcheck import compile_check
from render_worker.money import MINOR_UNITS, decimals_of

MAX_VARIANTS = 100_000
MAX_SPEC_BYTES = 64 * 1024 * 1024
_MAX_SHOWN = 60  # characters of an offending value quoted in a message


def pointer(path) -> str:
    """JSON pointer (RFC 6901) of a path of keys and indexes; "" is the whole document."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


class _DuplicateKey(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for key, value in pairs:
        if key in result:
            raise _DuplicateKey(f"duplicate key {_shown(key)} in one object")
        result[key] = value
    return result


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse(data: bytes) -> Any:
    """Bytes -> JSON document, or SpecInvalid with one problem at the document root."""

    def fail(message: str) -> SpecInvalid:
        return SpecInvalid([Problem("", message)])

    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise fail(f"not UTF-8 text (byte 0x{data[exc.start]:02x} at offset {exc.start})") from None
    if not text.strip():
        raise fail("empty document: expected a JSON object")
    try:
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_refuse_constant)
    except json.JSONDecodeError as exc:
        raise fail(f"not valid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}") from None
    except RecursionError:
        raise fail("not valid JSON: nested too deeply") from None
    except ValueError as exc:  # duplicate keys, NaN/Infinity, integers too long to convert
        raise fail(f"not valid JSON: {exc}") from None


@cache
def _variant_check():
    schema = schemas.load("catalog")
    variants = schema["$defs"]["product"]["properties"]["variants"]
    return compile_check(variants["items"], schema), variants["maxItems"]


def _skeleton(doc: Any) -> Any:
    """The document with each product's variants cut to the first one, when every variant passed the
    compiled check (so jsonschema only walks the rest); None when the shortcut does not apply."""
    if not isinstance(doc, dict) or not isinstance(doc.get("products"), list):
        return None
    check, max_items = _variant_check()
    products = []
    for product in doc["products"]:
        variants = product.get("variants") if isinstance(product, dict) else None
        if not isinstance(variants, list) or not 1 <= len(variants) <= max_items:
            return None
        if not all(map(check, variants)):
            return None
        products.append({**product, "variants": variants[:1]})
    return {**doc, "products": products}


def _schema_problems(doc: Any) -> list[Problem]:
    problems: list[Problem] = []
    skeleton = _skeleton(doc)
    for error in schemas.validator("catalog").iter_errors(doc if skeleton is None else skeleton):
        where = list(error.absolute_path)
        schema = error.schema if isinstance(error.schema, dict) else {}
        described = schema.get("description")
        if error.validator == "additionalProperties":
            allowed = ", ".join(sorted(schema.get("properties", {})))
            extras = sorted(set(error.instance) - set(schema.get("properties", {})))
            for extra in extras:
                problems.append(
                    Problem(pointer([*where, extra]), f"unexpected property (allowed: {allowed})")
                )
            continue
        if error.validator == "required":
            missing = error.message.split("'")[1] if "'" in error.message else "?"
            problems.append(Problem(pointer([*where, missing]), "required property is missing"))
            continue
        if error.validator == "pattern" and described:
            message = f"{_shown(error.instance)} is not {described}"
        elif error.validator == "enum" and len(error.validator_value) > 10:
            message = f"{_shown(error.instance)} is not {described or 'an allowed value'}"
        elif error.validator == "enum":
            message = f"{_shown(error.instance)} is not one of {', '.join(map(str, error.validator_value))}"
        elif error.validator == "const":
            message = f"{_shown(error.instance)} must be {error.validator_value!r}"
        elif error.validator == "type":
            message = f"{_shown(error.instance)} is not of type {error.validator_value}"
        elif error.validator in ("maxLength", "minLength", "maxItems", "minItems"):
            size = len(error.instance)
            noun = "characters" if isinstance(error.instance, str) else "items"
            bound = "at most" if error.validator.startswith("max") else "at least"
            message = f"has {size} {noun}; {bound} {error.validator_value} allowed"
        else:
            message = error.message if len(error.message) <= 200 else error.message[:197] + "..."
        problems.append(Problem(pointer(where), message))
    return problems


def _rule_problems(doc: dict[str, Any]) -> list[Problem]:
    """Rules across the document (run only on a schema-valid document)."""
    problems: list[Problem] = []
    products = doc["products"]
    total = sum(len(p["variants"]) for p in products)
    if total > MAX_VARIANTS:
        problems.append(Problem("/products", f"{total} variants in total; at most {MAX_VARIANTS} allowed"))
    # S3 keys are case-sensitive but filesystems (farm render on macOS) are not: refuse case-only differences.
    seen_products: dict[str, int] = {}
    seen_skus: dict[str, str] = {}
    for i, product in enumerate(products):
        folded = product["product_id"].casefold()
        if folded in seen_products:
            first = seen_products[folded]
            problems.append(
                Problem(f"/products/{i}/product_id", f"duplicate product_id (first at /products/{first})")
            )
        seen_products.setdefault(folded, i)
        prices = [(f"/products/{i}/price", product["price"])]
        for j, variant in enumerate(product["variants"]):
            where = f"/products/{i}/variants/{j}"
            sku = variant["sku"].casefold()
            if sku in seen_skus:
                problems.append(Problem(f"{where}/sku", f"duplicate SKU (first at {seen_skus[sku]})"))
            seen_skus.setdefault(sku, f"{where}/sku")
            if "price" in variant:
                prices.append((f"{where}/price", variant["price"]))
        for where, price in prices:
            allowed = MINOR_UNITS[price["currency"]]
            if decimals_of(price["amount"]) > allowed:
                problems.append(
                    Problem(
                        f"{where}/amount",
                        f"{price['amount']!r} has {decimals_of(price['amount'])} decimal(s); "
                        f"{price['currency']} has {allowed}",
                    )
                )
    override = doc.get("options", {}).get("variants_per_child")
    if override is not None and total <= MAX_VARIANTS:
        size = sizing.array_size(total, override)
        if size > sizing.MAX_ARRAY_SIZE:
            problems.append(
                Problem(
                    "/options/variants_per_child",
                    f"{override} per child makes {size} children for {total} variants; "
                    f"at most {sizing.MAX_ARRAY_SIZE} allowed (use >= {-(-total // sizing.MAX_ARRAY_SIZE)})",
                )
            )
    return problems


def problems_of(doc: Any) -> list[Problem]:
    """Every problem of a parsed document, in document order. The default sizing never needs more than
    MAX_ARRAY_SIZE children, so only an explicit override can be refused for its array size."""
    found = _schema_problems(doc)
    if not found:
        found = _rule_problems(doc)
    return sorted(found, key=lambda p: (_sort_key(p.pointer), p.message))


def _sort_key(ptr: str) -> list[tuple[int, int | str]]:
    # Numeric order for indexes, so /products/10 comes after /products/9.
    return [(0, int(part), "") if part.isdigit() else (1, 0, part) for part in ptr.split("/")]  # type: ignore[misc]


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

    def locate(self, flat_index: int) -> tuple[int, int]:
        """Flat index -> (product index, variant index)."""
        if not 0 <= flat_index < self.variant_count:
            raise IndexError(f"flat index {flat_index} outside 0..{self.variant_count - 1}")
        p = bisect.bisect_right(self.starts, flat_index) - 1
        return p, flat_index - self.starts[p]

    def entries(self, flat: range) -> Iterator[tuple[int, dict[str, Any], dict[str, Any]]]:
        """(flat index, product, variant) for every index of `flat`, in order."""
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
    """Changes whenever the catalog schema or this module changes (a stamp of validity names it)."""
    digest = hashlib.sha256(schemas.path_of("catalog").read_bytes())
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()[:16]


def load_catalog(data: bytes) -> Catalog:
    """Parse and validate; SpecInvalid lists every problem."""
    doc = parse(data)
    found = problems_of(doc)
    if found:
        raise SpecInvalid(found)
    return Catalog(doc)
