"""Generated catalog specs for load and benchmarks, and the S3 keys each one must produce.

Deterministic: the same arguments always give the same spec, so its SVGs are the same bytes.
"""

from __future__ import annotations

import json
import math
from typing import Any

TEMPLATES = ("card", "banner", "swatch")
SIZES = ("XS", "S", "M", "L", "XL")
BADGES = (None, "NEW", None, "SALE", None, "LIMITED")
VARIANTS_PER_PRODUCT = 100


def make_spec(catalog_id: str, variant_count: int, variants_per_child: int | None = None) -> dict[str, Any]:
    """A schema-valid catalog of `variant_count` variants, VARIANTS_PER_PRODUCT per product."""
    products = []
    for p in range(math.ceil(variant_count / VARIANTS_PER_PRODUCT)):
        first = p * VARIANTS_PER_PRODUCT
        variants = []
        for f in range(first, min(first + VARIANTS_PER_PRODUCT, variant_count)):
            variant: dict[str, Any] = {
                "sku": f"PERF-{p:04d}-{f:06d}",
                "color": f"#{(f * 2654435761) % 0xFFFFFF:06X}",
                "color_name": f"Shade {f % 97}",
                "size": SIZES[f % len(SIZES)],
            }
            if BADGES[f % len(BADGES)]:
                variant["badge"] = BADGES[f % len(BADGES)]
            variants.append(variant)
        products.append(
            {
                "product_id": f"perf-product-{p:04d}",
                "name": f"Perf Product {p} & <Co> \u00e9",
                "tagline": "load-test catalog",
                "template": TEMPLATES[p % len(TEMPLATES)],
                "price": {"amount": f"{10 + p % 90}.99", "currency": "USD"},
                "variants": variants,
            }
        )
    spec: dict[str, Any] = {
        "schema_version": "1.0",
        "catalog_id": catalog_id,
        "locale": "en-US",
        "products": products,
    }
    if variants_per_child:
        spec["options"] = {"variants_per_child": variants_per_child}
    return spec


def spec_bytes(spec: dict[str, Any]) -> bytes:
    return json.dumps(spec, ensure_ascii=False, separators=(",", ":")).encode()


def expected_svg_keys(spec: dict[str, Any]) -> list[str]:
    """Keys relative to the run prefix, in flat order: `<product_id>/<sku>.svg`."""
    return [f"{p['product_id']}/{v['sku']}.svg" for p in spec["products"] for v in p["variants"]]


def child_names(array_size: int) -> list[str]:
    """Names of the per-child part records (`_parts/<child>.json`) a Batch job of this size writes."""
    return ["plain"] if array_size == 1 else [f"child-{i:05d}" for i in range(array_size)]
