"""`farm validate` and `farm render`: exit codes, precise lines, no tracebacks, byte-identical output."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from farm import cli
from render_worker import schemas

from .conftest import ROOT, generated_spec
from .test_render import assert_inert, parse_xml

FARM = [sys.executable, "-m", "farm.cli"]


def farm(*args: str, capsys) -> tuple[int, str, str]:
    code = cli.main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_validate_accepts_the_example(example_path, capsys):
    code, out, err = farm("validate", str(example_path), capsys=capsys)
    assert (code, err) == (0, "")
    assert "valid: 8 variants in 3 products (children chosen by the stack's sizing model" in out


BROKEN = [
    (
        ("products", 0, "variants", 3, "color"),
        "#12",
        "/products/0/variants/3/color: '#12' is not a colour as #RRGGBB",
    ),
    (
        ("products", 1, "template"),
        "poster",
        "/products/1/template: 'poster' is not one of card, banner, swatch",
    ),
    (
        ("products", 2, "price", "amount"),
        "9,50",
        "/products/2/price/amount: '9,50' is not a non-negative decimal",
    ),
    (("products", 2, "price", "currency"), "EURO", "/products/2/price/currency: 'EURO' is not an ISO 4217"),
    (
        ("products", 0, "product_id"),
        "../../etc",
        "/products/0/product_id: '../../etc' is not an identifier safe",
    ),
    (
        ("products", 1, "variants", 0, "sku"),
        "SOCK-MW-OAT",
        "/products/2/variants/1/sku: duplicate SKU (first at /products/1/variants/0/sku)",
    ),
    (("products", 0, "name"), "", "/products/0/name: has 0 characters; at least 1 allowed"),
    (("defaults", "canvas", "width"), "800", "/defaults/canvas/width: '800' is not of type integer"),
    (("catalog_id",), None, "/catalog_id: None is not of type string"),
]


@pytest.mark.parametrize(("path", "value", "line"), BROKEN, ids=[b[2].split(":")[0] for b in BROKEN])
def test_validate_reports_each_broken_variant_precisely(example_doc, tmp_path, capsys, path, value, line):
    doc = copy.deepcopy(example_doc)
    node = doc
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    spec = tmp_path / "broken.json"
    spec.write_text(json.dumps(doc))
    code, out, err = farm("validate", str(spec), capsys=capsys)
    assert code == 2 and out == ""
    assert err.splitlines()[0].startswith(line), err


@pytest.mark.parametrize(
    ("content", "line"),
    [
        (b"", "/: empty document: expected a JSON object"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "/: not UTF-8 text (byte 0x89 at offset 0)"),
        (b"{'single': 'quotes'}", "/: not valid JSON: Expecting property name enclosed in double quotes"),
        (b"[]", "/: [] is not of type object"),
        (b'"just a string"', "/: 'just a string' is not of type object"),
        (b"[" * 50_000, "/: not valid JSON: nested too deeply"),
        (b"9" * 5000, "/: not valid JSON: Exceeds the limit"),
    ],
)
def test_validate_survives_any_file(tmp_path, capsys, content, line):
    spec = tmp_path / "input.json"
    spec.write_bytes(content)
    code, out, err = farm("validate", str(spec), capsys=capsys)
    assert code == 2 and err.startswith(line), err
    assert "Traceback" not in err


def test_validate_lists_the_first_100_problems_then_how_many_more(tmp_path, capsys):
    doc = generated_spec(1, 250)
    for variant in doc["products"][0]["variants"]:
        variant["color"] = "nope"
    spec = tmp_path / "broken.json"
    spec.write_text(json.dumps(doc))
    code, out, err = farm("validate", str(spec), capsys=capsys)
    lines = err.splitlines()
    assert (code, out, len(lines)) == (2, "", 101)
    assert lines[0].startswith("/products/0/variants/0/color: 'nope' is not a colour")
    assert lines[99].startswith("/products/0/variants/99/color: ")
    assert lines[100] == "... and 150 more problems"


def test_validate_missing_file_directory_and_huge_file_without_traceback(tmp_path):
    huge = tmp_path / "huge.json"
    with huge.open("wb") as handle:
        handle.truncate(64 * 1024 * 1024 + 1)  # sparse: costs no disk
    for target, line in [
        (tmp_path / "nope.json", "does not exist"),
        (tmp_path, "is a directory"),
        (huge, "is 67108865 bytes; the limit is 67108864"),
    ]:
        result = subprocess.run([*FARM, "validate", str(target)], capture_output=True, cwd=ROOT, timeout=60)
        assert result.returncode == 2
        assert line in result.stderr.decode() and "Traceback" not in result.stderr.decode()


def test_render_the_example_twice_byte_identical(example_path, tmp_path):
    out = tmp_path / "renders"
    first = subprocess.run(
        [*FARM, "render", str(example_path), "--out", str(out)], capture_output=True, cwd=ROOT
    )
    assert first.returncode == 0, first.stderr.decode()
    assert "rendered 8 variants" in first.stdout.decode()
    assert "\x1b[" not in first.stdout.decode()  # no progress bar when stdout is not a terminal
    svgs = sorted(out.rglob("*.svg"))
    assert len(svgs) == 8
    assert sorted(p.name for p in out.iterdir() if p.is_file()) == ["index.html", "manifest.json"]
    for svg in svgs:
        body = svg.read_bytes()
        parse_xml(body)
        assert_inert(body)
        assert b"<script" not in body.lower()
    manifest = json.loads((out / "manifest.json").read_text())
    schemas.validator("manifest").validate(manifest)
    assert [v["key"] for v in manifest["variants"]][:2] == [
        "tee-classic/TEE-CL-RED-M.svg",
        "tee-classic/TEE-CL-RED-L.svg",
    ]
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}

    second = subprocess.run(
        [*FARM, "render", str(example_path), "--out", str(out), "--jobs", "2"], capture_output=True, cwd=ROOT
    )
    assert second.returncode == 0, second.stderr.decode()
    after = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    assert after == before
    assert [p.name for p in tmp_path.iterdir()] == ["renders"]  # no temporary directory left behind


def test_render_in_parallel_matches_serial(tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text(json.dumps(generated_spec(5, 420)))
    assert farm("render", str(spec), "--out", str(tmp_path / "a"), "--jobs", "1", capsys=capsys)[0] == 0
    assert farm("render", str(spec), "--out", str(tmp_path / "b"), "--jobs", "2", capsys=capsys)[0] == 0

    def tree(root: Path) -> dict[str, bytes]:
        return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}

    a, b = tree(tmp_path / "a"), tree(tmp_path / "b")
    assert len(a) == 2102 and a == b


def test_render_of_an_invalid_spec_writes_nothing(example_doc, tmp_path, capsys):
    example_doc["products"][0]["variants"][0]["color"] = "blue"
    spec = tmp_path / "bad.json"
    spec.write_text(json.dumps(example_doc))
    code, _, err = farm("render", str(spec), "--out", str(tmp_path / "out"), capsys=capsys)
    assert code == 2 and err.startswith("/products/0/variants/0/color:")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.json"]


def test_render_does_not_replace_a_directory_it_did_not_write(example_path, tmp_path, capsys):
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.txt").write_text("keep me")
    code, _, err = farm("render", str(example_path), "--out", str(precious), capsys=capsys)
    assert code == 1 and "not an earlier `farm render` output" in err
    assert (precious / "thesis.txt").read_text() == "keep me"


def test_render_failure_midway_leaves_the_previous_output(example_path, tmp_path, capsys, monkeypatch):
    out = tmp_path / "out"
    assert farm("render", str(example_path), "--out", str(out), capsys=capsys)[0] == 0
    before = sorted(p.relative_to(out) for p in out.rglob("*"))

    from render_worker import render

    calls = {"n": 0}
    original = render.Renderer.render

    def flaky(self, product, variant):
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("disk on fire")
        return original(self, product, variant)

    monkeypatch.setattr(render.Renderer, "render", flaky)
    code, _, err = farm("render", str(example_path), "--out", str(out), capsys=capsys)
    assert code == 1 and "nothing written" in err and "disk on fire" in err
    assert sorted(p.relative_to(out) for p in out.rglob("*")) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_the_gallery_escapes_every_text(example_doc, tmp_path, capsys):
    example_doc["products"][0]["name"] = '<script>alert(1)</script> & "Tee"'
    example_doc["products"][0]["variants"][0]["color_name"] = "<img src=x onerror=alert(2)>"
    spec = tmp_path / "hostile.json"
    spec.write_text(json.dumps(example_doc))
    assert farm("render", str(spec), "--out", str(tmp_path / "out"), capsys=capsys)[0] == 0
    page = (tmp_path / "out" / "index.html").read_text()
    assert "<script" not in page and "<img src=x" not in page
    assert "&lt;img src=x onerror=alert(2)&gt;" in page  # shown as text, never as markup
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &quot;Tee&quot;" in page
    assert page.count("<img ") == 8 and "http" not in page.split("</head>")[1]
    assert "Content-Security-Policy" in page and "default-src 'none'" in page


def test_render_reports_a_failed_write_instead_of_an_incomplete_tree(
    example_path, tmp_path, capsys, monkeypatch
):
    from render_worker import storage

    original = storage.FileSink.put

    def full_disk(self, key, body, content_type=storage.SVG_TYPE):
        if key.endswith("MUG-EN-SAND.svg"):
            raise OSError(28, "No space left on device")
        return original(self, key, body, content_type)

    monkeypatch.setattr(storage.FileSink, "put", full_disk)
    code, _, err = farm("render", str(example_path), "--out", str(tmp_path / "out"), capsys=capsys)
    assert code == 1 and "1 variant(s) not written; first: #5 MUG-EN-SAND" in err
    assert list(tmp_path.iterdir()) == []
