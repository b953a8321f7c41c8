"""The worker image's Dockerfile, checked as text (tests/unit/harness/test_image.py checks its build context;
the live suites run jobs in the built image)."""

from __future__ import annotations

import re

from .conftest import ROOT

DOCKERFILE = (ROOT / "worker" / "Dockerfile").read_text()


def instructions(name: str) -> list[str]:
    """The arguments of every `NAME ...` instruction, continuation lines joined."""
    joined = re.sub(r"\\\n\s*", " ", DOCKERFILE)
    return [m.group(1).strip() for m in re.finditer(rf"^{name}\s+(.*)$", joined, re.M)]


def test_the_base_is_a_build_argument_defaulting_to_the_official_slim_image():
    assert instructions("ARG")[0] == "BASE_IMAGE=python:3.11-slim"
    assert instructions("FROM") == ["${BASE_IMAGE}"]


def test_runs_as_10001_with_no_entry_point_and_the_worker_as_cmd():
    users = instructions("USER")
    assert users and users[-1].split(":")[0] == "10001"
    assert not instructions("ENTRYPOINT")
    assert instructions("CMD") == ['["python", "-m", "render_worker"]']
    assert "COPY schemas/*.schema.json /app/render_worker/schemas/" in DOCKERFILE


def test_dependencies_come_from_the_lock_only_hash_checked_in_a_venv():
    assert "==" not in DOCKERFILE  # the pins live in requirements/runtime.txt (from pyproject.toml)
    assert "COPY requirements/runtime.txt " in DOCKERFILE
    runs = " ".join(instructions("RUN"))
    assert "python3 -m venv /opt/venv" in runs
    assert re.search(r"/opt/venv/bin/pip install --no-deps --require-hashes -r \S*runtime\.txt", runs)
    assert any(
        env.startswith("PYTHONDONTWRITEBYTECODE") and "PATH=/opt/venv/bin:$PATH" in env
        for env in instructions("ENV")
    )
