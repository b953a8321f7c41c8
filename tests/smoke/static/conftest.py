"""Fixtures of the static suite: one private local cloud per session and one plan per env, made once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.smoke.static import plans


@pytest.fixture(scope="session")
def static_endpoint():
    with plans.local_cloud() as endpoint:
        yield endpoint


@pytest.fixture(scope="session")
def plan_of(static_endpoint, tmp_path_factory):
    """plan_of(env) -> the `terraform show -json` dict of a fresh plan of envs/<env> (cached per session)."""
    cache: dict[str, dict[str, Any]] = {}

    def get(env: str) -> dict[str, Any]:
        if env not in cache:
            workdir: Path = tmp_path_factory.mktemp(f"plan-{env}")
            cache[env] = plans.plan_env(env, static_endpoint, workdir)
        return cache[env]

    return get
