"""The lock (requirements/*.txt) agrees with the pins of pyproject.toml: `nox -s lock` ran after a change."""

from __future__ import annotations

import re
import tomllib

import pytest

from harness import lambda_zips

ROOT = lambda_zips.REPO
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
RUNTIME = {pin.name: pin for pin in lambda_zips.locked_pins(ROOT / "requirements" / "runtime.txt")}
DEV = {pin.name: pin for pin in lambda_zips.locked_pins(ROOT / "requirements" / "dev.txt")}
STALE = "pyproject.toml and requirements/ disagree: run `nox -s lock`"


def direct(pins: list[str]) -> dict[str, str]:
    found = {}
    for pin in pins:
        name, version = re.fullmatch(r"([A-Za-z0-9._-]+)(?:\[[^\]]*\])?==(\S+)", pin).groups()
        found[lambda_zips.canonical(name)] = version
    return found


@pytest.mark.parametrize(
    ("lock", "pins"),
    [
        (RUNTIME, PROJECT["dependencies"]),
        (DEV, PROJECT["dependencies"] + PROJECT["optional-dependencies"]["dev"]),
    ],
    ids=["runtime", "dev"],
)
def test_every_direct_pin_is_locked_at_its_version(lock, pins):
    for name, version in direct(pins).items():
        assert name in lock and lock[name].version == version, f"{name}=={version}: {STALE}"


def test_the_runtime_lock_is_the_dev_locks_subset_with_hashes():
    assert RUNTIME and set(RUNTIME) <= set(DEV)
    for name, pin in RUNTIME.items():
        assert pin.version == DEV[name].version, f"{name}: {STALE}"
        assert pin.hashes and all(h.startswith("sha256:") for h in pin.hashes), name


def test_the_runtime_lock_holds_no_development_tool():
    assert not {"moto", "pytest", "ruff", "locust", "bcrypt"} & set(RUNTIME)
