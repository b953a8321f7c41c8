"""SVG rendering of one variant: the card, banner and swatch templates.

Everything that depends only on the product (resolved canvas and fonts, wrapped name, tagline, static
elements) is prepared once per product by `Renderer`; a variant adds its colour, size, badge and price.
svgwrite runs with debug validation off: the schema has already validated the input, and its per-attribute
checks would cost more than the rendering. No ids, timestamps or randomness: the same spec gives the same
bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any
from xml.etree import ElementTree

import svgwrite
from svgwrite.base import Title

from render_worker import text
from render_worker.money import format_price
from render_worker.spec import Catalog

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
DEFAULT_FONT = "Inter, Helvetica, Arial, sans-serif"
DEFAULT_CANVAS = {
    "card": {"width": 800, "height": 800, "background": "#FFFFFF"},
    "banner": {"width": 1200, "height": 400, "background": "#FFFFFF"},
    "swatch": {"width": 600, "height": 600, "background": "#FFFFFF"},
}
INK_DARK = "#111827"
INK_LIGHT = "#FFFFFF"
MUTED_ON_LIGHT = "#4B5563"
MUTED_ON_DARK = "#E5E7EB"
BOLD = 1.1
BADGE_FILL = "#B91C1C"

# Product shapes drawn in a 100x100 box, scaled into place.
TEE_PATH = "M30 8 L42 4 Q50 14 58 4 L70 8 L92 24 L81 40 L72 34 L72 94 L28 94 L28 34 L19 40 L8 24 Z"
MUG_BODY = "M18 20 L70 20 L70 82 Q70 92 60 92 L28 92 Q18 92 18 82 Z"
MUG_HANDLE = "M70 34 Q90 34 90 52 Q90 70 70 70"


def _n(value: float) -> float | int:
    """Coordinates rounded to 0.1 (short, stable output); integral values print without a decimal point."""
    value = round(value, 1)
    return int(value) if value == int(value) else value


@lru_cache(maxsize=1024)
def _rgb(color: str) -> tuple[int, int, int]:
    return int(color[1:3], 16), int(color[3:5], 16), int(color[5:7], 16)


@lru_cache(maxsize=1024)
def is_dark(color: str) -> bool:
    """WCAG relative luminance below the point where white text reads better than black."""

    def channel(c: int) -> float:
        c /= 255
        return c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(c) for c in _rgb(color))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.18


@lru_cache(maxsize=1024)
def shade(color: str, factor: float = 0.72) -> str:
    r, g, b = (int(c * factor) for c in _rgb(color))
    return f"#{r:02X}{g:02X}{b:02X}"


def _text_attrs(content: str) -> dict[str, str]:
    """Right-to-left text keeps its box: direction rtl with anchor end starts it at the same x."""
    if text.is_rtl(content):
        return {"direction": "rtl", "unicode_bidi": "embed", "text_anchor": "end"}
    return {}


@dataclass(frozen=True)
class Resolved:
    """A product's effective settings after defaults."""

    template: str
    width: int
    height: int
    background: str
    font: str
    locale: str


def resolve(doc: dict[str, Any], product: dict[str, Any]) -> Resolved:
    defaults = doc.get("defaults", {})
    template = product.get("template") or defaults.get("template") or "card"
    canvas = {**DEFAULT_CANVAS[template], **defaults.get("canvas", {}), **product.get("canvas", {})}
    return Resolved(
        template=template,
        width=canvas["width"],
        height=canvas["height"],
        background=canvas["background"].upper(),
        font=product.get("font_family") or defaults.get("font_family") or DEFAULT_FONT,
        locale=doc.get("locale", "en-US"),
    )


