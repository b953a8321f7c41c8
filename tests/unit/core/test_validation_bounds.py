"""The worst specs we could find, up to the size limit, through ValidateInput's own handler in a subprocess:
each stays under the Lambda's memory (modules/functions) with headroom and takes under 10 seconds, and says
what is wrong. The 10 seconds bound the child's CPU time (wait4), which does not depend on what else the
machine runs; its wall time must stay within the Lambda's timeout."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.bench import generate
from render_worker import prescan, spec

from .conftest import ROOT, RUN_ENV

LIMIT = spec.MAX_SPEC_BYTES
HEADROOM = 0.75  # of the Lambda's memory
SECONDS = 10
HANDLER = ROOT / "lambdas" / "validate_input" / "handler.py"
HEAD = b'{"schema_version":"1.0","catalog_id":"c","products":['
EXTRA = b'{"schema_version":"1.0","catalog_id":"c","products":[],"x":['  # an unexpected property
PRODUCT = b'{"product_id":"p","name":"n","price":{"amount":"1","currency":"USD"},"variants":['
ITEMS = spec.MAX_JSON_ITEMS - 10_000  # just under the limit on JSON values

# Runs the handler, then says what it returned or raised and the process's peak RSS: VmHWM, read by the
# process itself at its end (wait4's ru_maxrss would also count the parent's pages shared before the exec).
_DRIVER = """
import importlib.util, json, re, sys
loader = importlib.util.spec_from_file_location("handler", sys.argv[1])
handler = importlib.util.module_from_spec(loader)
loader.loader.exec_module(handler)
# The bound is about reading and validating the bytes; the Lambda reads them from S3 (s3:// only), this test
# from a file, so the cloud-only URI rule is set aside here (tests/unit/core/test_access_denied.py covers it).
import render_worker.validate_input as cloud
cloud.check_cloud_spec_uri = lambda uri: None
try:
    said = {"valid": handler.handler({"spec_uri": sys.argv[2], "run_id": "bounds"}, None)["variant_count"]}
except Exception as exc:
    said = {"error": type(exc).__name__, "message": str(exc)}
with open("/proc/self/status") as status:
    said["peak_kb"] = int(re.search(r"VmHWM:\\s+(\\d+) kB", status.read()).group(1))
print(json.dumps(said))
"""


def lambda_setting(name: str) -> int:
    """validate_input's memory_size (MB) or timeout (s) in modules/functions/main.tf."""
    main_tf = (ROOT / "modules" / "functions" / "main.tf").read_text()
    found = re.search(rf"validate_input\s*=\s*\{{[^}}]*?{name}\s*=\s*(\d+)", main_tf)
    assert found, f"validate_input's {name} not found in modules/functions/main.tf"
    return int(found.group(1))


