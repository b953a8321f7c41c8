"""Templates: real-looking content, byte-identical output, hostile text kept as text, no active content."""

from __future__ import annotations

import copy
import xml.etree.ElementTree as ET

import pytest

from render_worker import text
from render_worker.money import format_price
from render_worker.render import Renderer
from render_worker.spec import Catalog

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = "</text><script>alert(1)</script> & \"q\" 'a' <img src=x onerror=alert(2)> ]]> &amp;"


def render_all(doc) -> list[bytes]:
    catalog = Catalog(doc)
    renderer = Renderer(catalog)
    return [renderer.render(p, v) for _, p, v in catalog.entries(range(catalog.variant_count))]


def parse_xml(body: bytes) -> ET.Element:
    return ET.fromstring(body)  # noqa: S314 - our own output, the thing under test


def texts(svg: bytes) -> list[str]:
    return ["".join(el.itertext()) for el in parse_xml(svg).iter(f"{SVG}text")]


def assert_inert(svg: bytes) -> None:
    """No script, no event handler, no reference that leaves the document."""
    root = parse_xml(svg)  # parses as XML
    for el in root.iter():
        assert el.tag.split("}")[-1].lower() not in {"script", "foreignobject", "image", "use", "a", "style"}
        for name, value in el.attrib.items():
            local = name.split("}")[-1].lower()
            assert not local.startswith("on"), (el.tag, name)
            assert local != "href", (el.tag, name)
            assert "url(" not in value or value.startswith("url(#"), (el.tag, name, value)
            assert "javascript:" not in value.lower()


def test_every_template_renders_valid_svg_with_the_product_facts(example_doc):
    svgs = render_all(example_doc)
    assert len(svgs) == 8
    for svg in svgs:
        assert svg.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n<svg')
        assert_inert(svg)
    tee_sale = texts(svgs[3])
    assert "Classic Tee" in tee_sale and "100% organic cotton" in tee_sale
    assert (
        "$17.99" in tee_sale and "SALE" in tee_sale and any("Navy" in t and "Size L" in t for t in tee_sale)
    )
    assert b'fill="#1B2A49"' in svgs[3]  # the product shape in the variant colour
    mug = texts(svgs[5])
    assert "\u20ac12.00" in mug and "LIMITED" in mug and "Enamel Camp Mug" in mug
    sock = texts(svgs[7])
    assert "\u00a39.50" in sock and "#E4D5B7" in sock and "Oatmeal" in sock
    root = parse_xml(svgs[5])
    assert (root.get("width"), root.get("height"), root.get("viewBox")) == ("1200", "400", "0 0 1200 400")


def test_same_spec_same_bytes(example_doc):
    first = render_all(example_doc)
    second = render_all(copy.deepcopy(example_doc))
    assert first == second
    assert len(set(first)) == 8


@pytest.mark.parametrize("field", ["name", "tagline", "color_name", "badge", "size"])
def test_hostile_text_is_escaped_text_and_round_trips(example_doc, field):
    doc = copy.deepcopy(example_doc)
    product = doc["products"][0]
    variant = product["variants"][0]
    value = HOSTILE[:24] if field in ("badge", "size") else HOSTILE
    (product if field in ("name", "tagline") else variant)[field] = value
    svg = render_all(doc)[0]
    assert b"<script" not in svg and b"<img" not in svg
    assert_inert(svg)
    joined = "\n".join(texts(svg)) + "".join(parse_xml(svg).find(f"{SVG}title").itertext())
    # Long values may wrap or end in an ellipsis; every piece that survives is the original characters.
    assert value[:12] in joined


def test_rtl_and_emoji_survive(example_doc):
    doc = copy.deepcopy(example_doc)
    doc["products"][0]["name"] = "חולצה קלאסית"
    doc["products"][0]["tagline"] = "قطن عضوي 👕🏽"
    doc["products"][0]["variants"][0]["color_name"] = "👩‍👩‍👧‍👦 Family"
    svg = render_all(doc)[0]
    root = parse_xml(svg)
    by_text = {"".join(el.itertext()): el for el in root.iter(f"{SVG}text")}
    assert by_text["חולצה קלאסית"].get("direction") == "rtl"
    assert by_text["חולצה קלאסית"].get("unicode-bidi") == "embed"
    assert "قطن عضوي 👕🏽" in by_text
    assert any("👩‍👩‍👧‍👦 Family" in t for t in by_text)
    assert by_text["$19.99"].get("direction") is None


def test_long_names_wrap_then_end_in_an_ellipsis(example_doc):
    doc = copy.deepcopy(example_doc)
    doc["products"][0]["name"] = "Extraordinarily Comfortable Heavyweight Organic Cotton Tee " * 3
    lines = [t for t in texts(render_all(doc)[0]) if t.startswith("Extra") or t.endswith("\u2026")]
    assert len(lines) == 2 and lines[-1].endswith("\u2026")
    assert text.wrap("Classic Tee", 20, 2) == ["Classic Tee"]
    assert text.wrap("a " * 40, 5, 2)[-1].endswith("\u2026")
    family = "👩‍👩‍👧‍👦"
    cut = text.truncate(family * 5, 3)
    assert cut.endswith("\u2026") and cut.removesuffix("\u2026") in (family, family * 2)  # never mid-sequence


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "expected"),
    [
        ("19.99", "USD", "en-US", "$19.99"),
        ("1234567.5", "USD", "en-US", "$1,234,567.50"),
        ("1500", "JPY", "ja-JP", "\u00a51,500"),
        ("12", "EUR", "en-US", "\u20ac12.00"),
        ("1234.5", "EUR", "de-DE", "1.234,50\u00a0\u20ac"),
        ("1234.5", "EUR", "fr-FR", "1\u202f234,50\u00a0\u20ac"),
        ("12.345", "KWD", "en-US", "KWD\u00a012.345"),
        ("9.5", "GBP", "en-GB", "\u00a39.50"),
        ("10", "CHF", "de-CH", "10,00\u00a0CHF"),
        ("0", "XOF", "fr-FR", "0\u00a0XOF"),
    ],
)
def test_prices_are_formatted_for_their_currency(amount, currency, locale, expected):
    assert format_price(amount, currency, locale) == expected


def test_variant_price_overrides_product_price(example_doc):
    doc = copy.deepcopy(example_doc)
    doc["locale"] = "ja-JP"
    doc["products"][0]["variants"][1]["price"] = {"amount": "2980", "currency": "JPY"}
    svgs = render_all(doc)
    assert "\u00a52,980" in texts(svgs[1])
    assert "$19.99" in texts(svgs[0])