class ProductPlan:
    """What every variant of one product shares: layout numbers, wrapped text, static elements."""

    def __init__(self, doc: dict[str, Any], product: dict[str, Any]):
        self.product = product
        self.r = r = resolve(doc, product)
        self.dark_bg = is_dark(r.background)
        self.ink = INK_LIGHT if self.dark_bg else INK_DARK
        self.muted = MUTED_ON_DARK if self.dark_bg else MUTED_ON_LIGHT
        self.unit = min(r.width, r.height)
        layout = {"card": self._card_layout, "banner": self._banner_layout, "swatch": self._swatch_layout}
        layout[r.template]()
        # Bold glyphs run about 10% wider than the estimate's regular ones.
        self.name_lines = text.wrap(product["name"], self.text_width / (self.name_size * BOLD), 2)
        tagline = product.get("tagline", "")
        self.tagline = text.truncate(tagline, self.text_width / self.small_size) if tagline else ""
        self._place_text()
        self.static_xml = _serialise(self._static_elements())
        self.open_tag = self._open_tag()
        self._fragments: dict[tuple[str, str], str] = {}

    def fragment(self, kind: str, key: str, build: Callable[[], list[Any]]) -> str:
        """Serialised elements that many variants share (a colour's shape, a price, a badge)."""
        found = self._fragments.get((kind, key))
        if found is None:
            found = self._fragments[(kind, key)] = _serialise(build())
        return found

    def _open_tag(self) -> str:
        r = self.r
        dwg = svgwrite.Drawing(size=(r.width, r.height), profile="full", debug=False)
        dwg.attribs["viewBox"] = f"0 0 {r.width} {r.height}"
        dwg.attribs["font-family"] = r.font
        dwg.attribs["xml:lang"] = r.locale
        dwg.attribs["role"] = "img"
        empty = dwg.tostring()  # '<svg ...><defs /></svg>': attribute values are escaped, so '>' ends the tag
        return empty[: empty.index(">") + 1]

    def _place_text(self) -> None:
        """Baselines of the name lines, tagline and detail row. Card and swatch stack them up from the price
        at the bottom, and the shape gets the room left above, so a two-line name never collides with the
        price; the banner's text column has room enough to run top-down."""
        name_step, gap = self.name_size * 1.25, self.small_size * 1.7
        if self.r.template == "banner":
            first = self.text_top + self.name_size
            self.name_baselines = [first + i * name_step for i in range(len(self.name_lines))]
            y = self.name_baselines[-1]
            self.tagline_y = y + gap if self.tagline else None
            self.detail_y = (self.tagline_y or y) + gap * 1.2
            return
        self.detail_y = self.price_y - self.price_size * 1.45
        self.tagline_y = self.detail_y - gap * 1.1 if self.tagline else None
        last = (self.tagline_y or self.detail_y) - gap * (1.0 if self.tagline else 1.1)
        count = len(self.name_lines)
        self.name_baselines = [last - (count - 1 - i) * name_step for i in range(count)]
        text_top = self.name_baselines[0] - self.name_size * 1.3
        x, y, w, _ = self.shape_box
        self.shape_box = (x, y, w, max(text_top - y, self.unit * 0.15))

    # Layout: a text column at text_x of text_width, sizes, the price baseline and a shape box whose height
    # card and swatch settle in _place_text.
    def _card_layout(self) -> None:
        w, h, u = self.r.width, self.r.height, self.unit
        self.margin = 0.05 * u
        self.shape_box = (w * 0.2, h * 0.07, w * 0.6, h * 0.5)
        self.text_x, self.text_top, self.text_width = self.margin * 1.4, h * 0.63, w - 2.8 * self.margin
        self.name_size, self.small_size, self.price_size = 0.058 * u, 0.034 * u, 0.068 * u
        self.price_y = h - self.margin * 1.3

    def _banner_layout(self) -> None:
        w, h = self.r.width, self.r.height
        self.margin = 0.06 * min(w, h)
        side = h - 2 * self.margin
        self.shape_box = (self.margin, self.margin, min(side, w * 0.4), side)
        self.text_x = self.margin * 2 + self.shape_box[2]
        self.text_top, self.text_width = h * 0.2, w - self.text_x - self.margin
        u = min(h, w / 2.5)
        self.name_size, self.small_size, self.price_size = 0.11 * u, 0.07 * u, 0.13 * u
        self.price_y = h - self.margin * 1.5

    def _swatch_layout(self) -> None:
        w, h, u = self.r.width, self.r.height, self.unit
        self.margin = 0.06 * u
        self.shape_box = (self.margin, self.margin, w - 2 * self.margin, h * 0.55)
        self.text_x, self.text_top = self.margin, self.margin + h * 0.55 + 0.1 * u
        self.text_width = w - 2 * self.margin
        self.name_size, self.small_size, self.price_size = 0.06 * u, 0.036 * u, 0.066 * u
        self.price_y = h - self.margin

    def _static_elements(self) -> list[Any]:
        r = self.r
        elements: list[Any] = [
            svgwrite.shapes.Rect((0, 0), (r.width, r.height), fill=r.background, debug=False),
        ]
        if r.template == "card":
            m = self.margin
            panel = "#1F2937" if self.dark_bg else "#F9FAFB"
            elements.append(
                svgwrite.shapes.Rect(
                    (_n(m / 2), _n(m / 2)),
                    (_n(r.width - m), _n(r.height - m)),
                    rx=_n(m / 2),
                    fill=panel,
                    stroke="#374151" if self.dark_bg else "#E5E7EB",
                    debug=False,
                )
            )
        for line, y in zip(self.name_lines, self.name_baselines, strict=True):
            elements.append(
                svgwrite.text.Text(
                    line,
                    insert=(_n(self.text_x), _n(y)),
                    font_size=_n(self.name_size),
                    font_weight="700",
                    fill=self.ink,
                    debug=False,
                    **_text_attrs(line),
                )
            )
        if self.tagline:
            elements.append(
                svgwrite.text.Text(
                    self.tagline,
                    insert=(_n(self.text_x), _n(self.tagline_y)),
                    font_size=_n(self.small_size),
                    fill=self.muted,
                    debug=False,
                    **_text_attrs(self.tagline),
                )
            )
        return elements


