"""Lambda zips are reproducible and hold what the runtime needs, nothing more."""

from __future__ import annotations

import hashlib
import re
import shutil
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness import lambda_zips


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


def make_wheel(directory: Path, name: str, version: str, files: dict[str, str]) -> str:
    """A minimal wheel file; returns its sha256 in the lock's notation."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name.replace('-', '_')}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as archive:
        for member, text in files.items():
            archive.writestr(member, text)
        archive.writestr(f"{name.replace('-', '_')}-{version}.dist-info/METADATA", f"Name: {name}\n")
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def locked(tmp_path) -> SimpleNamespace:
    """A lock in uv's format (boto3 and jmespath among the pins), and its wheels in a cache directory."""
    wheels = tmp_path / "wheels"
    sha_js = make_wheel(wheels, "jsonschema", "4.26.0", {"jsonschema/__init__.py": "V = 1\n"})
    sha_ty = make_wheel(
        wheels,
        "typing-extensions",
        "4.16.0",
        {"typing_extensions.py": "T = 1\n", "typing_extensions-4.16.0.data/scripts/tool": "#!/bin/sh\n"},
    )
    lock = tmp_path / "runtime.txt"
    lock.write_text(
        "# This file was autogenerated by uv via the following command:\n#    nox -s lock\n"
        "boto3==1.44.5 \\\n    --hash=sha256:aa\n    # via render-farm (pyproject.toml)\n"
        "jmespath==1.1.0 \\\n    --hash=sha256:bb \\\n    --hash=sha256:cc\n    # via boto3\n"
        f"jsonschema==4.26.0 \\\n    --hash=sha256:00 \\\n    --hash={sha_js}\n    # via render-farm\n"
        f"typing-extensions==4.16.0 \\\n    --hash={sha_ty}\n    # via referencing\n"
        "urllib3==2.8.0 \\\n    --hash=sha256:dd\n"
    )
    return SimpleNamespace(lock=lock, wheels=wheels, vendor=tmp_path / "vendor")


def test_the_lock_is_read_with_its_hashes(locked):
    pins = {pin.name: pin for pin in lambda_zips.locked_pins(locked.lock)}
    assert sorted(pins) == ["boto3", "jmespath", "jsonschema", "typing-extensions", "urllib3"]
    assert pins["jmespath"].version == "1.1.0" and pins["jmespath"].hashes == ("sha256:bb", "sha256:cc")
    assert pins["jsonschema"].requirement().startswith("jsonschema==4.26.0 --hash=sha256:00 --hash=sha256:")


def test_runtime_requirements_drop_what_the_lambda_runtime_has(locked):
    names = [pin.name for pin in lambda_zips.runtime_requirements(locked.lock)]
    assert names == ["jsonschema", "typing-extensions"]
    assert {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"} == set(
        lambda_zips.RUNTIME_PROVIDED
    )


def test_the_real_lock_vendors_the_renderers_dependencies_not_boto3():
    names = {pin.name for pin in lambda_zips.runtime_requirements()}
    assert {"jsonschema", "svgwrite"} <= names
    assert not names & lambda_zips.RUNTIME_PROVIDED


def test_pip_downloads_hash_checked_wheels_for_the_lambda_platform(tmp_path):
    cmd = lambda_zips.pip_download_command(tmp_path / "r.txt", tmp_path)
    joined = " ".join(cmd)
    for part in (
        "pip download",
        "--no-deps",
        "--require-hashes",
        "--only-binary=:all:",
        "--platform manylinux2014_x86_64",
        "--python-version 3.11",
        "--implementation cp",
        f"--dest {tmp_path}",
        f"-r {tmp_path / 'r.txt'}",
    ):
        assert part in joined


def test_zips_with_vendored_wheels_are_reproducible_offline_and_hold_no_boto3(sources, locked, monkeypatch):
    def offline(*args, **kwargs):
        raise AssertionError(f"no download expected: {args}")

    monkeypatch.setattr(lambda_zips.subprocess, "run", offline)  # every wheel is in the cache
    first_dir, pins = lambda_zips.vendor(locked.lock, locked.wheels, locked.vendor)
    assert [p.name for p in pins] == ["jsonschema", "typing-extensions"]
    entries = lambda_zips.function_entries("validate_input", first_dir)
    assert {"jsonschema/__init__.py", "typing_extensions.py", "handler.py"} <= set(entries)
    assert not [
        n for n in entries if n.startswith(("boto3", "botocore", "tool", "typing_extensions-4.16.0.data"))
    ]
    a, b = sources / "a.zip", sources / "b.zip"
    lambda_zips.write_zip(a, entries)
    shutil.rmtree(locked.vendor)  # unpacked again from the cached wheels: the same bytes
    second_dir, _ = lambda_zips.vendor(locked.lock, locked.wheels, locked.vendor)
    lambda_zips.write_zip(b, lambda_zips.function_entries("validate_input", second_dir))
    assert a.read_bytes() == b.read_bytes()


def test_a_wheel_that_does_not_match_the_locks_hash_is_downloaded_again(locked, monkeypatch):
    make_wheel(locked.wheels, "jsonschema", "4.26.0", {"jsonschema/__init__.py": "tampered\n"})
    downloads = []

    def download(cmd, check):
        downloads.append(Path(cmd[cmd.index("-r") + 1]).read_text())
        raise lambda_zips.subprocess.CalledProcessError(1, cmd)

    monkeypatch.setattr(lambda_zips.subprocess, "run", download)
    with pytest.raises(SystemExit, match="could not download jsonschema==4.26.0"):
        lambda_zips.vendor(locked.lock, locked.wheels, locked.vendor)
    assert downloads and downloads[0].startswith("jsonschema==4.26.0 --hash=sha256:00")
    assert "typing-extensions" not in downloads[0]


@pytest.mark.parametrize("env", ["local", "aws"])
def test_both_envs_run_the_python_the_wheels_are_for(env):
    """The stack's default runtime is the Python the zips vendor wheels for, and no env overrides it."""
    stack_vars = (lambda_zips.REPO / "modules" / "stack" / "variables.tf").read_text()
    block = stack_vars[stack_vars.index('variable "lambda_runtime"') :]
    default = rf'default\s*=\s*"python{re.escape(lambda_zips.LAMBDA_PYTHON)}"'
    assert re.search(default, block[: block.index("}")])
    main_tf = (lambda_zips.REPO / "envs" / env / "main.tf").read_text()
    assert not re.search(r"^\s*lambda_runtime\s*=", main_tf, re.M)
