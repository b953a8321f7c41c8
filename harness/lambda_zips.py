"""Build the Lambda zips: `python -m harness.lambda_zips` (both envs get the same zips).

Each zip holds `handler.py` (and any other .py of lambdas/<name>/) at the root, the `render_worker` package,
the schemas at `render_worker/schemas/*.json`, and the runtime dependencies the Lambda runtime lacks, vendored
at the root. Zips are byte-for-byte reproducible (sorted entries, fixed timestamps and permissions), so
`filebase64sha256` in Terraform is stable and a second plan shows no change.

Vendored: the lock's runtime closure (requirements/runtime.txt) minus what the AWS Lambda Python runtime ships
(boto3 and its closure), as manylinux2014 wheels for CPython 3.11 (the functions' runtime, python3.11; the
local cloud runs the same zips on Python 3.11 in container mode). Wheels are fetched once with `pip download`
(hash-checked against the lock) into build/wheels/, unpacked once into build/vendor/<key>/: a second build is
offline and byte-identical.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from harness.paths import REPO
from localcloud import filelock  # no moto: the aws zips need nothing of the local cloud

LAMBDAS_DIR = REPO / "lambdas"
WORKER_PACKAGE = REPO / "worker" / "render_worker"
SCHEMAS_DIR = REPO / "schemas"
RUNTIME_LOCK = REPO / "requirements" / "runtime.txt"
OUT_DIR = REPO / "build" / "lambdas"
OUT_DIRS = {"local": OUT_DIR, "aws": OUT_DIR}  # one flavour: the local cloud runs what AWS runs
WHEELS_DIR = REPO / "build" / "wheels"
VENDOR_DIR = REPO / "build" / "vendor"
FUNCTIONS = ("validate_input", "publish_results")

FIXED_DATE = (1980, 1, 1, 0, 0, 0)  # the earliest date a zip can hold
FILE_MODE = 0o100644  # regular file, rw-r--r--
# What the AWS Lambda Python runtime provides besides the standard library (boto3 and its dependencies).
RUNTIME_PROVIDED = {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
LAMBDA_PYTHON = "3.11"
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


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Pin:
    name: str  # canonical
    version: str
    hashes: tuple[str, ...]  # "sha256:<hex>", as in the lock

    def requirement(self) -> str:
        return f"{self.name}=={self.version}" + "".join(f" --hash={h}" for h in self.hashes)


_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==(\S+)")


def locked_pins(lock: Path = RUNTIME_LOCK) -> list[Pin]:
    """Every `name==version` of a uv/pip-compile lock, with its --hash values (on the lines that follow)."""
    if not lock.is_file():
        raise FileNotFoundError(f"{lock} is missing: `nox -s lock` writes it from pyproject.toml")
    found: dict[str, tuple[str, list[str]]] = {}
    current: list[str] = []
    for line in lock.read_text().splitlines():
        match = _PIN.match(line)
        if match:
            current = []
            found[canonical(match.group(1))] = (match.group(2).rstrip("\\"), current)
        current += re.findall(r"--hash=(\S+)", line)
    return [Pin(name, version, tuple(hashes)) for name, (version, hashes) in sorted(found.items())]


def runtime_requirements(lock: Path = RUNTIME_LOCK) -> list[Pin]:
    """The lock's runtime closure minus what the Lambda runtime already has (boto3 and its family)."""
    return [pin for pin in locked_pins(lock) if pin.name not in RUNTIME_PROVIDED]


def pip_download_command(requirements_file: Path, dest: Path) -> list[str]:
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--quiet",
        "--disable-pip-version-check",
        "--no-deps",  # the lock is already the closure
        "--require-hashes",
        "--only-binary=:all:",
        "--platform",
        LAMBDA_PLATFORM,
        "--python-version",
        LAMBDA_PYTHON,
        "--implementation",
        "cp",
        "--dest",
        str(dest),
        "-r",
        str(requirements_file),
    ]


def _sha256(path: Path) -> str:
    return "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()


def wheel_for(pin: Pin, wheels: Path) -> Path | None:
    """The downloaded wheel of a pin: its name and version, and a hash the lock lists."""
    if not wheels.is_dir():
        return None
    for path in sorted(wheels.glob("*.whl")):
        name, version = path.name.split("-")[:2]
        if canonical(name) == pin.name and version == pin.version and _sha256(path) in pin.hashes:
            return path
    return None


