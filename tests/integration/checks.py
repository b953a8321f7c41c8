"""Assertions shared by the integration tests: renders against the spec, manifest, gallery, part records, and
a run's one message."""

from __future__ import annotations

import json
import os
import re
import xml.etree.ElementTree as ET  # noqa: S405 - parses our own renders, never foreign input
from typing import Any

from tests.conftest import child_slice, flat_variants, sha256

SVG = "{http://www.w3.org/2000/svg}svg"
# Seconds a queue must stay quiet (no new message for the run) before its messages are counted.
QUIET_SECONDS = float(os.environ.get("FARM_TEST_QUIET_SECONDS", "5"))


def wait_for_job(stack, job_id: str, timeout: float, poll: float = 0.5) -> dict[str, Any]:
    """The Batch job once SUCCEEDED or FAILED (farm.client); fails the test when it is still running after
    `timeout` s."""
    from farm.client import FarmClient

    try:
        return FarmClient(stack).wait_job(job_id, timeout=timeout, poll_seconds=poll)
    except TimeoutError as exc:
        raise AssertionError(str(exc)) from None


def only_message(farm, run_id: str, status: str, validator=None) -> dict[str, Any]:
    """The run's one message, counted once the run is terminal (the caller has waited: the workflow publishes
    before it ends) and both queues have been quiet for QUIET_SECONDS: exactly one on the queue of `status`
    (SUCCEEDED: the notifications queue, FAILED: the failure queue), none on the other."""
    ours, other = (
        (farm.notifications, farm.failures) if status == "SUCCEEDED" else (farm.failures, farm.notifications)
    )
    found = ours.wait_for(run_id, quiet=QUIET_SECONDS)
    assert len(found) == 1, f"{len(found)} {status} messages for {run_id} (want exactly 1): {found}"
    stray = other.wait_for(run_id, until=lambda _: True, quiet=QUIET_SECONDS)
    assert stray == [], f"{run_id} ended {status}, yet {other.queue_url} has messages for it: {stray}"
    message = found[0]
    if validator is not None:
        problems = [f"/{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(message)]
        assert not problems, problems
    assert (message["status"], message["run_id"]) == (status, run_id), message
    return message


def svg_text(body: bytes) -> str:
    """All text content of an SVG (what a viewer reads), after XML unescaping."""
    root = ET.fromstring(body)  # noqa: S314 - our own renders
    assert root.tag in (SVG, "svg"), f"root element is {root.tag}"
    return " ".join("".join(root.itertext()).split())


def check_render(body: bytes, product: dict[str, Any], variant: dict[str, Any]) -> None:
    """The SVG shows its product's name and the variant's colour (as a fill) and colour name."""
    text = svg_text(body)
    assert product["name"] in text, f"{variant['sku']}: name {product['name']!r} not in {text[:200]!r}"
    if variant.get("color_name"):
        assert variant["color_name"] in text, f"{variant['sku']}: colour name missing"
    colour = variant["color"].lower()
    assert colour in body.decode().lower(), f"{variant['sku']}: colour {colour} unused"
    assert b"<script" not in body.lower()


def check_all_renders(farm, run_id: str, spec: dict[str, Any]) -> dict[str, bytes]:
    """Exactly one SVG per variant under the run, each matching its variant; returns key -> body."""
    rows = flat_variants(spec)
    keys = [k for k in farm.keys(run_id) if k.endswith(".svg")]
    assert sorted(keys) == sorted(row["key"] for row in rows)
    bodies = {}
    for row in rows:
        body = farm.get(run_id, row["key"])
        check_render(body, row["product"], row["variant"])
        bodies[row["key"]] = body
    return bodies


def check_manifest(farm, run_id: str, spec: dict[str, Any], bodies: dict[str, bytes], validator) -> dict:
    """manifest.json validates, lists every variant in flat order, sizes and sha256 match the objects."""
    manifest = json.loads(farm.get(run_id, "manifest.json"))
    errors = [f"/{'/'.join(map(str, e.path))}: {e.message}" for e in validator.iter_errors(manifest)]
    assert not errors, errors
    rows = flat_variants(spec)
    assert manifest["run_id"] == run_id
    assert manifest["catalog_id"] == spec["catalog_id"]
    assert manifest["variant_count"] == len(rows)
    assert manifest["product_count"] == len(spec["products"])
    assert [v["index"] for v in manifest["variants"]] == list(range(len(rows)))
    for entry, row in zip(manifest["variants"], rows, strict=True):
        assert entry["key"] == row["key"]
        assert (entry["product_id"], entry["sku"]) == (row["product"]["product_id"], row["variant"]["sku"])
        body = bodies[row["key"]]
        assert entry["sha256"] == sha256(body), row["key"]
        assert entry["bytes"] == len(body), row["key"]
    assert manifest["total_bytes"] == sum(len(b) for b in bodies.values())
    return manifest


def check_gallery(farm, run_id: str, spec: dict[str, Any]) -> str:
    """index.html links every render (relative key) and shows every product name."""
    html = farm.get(run_id, "index.html").decode()
    referenced = set(re.findall(r'(?:src|href)="([^"]+\.svg)"', html))
    for row in flat_variants(spec):
        key = row["key"]
        assert any(ref.endswith(key) for ref in referenced), f"index.html does not reference {key}"
    assert len(referenced) >= len(flat_variants(spec))
    return html


def check_parts(farm, run_id: str, per_child: int, count: int, children: list[str]) -> dict[str, dict]:
    """Each child's part record lists exactly its slice of the flat order; returns child -> record."""
    records = {}
    for index, child in enumerate(children):
        record = json.loads(farm.get(run_id, f"_parts/{child}.json"))
        assert record["child"] == child
        expected = child_slice(index, per_child, count) if child != "plain" else range(count)
        assert [v["index"] for v in record["variants"]] == list(expected), child
        records[child] = record
    return records


def child_names(array_size: int) -> list[str]:
    return ["plain"] if array_size == 1 else [f"child-{i:05d}" for i in range(array_size)]
