"""Build the Lambda zips: `python -m farm.lambda_zips [--target local|aws]`.

Each zip holds `handler.py` (and any other .py of lambdas/<name>/) at the root, the `render_worker` package
and the schemas at `render_worker/schemas/*.json`. Zips are byte-for-byte reproducible (sorted entries, fixed
timestamps and permissions), so `filebase64sha256` in Terraform is stable and a second plan shows no change.

local: no third-party packages (the local cloud runs Lambdas with the project's Python).
aws:   the runtime dependencies from pyproject.toml (minus boto3, which the Lambda runtime provides) are
       vendored as manylinux wheels for Python 3.12, fetched with pip (needs PyPI or a configured index).
"""

from __future__ import annotations

import argparse
import io
import re
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from collections.abc import Iterable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
LAMBDAS_DIR = REPO / "lambdas"
WORKER_PACKAGE = REPO / "worker" / "render_worker"
SCHEMAS_DIR = REPO / "schemas"
OUT_DIRS = {"local": REPO / "build" / "lambdas", "aws": REPO / "build" / "lambdas" / "aws"}
FUNCTIONS = ("validate_input", "publish_results")

FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold
FILE_MODE = 0o100644  # regular file, rw-r--r--
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer"}
LAMBDA_PYTHON = "3.12"
LAMBDA_PLATFORM = "manylinux2014_x86_64"
_SKIPPED_PARTS = {"__pycache__", ".pytest_cache", "tests"}


def _wanted(path: Path, base: Path) -> bool:
    rel = path.relative_to(base)
    return path.is_file() and not (_SKIPPED_PARTS & set(rel.parts)) and path.suffix not in (".pyc", ".pyo")


def tree_entries(base: Path, prefix: str) -> dict[str, Path]:
    """Every file under base as {arcname: path}, arcnames under prefix, without caches."""
    return {
        f"{prefix}{p.relative_to(base).as_posix()}": p for p in sorted(base.rglob("*")) if _wanted(p, base)
    }


def function_entries(name: str, vendor_dir: Path | None = None) -> dict[str, Path]:
    handler_dir = LAMBDAS_DIR / name
    if not (handler_dir / "handler.py").is_file():
        raise FileNotFoundError(f"{handler_dir / 'handler.py'} is missing")
    entries: dict[str, Path] = {}
    if vendor_dir is not None:
        # console scripts (bin/) are useless in a Lambda and carry the build machine's interpreter path
        entries.update({k: v for k, v in tree_entries(vendor_dir, "").items() if not k.startswith("bin/")})
    entries.update({p.name: p for p in sorted(handler_dir.glob("*.py"))})
    entries.update(tree_entries(WORKER_PACKAGE, "render_worker/"))
    entries.update({f"render_worker/schemas/{p.name}": p for p in sorted(SCHEMAS_DIR.glob("*.json"))})
    return entries


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    """A reproducible zip: sorted names, fixed date, fixed mode, fixed compression level."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=FIXED_DATE)
            info.external_attr = FILE_MODE << 16
            info.create_system = 3  # unix, whatever machine builds it
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, entries[name], compresslevel=9)
    return buffer.getvalue()


def write_zip(path: Path, entries: dict[str, Path]) -> bool:
    """Write the zip only when its bytes change. True when written."""
    data = zip_bytes({name: src.read_bytes() for name, src in entries.items()})
    if path.exists() and path.read_bytes() == data:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".zip.tmp")
    tmp.write_bytes(data)
    tmp.replace(path)
    return True


def runtime_requirements(pyproject: Path = REPO / "pyproject.toml") -> list[str]:
    """[project] dependencies minus what the Lambda runtime already has (boto3 and its family)."""
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return [d for d in deps if re.split(r"[\s=<>!~\[;]", d, maxsplit=1)[0].lower() not in RUNTIME_PROVIDED]


def pip_vendor_command(requirements: Iterable[str], target: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pip",
        "install",
        "--quiet",
        "--no-compile",
        "--disable-pip-version-check",
        "--target",
        str(target),
        "--platform",
        LAMBDA_PLATFORM,
        "--only-binary=:all:",
        "--python-version",
        LAMBDA_PYTHON,
        "--implementation",
        "cp",
        *requirements,
    ]


def vendor(target: Path) -> None:
    requirements = runtime_requirements()
    try:
        subprocess.run(pip_vendor_command(requirements, target), check=True)
    except subprocess.CalledProcessError as err:
        raise SystemExit(
            f"could not vendor {requirements} for the Lambda runtime (pip exit {err.returncode}); "
            "the aws zips need PyPI or a configured index (PIP_INDEX_URL)"
        ) from err


def build(target: str = "local") -> list[Path]:
    out_dir = OUT_DIRS[target]
    built = []
    with tempfile.TemporaryDirectory(prefix="farm-vendor-") as tmp:
        vendor_dir = None
        if target == "aws":
            vendor_dir = Path(tmp)
            vendor(vendor_dir)
        for name in FUNCTIONS:
            path = out_dir / f"{name}.zip"
            changed = write_zip(path, function_entries(name, vendor_dir))
            print(f"{'built' if changed else 'unchanged'}: {path.relative_to(REPO)}")
            built.append(path)
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m farm.lambda_zips", description=__doc__.splitlines()[0])
    parser.add_argument("--target", choices=sorted(OUT_DIRS), default="local")
    args = parser.parse_args(argv)
    build(args.target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