def fetch_wheels(pins: Sequence[Pin], wheels: Path = WHEELS_DIR) -> dict[str, Path]:
    """{name: wheel} for every pin, downloading (once) only the wheels not already in `wheels`."""
    missing = [pin for pin in pins if wheel_for(pin, wheels) is None]
    if missing:
        wheels.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(prefix="farm-wheels-") as tmp:
            requirements = Path(tmp) / "requirements.txt"
            requirements.write_text("".join(pin.requirement() + "\n" for pin in missing))
            try:
                subprocess.run(pip_download_command(requirements, wheels), check=True)
            except subprocess.CalledProcessError as err:
                names = ", ".join(f"{p.name}=={p.version}" for p in missing)
                raise SystemExit(
                    f"could not download {names} for the Lambda runtime (pip exit {err.returncode}); the "
                    "zips need PyPI or a configured index (PIP_INDEX_URL) the first time"
                ) from err
    found = {pin.name: wheel_for(pin, wheels) for pin in pins}
    absent = sorted(name for name, path in found.items() if path is None)
    if absent:
        raise SystemExit(f"no {LAMBDA_PLATFORM} cp{LAMBDA_PYTHON} wheel matching the lock for {absent}")
    return found  # type: ignore[return-value]


def unpack_wheel(wheel: Path, dest: Path) -> None:
    """Install a wheel's files as pip --target would: purelib/platlib of `<dist>.data/` at the root too;
    its scripts and headers left out (useless in a Lambda)."""
    with zipfile.ZipFile(wheel) as archive:
        for info in archive.infolist():
            if info.is_dir():
                continue
            name = info.filename
            parts = name.split("/")
            if parts[0].endswith(".data"):
                if len(parts) < 3 or parts[1] not in ("purelib", "platlib"):
                    continue
                name = "/".join(parts[2:])
            target = dest / name
            if ".." in Path(name).parts or Path(name).is_absolute():
                raise SystemExit(f"{wheel.name}: refusing the path {info.filename!r}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(archive.read(info))


def vendor_key(pins: Sequence[Pin]) -> str:
    text = f"{LAMBDA_PLATFORM} cp{LAMBDA_PYTHON}\n" + "".join(p.requirement() + "\n" for p in pins)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _vendor_lock(vendor_root: Path):
    """One download/unpack at a time (parallel test workers build the zips too)."""
    return filelock.exclusive(vendor_root / ".lock")


def vendor(
    lock: Path = RUNTIME_LOCK, wheels: Path = WHEELS_DIR, vendor_root: Path = VENDOR_DIR
) -> tuple[Path, list[Pin]]:
    """The unpacked vendored dependencies for the lock (made once per lock) and their pins."""
    pins = runtime_requirements(lock)
    dest = vendor_root / vendor_key(pins)
    if (dest / ".complete").is_file():
        return dest, pins
    with _vendor_lock(vendor_root):
        if (dest / ".complete").is_file():  # made by whoever held the lock before us
            return dest, pins
        found = fetch_wheels(pins, wheels)
        tmp = Path(tempfile.mkdtemp(prefix=".unpacking-", dir=vendor_root))
        try:
            for pin in pins:
                unpack_wheel(found[pin.name], tmp)
            (tmp / ".complete").write_text("".join(f"{p.name}=={p.version}\n" for p in pins))
            if dest.exists():  # left incomplete by a crash before this lock existed
                shutil.rmtree(dest)
            os.replace(tmp, dest)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
    return dest, pins


def build(target: str = "local") -> list[Path]:
    """Build every function's zip into OUT_DIRS[target] (the same zips for both targets)."""
    out_dir = OUT_DIRS[target]
    vendor_dir, pins = vendor()
    print(f"vendored: {', '.join(f'{p.name}=={p.version}' for p in pins)}")
    built = []
    for name in FUNCTIONS:
        path = out_dir / f"{name}.zip"
        changed = write_zip(path, function_entries(name, vendor_dir))
        print(f"{'built' if changed else 'unchanged'}: {path.relative_to(REPO)}")
        built.append(path)
    return built


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m harness.lambda_zips", description=__doc__.splitlines()[0]
    )
    parser.add_argument(
        "--target", choices=sorted(OUT_DIRS), default="local", help="kept for scripts: same zips"
    )
    args = parser.parse_args(argv)
    build(args.target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
