"""Lambda zips are reproducible and hold what the runtime needs, nothing more."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from farm import lambda_zips


@pytest.fixture
def sources(tmp_path, monkeypatch) -> Path:
    """A miniature repository: one Lambda, the worker package with a cache dir, two schemas."""
    (tmp_path / "lambdas" / "validate_input").mkdir(parents=True)
    (tmp_path / "lambdas" / "validate_input" / "handler.py").write_text(
        "def handler(event, context):\n    pass\n"
    )
    worker = tmp_path / "worker" / "render_worker"
    (worker / "__pycache__").mkdir(parents=True)
    (worker / "__init__.py").write_text("")
    (worker / "spec.py").write_text("X = 1\n")
    (worker / "__pycache__" / "spec.cpython-311.pyc").write_bytes(b"\0")
    (tmp_path / "schemas").mkdir()
    (tmp_path / "schemas" / "catalog.schema.json").write_text("{}")
    (tmp_path / "schemas" / "manifest.schema.json").write_text("{}")
    monkeypatch.setattr(lambda_zips, "LAMBDAS_DIR", tmp_path / "lambdas")
    monkeypatch.setattr(lambda_zips, "WORKER_PACKAGE", worker)
    monkeypatch.setattr(lambda_zips, "SCHEMAS_DIR", tmp_path / "schemas")
    return tmp_path


def test_entries_layout(sources):
    names = sorted(lambda_zips.function_entries("validate_input"))
    assert names == [
        "handler.py",
        "render_worker/__init__.py",
        "render_worker/schemas/catalog.schema.json",
        "render_worker/schemas/manifest.schema.json",
        "render_worker/spec.py",
    ]


def test_zip_is_byte_identical_across_builds_and_mtimes(sources, tmp_path):
    first, second = tmp_path / "a.zip", tmp_path / "b.zip"
    assert lambda_zips.write_zip(first, lambda_zips.function_entries("validate_input"))
    (sources / "worker" / "render_worker" / "spec.py").touch()  # a new mtime must not change the zip
    assert lambda_zips.write_zip(second, lambda_zips.function_entries("validate_input"))
    assert first.read_bytes() == second.read_bytes()
    assert not lambda_zips.write_zip(first, lambda_zips.function_entries("validate_input"))


def test_zip_entries_are_sorted_with_fixed_date_and_mode(sources, tmp_path):
    path = tmp_path / "f.zip"
    lambda_zips.write_zip(path, lambda_zips.function_entries("validate_input"))
    with zipfile.ZipFile(path) as archive:
        infos = archive.infolist()
        assert [i.filename for i in infos] == sorted(i.filename for i in infos)
        assert {i.date_time for i in infos} == {(1980, 1, 1, 0, 0, 0)}
        assert {i.external_attr >> 16 for i in infos} == {0o100644}
        assert not [i.filename for i in infos if "__pycache__" in i.filename or i.filename.endswith(".pyc")]
        assert archive.read("render_worker/spec.py") == b"X = 1\n"


def test_content_change_changes_the_zip(sources, tmp_path):
    path = tmp_path / "f.zip"
    lambda_zips.write_zip(path, lambda_zips.function_entries("validate_input"))
    before = path.read_bytes()
    (sources / "worker" / "render_worker" / "spec.py").write_text("X = 2\n")
    assert lambda_zips.write_zip(path, lambda_zips.function_entries("validate_input"))
    assert path.read_bytes() != before


def test_missing_handler_is_an_error(sources):
    with pytest.raises(FileNotFoundError, match="handler.py"):
        lambda_zips.function_entries("publish_results")


def test_vendored_packages_go_to_the_root_without_console_scripts(sources, tmp_path):
    vendor = tmp_path / "vendor"
    (vendor / "jsonschema").mkdir(parents=True)
    (vendor / "jsonschema" / "__init__.py").write_text("")
    (vendor / "bin").mkdir()
    (vendor / "bin" / "jsonschema").write_text("#!/usr/bin/python\n")
    names = lambda_zips.function_entries("validate_input", vendor)
    assert "jsonschema/__init__.py" in names
    assert "bin/jsonschema" not in names


def test_runtime_requirements_drop_what_the_lambda_runtime_has(tmp_path):
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\ndependencies = ["boto3==1.44.5", "jsonschema==4.26.0", "svgwrite==1.4.3"]\n'
    )
    assert lambda_zips.runtime_requirements(pyproject) == ["jsonschema==4.26.0", "svgwrite==1.4.3"]


def test_pip_command_targets_the_lambda_platform(tmp_path):
    cmd = lambda_zips.pip_vendor_command(["jsonschema==4.26.0"], tmp_path)
    joined = " ".join(cmd)
    for part in (
        "--platform manylinux2014_x86_64",
        "--only-binary=:all:",
        "--python-version 3.12",
        "--implementation cp",
        f"--target {tmp_path}",
    ):
        assert part in joined
    assert cmd[-1] == "jsonschema==4.26.0"