def fill(head: bytes, unit: bytes, tail: bytes, *, size: int = LIMIT, items_per_unit: int = 0) -> bytes:
    """head + unit repeated + tail, up to `size` bytes and (given items_per_unit) just under ITEMS values."""
    count = (size - len(head) - len(tail)) // len(unit)
    if items_per_unit:
        count = min(count, ITEMS // items_per_unit)
    return head + unit * count + tail


def maximal_spec() -> dict:
    """A valid spec as large as the schema allows: 10,000 products of 10 variants, every field at its most."""

    def product(i: int) -> dict:
        return {
            "product_id": f"P{i:05d}".ljust(64, "p"),
            "name": "N" * 200,
            "tagline": "T" * 300,
            "template": "banner",
            "canvas": {"width": 4096, "height": 4096, "background": "#ABCDEF"},
            "font_family": "F" * 200,
            "price": {"amount": "123456789012.123", "currency": "KWD"},
            "variants": [
                {
                    "sku": f"S{i:05d}-{j:02d}".ljust(64, "s"),
                    "color": "#ABCDEF",
                    "color_name": "C" * 64,
                    "size": "Z" * 32,
                    "badge": "B" * 24,
                    "price": {"amount": "123456789012.123", "currency": "KWD"},
                }
                for j in range(10)
            ],
        }

    return {
        "schema_version": "1.0",
        "catalog_id": "c" * 64,
        "locale": "abc-Abcd-123",
        "defaults": {
            "template": "card",
            "canvas": {"width": 64, "height": 64, "background": "#000000"},
            "font_family": "F" * 200,
        },
        "options": {"variants_per_child": 100},
        "products": [product(i) for i in range(10_000)],
    }


def _bench(mutate=None) -> bytes:
    doc = generate(100_000)
    if mutate:
        mutate(doc)
    return json.dumps(doc).encode()


def _same_sku(doc: dict) -> None:
    for product in doc["products"]:
        for variant in product["variants"]:
            variant["sku"] = "SAME"


# name -> (spec bytes, what the handler says: "valid N" or the error and its first line's start)
WORST = {
    # the audit's spec: 800 KB of empty products made 800,001 problems (657 MB, 16 s)
    "empty products, 800 KB": (
        lambda: HEAD + b"{}, " * 199_999 + b"{}]}",
        "SpecInvalid /products: has 200000",
    ),
    "empty products, 64 MiB": (lambda: fill(HEAD, b"{},", b"{}]}"), "SpecInvalid /: more than 2,000,000"),
    "nesting, 64 MiB": (lambda: b"[" * LIMIT, "SpecInvalid /: more than 2,000,000"),
    "900-deep arrays": (
        lambda: fill(EXTRA, b"[" * 900 + b"]" * 900 + b",", b"0]}", items_per_unit=900),
        "SpecInvalid /products: has 0 items",
    ),
    "tiny objects": (
        lambda: fill(EXTRA, b'{"a":0},', b"0]}", items_per_unit=3),
        "SpecInvalid /products: has 0 items",
    ),
    "short strings, 64 MiB": (
        lambda: fill(EXTRA, b'"' + b"a" * 31 + b'",', b"0]}", items_per_unit=1),
        "SpecInvalid /products: has 0 items",
    ),
    "unknown keys in a variant": (
        lambda: (
            HEAD
            + PRODUCT
            + b'{"sku":"s","color":"#000000","color_name":"c",'
            + b",".join(b'"k%d":0' % i for i in range(ITEMS // 2))
            + b"}]}]}"
        ),
        "SpecInvalid /products/0/variants/0/k0: unexpected property",
    ),
    "one giant string, 64 MiB": (
        lambda: fill(b'{"schema_version":"1.0","catalog_id":"', b"a", b'","products":[]}'),
        "SpecInvalid /catalog_id: has 67108810 characters; at most 64 allowed",
    ),
    "one giant string of escapes": (  # the pre-parse count copies the bytes without them
        lambda: fill(b'{"schema_version":"1.0","catalog_id":"', b'\\\\x\\"y', b'","products":[]}'),
        "SpecInvalid /catalog_id: ",
    ),
    "one giant string with an emoji": (
        lambda: fill('{"schema_version":"1.0","catalog_id":"\U0001f600'.encode(), b"a", b'","products":[]}'),
        "SpecTooLarge decoded, the spec takes 268,435,444 bytes",
    ),
    "products as a huge object": (
        lambda: fill(HEAD[:-1] + b'{"k":[', b'"ab",', b'""]}}', items_per_unit=1),
        "SpecInvalid /products: {'k': ['ab', 'ab',",
    ),
    "100,000 empty variants": (
        lambda: HEAD + PRODUCT + b"{}," * 99_999 + b"{}]}]}",
        "SpecInvalid /products/0/variants/0/color: required property is missing",
    ),
    "100,000 duplicate SKUs": (
        lambda: _bench(_same_sku),
        "SpecInvalid /products/0/variants/1/sku: duplicate SKU",
    ),
    "bench spec, 100,000 variants": (_bench, "valid 100000"),
    "maximal valid spec": (lambda: json.dumps(maximal_spec()).encode(), "valid 100000"),
}


def run_handler(path: Path) -> tuple[dict, float, float, float]:
    """(what the handler returned or raised, peak RSS in MB, CPU seconds, wall seconds) of one run in its own
    process."""
    env = {
        **os.environ,
        "RENDERS_BUCKET": "renders",
        **RUN_ENV,
        "MAX_SPEC_BYTES": str(LIMIT),
        "AWS_DEFAULT_REGION": "us-east-1",
    }
    out = path.with_suffix(".out")
    started = time.monotonic()
    deadline = started + lambda_setting("timeout")
    with out.open("wb") as stdout:
        child = subprocess.Popen(
            [sys.executable, "-c", _DRIVER, str(HANDLER), path.as_uri()],
            stdout=stdout,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        while True:  # wait4, not wait(): the child's own CPU time comes with it
            pid, status, usage = os.wait4(child.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                child.kill()
            time.sleep(0.02)
    seconds = time.monotonic() - started
    child.returncode = os.waitstatus_to_exitcode(status)
    lines = out.read_text().splitlines()
    assert child.returncode == 0 and lines, f"the validator died: exit {child.returncode}"
    said = json.loads(lines[-1])
    return said, said.pop("peak_kb") / 1024, usage.ru_utime + usage.ru_stime, seconds


@pytest.mark.parametrize("name", list(WORST))
def test_worst_specs_stay_within_the_lambdas_memory_and_10_seconds(name, tmp_path):
    make, expected = WORST[name]
    path = tmp_path / "spec.json"
    path.write_bytes(make())
    assert path.stat().st_size <= LIMIT
    outcome, peak_mb, cpu, seconds = run_handler(path)
    said = f"valid {outcome['valid']}" if "valid" in outcome else f"{outcome['error']} {outcome['message']}"
    assert said.startswith(expected), said[:300]
    budget = 256 if "800 KB" in name else HEADROOM * lambda_setting("memory_size")
    assert peak_mb < budget, f"{name}: peak {peak_mb:.0f} MB, budget {budget:.0f} MB"
    assert cpu < SECONDS and seconds < lambda_setting("timeout"), f"{name}: {cpu:.1f} s CPU, {seconds:.1f} s"
    if "error" in outcome:  # Step Functions carries the message: it stays small, whatever the spec
        assert len(outcome["message"]) < 16_000 and len(outcome["message"].splitlines()) <= 21


def test_the_largest_valid_spec_is_under_the_limit_on_json_values():
    data = json.dumps(maximal_spec()).encode()
    assert prescan.json_items(data, stop_after=10**9) == 1_970_027 <= spec.MAX_JSON_ITEMS
