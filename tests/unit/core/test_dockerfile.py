"""The worker image's Dockerfile (no Docker engine here: checked as text, and its pin-reading step run)."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib

from .conftest import ROOT

DOCKERFILE = (ROOT / "worker" / "Dockerfile").read_text()


def test_slim_base_non_root_user_and_entry_point():
    assert re.search(r"^FROM python:3\.\d+-slim\b", DOCKERFILE, re.M)
    users = re.findall(r"^USER (\S+)", DOCKERFILE, re.M)
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert 'ENTRYPOINT ["python", "-m", "render_worker"]' in DOCKERFILE
    assert "COPY schemas/*.schema.json /app/render_worker/schemas/" in DOCKERFILE


def test_pins_live_only_in_pyproject():
    assert "==" not in DOCKERFILE
    step = re.search(r'RUN (python -c "import tomllib;.*?") \\\n\s*> /tmp/requirements.txt', DOCKERFILE, re.S)
    assert step, "the Dockerfile must derive its requirements from pyproject.toml"
    in_image = "/tmp/pyproject.toml"  # noqa: S108 - the path inside the image build, not used here
    command = step.group(1).replace(in_image, str(ROOT / "pyproject.toml"))
    python_code = command.removeprefix('python -c "').removesuffix('"')  # the shell keeps \n for Python
    printed = subprocess.run([sys.executable, "-c", python_code], capture_output=True, text=True, check=True)
    pinned = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    assert printed.stdout.split() == pinned and all("==" in pin for pin in pinned)
