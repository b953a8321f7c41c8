"""manifest.json and index.html: built from the spec and the per-variant records, by PublishResults and by
`farm render` alike. Deterministic: no timestamps, flat order, fixed key order."""

from __future__ import annotations

import html
import json
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

from render_worker.records import VariantRecord
from render_worker.spec import Catalog, relative_key

SCHEMA_VERSION = "1.0"


def build_manifest(
    catalog: Catalog,
    records: Sequence[VariantRecord],
    *,
    run_id: str,
    spec_uri: str,
    output_uri: str | None,
    attempts: Sequence[dict[str, Any]] | None = None,
    cost: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`records` must hold exactly one record per flat index, in order (callers check completeness).
    `attempts` ({"attempt", "execution", "rendered"} each, PublishResults) says which attempts of the run
    rendered, `cost` ({"attempt", "estimate", "actual"}) what the publishing attempt was estimated to cost
    and cost; `farm render` has neither."""
    products = [
        {
            "product_id": product["product_id"],
            "name": product["name"],
            "first_index": start,
            "variant_count": len(product["variants"]),
        }
        for product, start in zip(catalog.products, catalog.starts, strict=True)
    ]
    return {
        "schema_version": SCHEMA_VERSION,
        "run_id": run_id,
        "catalog_id": catalog.catalog_id,
        "spec_uri": spec_uri,
        "output_uri": output_uri,
        "variant_count": catalog.variant_count,
        "product_count": len(products),
        "total_bytes": sum(r.bytes for r in records),
        **({"attempts": list(attempts)} if attempts is not None else {}),
        **({"cost": cost} if cost is not None else {}),
        "products": products,
        "variants": [r.to_dict() for r in records],
    }


def manifest_bytes(manifest: dict[str, Any]) -> bytes:
    return (json.dumps(manifest, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem;background:#f3f4f6;color:#111827}
h1{margin:0 0 .25rem} .meta{color:#4b5563;margin:0 0 2rem}
section{margin:0 0 2.5rem} h2{margin:0 0 .75rem;font-size:1.25rem}
.grid{display:grid;grid-template-columns:repeat(auto-fill,minmax(220px,1fr));gap:1rem}
figure{margin:0;background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:.5rem}
img{width:100%;height:auto;display:block} figcaption{font-size:.85rem;padding-top:.4rem}
.sku{font-family:ui-monospace,monospace;color:#4b5563}
""".strip()

# Nothing may load from elsewhere and nothing may run: the gallery shows only this run's SVGs.
_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'"


def build_gallery(catalog: Catalog, manifest: dict[str, Any]) -> bytes:
    e = html.escape
    by_index = {v["index"]: v for v in manifest["variants"]}
    out = [
        "<!DOCTYPE html>",
        f'<html lang="{e(catalog.doc.get("locale", "en-US"))}">',
        "<head>",
        '<meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{e(catalog.catalog_id)} \u2013 {e(manifest['run_id'])}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f'<h1 dir="auto">{e(catalog.catalog_id)}</h1>',
        f'<p class="meta">run {e(manifest["run_id"])} \u00b7 {manifest["variant_count"]} renders in '
        f'{manifest["product_count"]} products \u00b7 <a href="manifest.json">manifest.json</a></p>',
    ]
    for product, start in zip(catalog.products, catalog.starts, strict=True):
        name = e(product["name"])
        out.append(f'<section id="p-{e(product["product_id"])}">')
        out.append(f'<h2 dir="auto">{name} <span class="sku">{e(product["product_id"])}</span></h2>')
        out.append('<div class="grid">')
        for offset, variant in enumerate(product["variants"]):
            record = by_index.get(start + offset, {})
            src = quote(relative_key(product["product_id"], variant["sku"]))
            label = " \u00b7 ".join(e(x) for x in (variant["color_name"], variant.get("size")) if x)
            size = f" \u00b7 {record['bytes']} B" if "bytes" in record else ""
            out.append(
                f'<figure><img src="{src}" alt="{name} \u2013 {label}" loading="lazy">'
                f'<figcaption><span dir="auto">{label}</span><br>'
                f'<span class="sku">{e(variant["sku"])}{size}</span></figcaption></figure>'
            )
        out.append("</div>")
        out.append("</section>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out).encode("utf-8")
