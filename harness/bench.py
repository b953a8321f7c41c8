"""Offline render benchmark: `python -m harness.bench [--variants 100000] [--jobs N]`.

Generates a spec of N variants across all three templates (with RTL, emoji and several currencies), validates
it, renders it with `farm render`'s code into a temporary directory, prints variants/s and variants/s per
core, and writes build/bench/render-bench.json.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from farm.offline import render_into, write_outputs
from harness.paths import REPO as ROOT
from render_worker import sizing, spec
from render_worker.render import Renderer

REPORT = ROOT / "build" / "bench" / "render-bench.json"
PER_PRODUCT = 1000
RENDER_ONLY_SAMPLE = 10_000

_TEMPLATES = ["card", "banner", "swatch"]
_NAMES = [
    "Classic Tee",
    "Enamel Camp Mug",
    "Merino Socks",
    "חולצה קלאסית",
    'Café <Crème> & "Lait" ☕',
    "Chaussette 🧦",
]
_PRICES = [("19.99", "USD"), ("12.00", "EUR"), ("1500", "JPY"), ("9.50", "GBP"), ("4.250", "KWD")]
_COLORS = [("#D7263D", "Cherry"), ("#1B2A49", "Navy"), ("#8DA47E", "Sage"), ("#E4D5B7", "Oatmeal")]
_SIZES = ["XS", "S", "M", "L", "XL", "S/M", "L/XL"]
_BADGES = [None, None, None, "NEW", "SALE", "LIMITED"]


def generate(variants: int) -> dict[str, Any]:
    products = []
    for p in range(math.ceil(variants / PER_PRODUCT)):
        count = min(PER_PRODUCT, variants - p * PER_PRODUCT)
        amount, currency = _PRICES[p % len(_PRICES)]
        product: dict[str, Any] = {
            "product_id": f"bench-{p:05d}",
            "name": f"{_NAMES[p % len(_NAMES)]} {p}",
            "tagline": "Benchmark product with a tagline long enough to need truncating on narrow canvases",
            "template": _TEMPLATES[p % 3],
            "price": {"amount": amount, "currency": currency},
            "variants": [],
        }
        for v in range(count):
            color, color_name = _COLORS[v % len(_COLORS)]
            variant = {
                "sku": f"B{p:05d}-{v:05d}",
                "color": color,
                "color_name": color_name,
                "size": _SIZES[v % len(_SIZES)],
            }
            if _BADGES[v % len(_BADGES)]:
                variant["badge"] = _BADGES[v % len(_BADGES)]
            product["variants"].append(variant)
        products.append(product)
    return {"schema_version": "1.0", "catalog_id": "bench", "locale": "en-US", "products": products}


def _cpu_seconds() -> float:
    """User + system CPU of this process and of its finished children (the render pool's workers)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _render_only(catalog: spec.Catalog, count: int) -> dict[str, float]:
    renderer = Renderer(catalog)
    started = time.process_time()
    for _, product, variant in catalog.entries(range(count)):
        renderer.render(product, variant)
    cpu = time.process_time() - started
    return {"variants": count, "per_cpu_second": round(count / cpu, 1) if cpu else float("inf")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.bench", description=__doc__.splitlines()[0])
    parser.add_argument("--variants", type=int, default=100_000)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--report", type=Path, default=REPORT)
    args = parser.parse_args(argv)
    if not 1 <= args.variants <= spec.MAX_VARIANTS:
        parser.error(f"--variants must be 1..{spec.MAX_VARIANTS}")
    jobs = max(1, args.jobs)

    data = json.dumps(generate(args.variants)).encode()
    started = time.monotonic()
    catalog = spec.load_catalog(data)
    validate_seconds = time.monotonic() - started

    root = Path(tempfile.mkdtemp(prefix="farm-bench-"))
    cpu_before = _cpu_seconds()
    try:
        run = render_into(data, catalog, root, jobs)
        render_cpu = _cpu_seconds() - cpu_before
        started = time.monotonic()
        write_outputs(run, root, run_id="bench", spec_uri="file:///bench/spec.json")
        publish_seconds = time.monotonic() - started
    finally:
        shutil.rmtree(root, ignore_errors=True)

    render_only = _render_only(catalog, min(catalog.variant_count, RENDER_ONLY_SAMPLE))
    cores = min(jobs, os.cpu_count() or 1)
    rate = catalog.variant_count / run.seconds
    per_child = sizing.variants_per_child(catalog.variant_count, catalog.override)
    report = {
        "variants": catalog.variant_count,
        "products": len(catalog.products),
        "spec_bytes": len(data),
        "jobs": jobs,
        "cores_used": cores,
        "cpu_count": os.cpu_count(),
        "validate_seconds": round(validate_seconds, 3),
        "render_seconds": round(run.seconds, 3),
        "manifest_and_gallery_seconds": round(publish_seconds, 3),
        "variants_per_second": round(rate, 1),
        "variants_per_second_per_core": round(rate / cores, 1),
        # CPU time of this process and its workers while rendering: robust when others share the machine.
        "render_cpu_seconds": round(render_cpu, 3),
        "variants_per_cpu_second": round(catalog.variant_count / render_cpu, 1),
        # One core, in memory, no file I/O: what the worker's rendering costs (creating 100,000 files is
        # much of the offline run above on slow filesystems).
        "render_only_sample": render_only["variants"],
        "render_only_variants_per_cpu_second": render_only["per_cpu_second"],
        "total_svg_bytes": sum(r.bytes for r in run.records),
        "variants_per_child": per_child,
        "array_size": sizing.array_size(catalog.variant_count, per_child),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
    }
    args.report.parent.mkdir(parents=True, exist_ok=True)
    args.report.write_text(json.dumps(report, indent=2) + "\n")
    print(
        f"validated {report['variants']} variants in {report['validate_seconds']}s; rendered in "
        f"{report['render_seconds']}s with {jobs} job(s): {report['variants_per_second']} variants/s, "
        f"{report['variants_per_second_per_core']} variants/s per core; "
        f"{report['variants_per_cpu_second']} variants per CPU-second; rendering alone "
        f"{report['render_only_variants_per_cpu_second']} variants per CPU-second (report: {args.report})"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