def _shape(plan: ProductPlan, color: str) -> list[Any]:
    """The product in the variant's colour: a tee (card), a mug (banner), a fabric swatch (swatch)."""
    x, y, w, h = plan.shape_box
    outline = shade(color)
    if plan.r.template == "swatch":
        return [
            svgwrite.shapes.Rect(
                (_n(x), _n(y)),
                (_n(w), _n(h)),
                rx=_n(plan.margin / 3),
                fill=color,
                stroke=outline,
                debug=False,
            ),
            svgwrite.shapes.Rect(
                (_n(x + w * 0.04), _n(y + h * 0.06)),
                (_n(w * 0.92), _n(h * 0.88)),
                rx=_n(plan.margin / 4),
                fill="none",
                stroke=INK_LIGHT if is_dark(color) else INK_DARK,
                stroke_opacity="0.25",
                stroke_dasharray="6 5",
                debug=False,
            ),
        ]
    side = min(w, h)
    scale = side / 100
    tx, ty = x + (w - side) / 2, y + (h - side) / 2
    transform = f"translate({_n(tx)} {_n(ty)}) scale({round(scale, 4)})"
    group = svgwrite.container.Group(transform=transform, debug=False)
    group.add(svgwrite.shapes.Ellipse((50, 96), (34, 3), fill="#000000", fill_opacity="0.12", debug=False))
    if plan.r.template == "banner":
        group.add(svgwrite.path.Path(MUG_HANDLE, fill="none", stroke=color, stroke_width=7, debug=False))
        group.add(svgwrite.path.Path(MUG_BODY, fill=color, stroke=outline, stroke_width=1.5, debug=False))
        group.add(svgwrite.shapes.Ellipse((44, 20), (26, 4), fill=outline, debug=False))
    else:
        group.add(svgwrite.path.Path(TEE_PATH, fill=color, stroke=outline, stroke_width=1.2, debug=False))
        group.add(
            svgwrite.path.Path("M42 4 Q50 14 58 4", fill="none", stroke=outline, stroke_width=2, debug=False)
        )
    return [group]


def _badge(plan: ProductPlan, badge: str) -> list[Any]:
    size = plan.small_size * 0.9
    label = text.truncate(badge, 12)
    width = text.width_em(label) * size + size * 1.6
    right = plan.r.width - plan.margin * (1.2 if plan.r.template == "card" else 1.0)
    x, y = right - width, plan.margin * (1.2 if plan.r.template == "card" else 1.0)
    return [
        svgwrite.shapes.Rect(
            (_n(x), _n(y)), (_n(width), _n(size * 1.9)), rx=_n(size * 0.95), fill=BADGE_FILL, debug=False
        ),
        svgwrite.text.Text(
            label,
            insert=(_n(x + width / 2), _n(y + size * 1.3)),
            font_size=_n(size),
            font_weight="700",
            fill=INK_LIGHT,
            text_anchor="middle",
            letter_spacing="1",
            debug=False,
        ),
    ]


def _details(plan: ProductPlan, variant: dict[str, Any]) -> list[Any]:
    """Colour dot, colour name and size; on a swatch, the hex code on the swatch itself."""
    size = plan.small_size
    parts = [variant["color_name"]] + ([f"Size {variant['size']}"] if "size" in variant else [])
    line = text.truncate("  \u00b7  ".join(parts), plan.text_width / size - 1.5)
    dot_r = size * 0.45
    elements: list[Any] = [
        svgwrite.shapes.Circle(
            (_n(plan.text_x + dot_r), _n(plan.detail_y - size * 0.35)),
            _n(dot_r),
            fill=variant["color"],
            stroke=plan.muted,
            stroke_width=1,
            debug=False,
        ),
        svgwrite.text.Text(
            line,
            insert=(_n(plan.text_x + dot_r * 2 + size * 0.5), _n(plan.detail_y)),
            font_size=_n(size),
            fill=plan.ink,
            debug=False,
        ),
    ]
    if plan.r.template == "swatch":
        x, y, w, h = plan.shape_box
        ink = INK_LIGHT if is_dark(variant["color"]) else INK_DARK
        label = text.truncate(variant["color_name"], w / (size * 1.4) - 2)
        elements.append(
            svgwrite.text.Text(
                label,
                insert=(_n(x + w * 0.08), _n(y + h - size * 2.6)),
                font_size=_n(size * 1.4),
                font_weight="700",
                fill=ink,
                debug=False,
                **_text_attrs(label),
            )
        )
        elements.append(
            svgwrite.text.Text(
                variant["color"].upper(),
                insert=(_n(x + w * 0.08), _n(y + h - size * 1.2)),
                font_size=_n(size),
                fill=ink,
                font_family="monospace",
                debug=False,
            )
        )
    return elements


class Renderer:
    """Renders variants of one catalog; keeps one ProductPlan per product."""

    def __init__(self, catalog: Catalog):
        self.catalog = catalog
        self._plans: dict[int, ProductPlan] = {}
        self._price_cache: dict[tuple[str, str], str] = {}

    def plan(self, product: dict[str, Any]) -> ProductPlan:
        key = id(product)
        found = self._plans.get(key)
        if found is None:
            found = self._plans[key] = ProductPlan(self.catalog.doc, product)
        return found

    def _price(self, price: dict[str, str], locale: str) -> str:
        key = (price["amount"], price["currency"])
        found = self._price_cache.get(key)
        if found is None:
            found = self._price_cache[key] = format_price(price["amount"], price["currency"], locale)
        return found

    def render(self, product: dict[str, Any], variant: dict[str, Any]) -> bytes:
        """The variant's SVG: svgwrite serialises each element; what the product shares (the root tag and the
        static elements) and what repeats across variants (shape per colour, price, badge) is serialised once
        and reused, which makes rendering several times cheaper than building a whole Drawing per variant."""
        plan = self.plan(product)
        color = variant["color"].upper()
        size = f", {variant['size']}" if "size" in variant else ""
        price = self._price(variant.get("price") or product["price"], plan.r.locale)
        parts = [
            XML_DECLARATION,
            plan.open_tag,
            _title(f"{product['name']} \u2013 {variant['color_name']}{size}"),
            plan.static_xml,
            plan.fragment("shape", color, lambda: _shape(plan, color)),
            _serialise(_details(plan, variant)),
            plan.fragment("price", price, lambda: _price_text(plan, price)),
        ]
        if "badge" in variant:
            parts.append(plan.fragment("badge", variant["badge"], lambda: _badge(plan, variant["badge"])))
        parts.append("</svg>\n")
        return "".join(parts).encode("utf-8")


def _title(content: str) -> str:
    return ElementTree.tostring(Title(content).get_xml(), encoding="unicode")


def _serialise(elements: list[Any]) -> str:
    return "".join(element.tostring() for element in elements)


def _price_text(plan: ProductPlan, price: str) -> list[Any]:
    return [
        svgwrite.text.Text(
            price,
            insert=(_n(plan.text_x), _n(plan.price_y)),
            font_size=_n(plan.price_size),
            font_weight="800",
            fill=plan.ink,
            debug=False,
        )
    ]


def digest(body: bytes) -> str:
    return hashlib.sha256(body).hexdigest()
