"""The `farm` CLI as a merchandiser installs it: the package and its runtime dependencies alone
(requirements/runtime.txt), no dev extras (rich, moto, pytest...) and no developer harness (outside a
checkout). Each case runs `farm` in a fresh interpreter, away from the repository, whose imports of any
distribution not in the runtime lock fail as they would on a plain install."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys

import pytest

from harness.paths import REPO

ROOT = REPO
RUNTIME_LOCK = ROOT / "requirements" / "runtime.txt"

PLAIN_INSTALL = """
import importlib.metadata, re, sys
from pathlib import Path

def name(text):
    return re.sub(r"[-_.]+", "-", text).lower()

pinned = [line for line in Path(sys.argv[1]).read_text().splitlines() if re.match(r"^[A-Za-z]", line)]
allowed = {"render-farm"} | {name(line.split("==")[0]) for line in pinned}
owners = importlib.metadata.packages_distributions()
CHECKOUT_ONLY = {"harness", "tests"}  # on a checkout's .venv path (the noxfile's .pth), never installed

class PlainInstall:
    '''Refuses a top-level module whose distribution is not in the runtime lock (a dev extra).'''
    def find_spec(self, fullname, path=None, target=None):
        top = fullname.partition(".")[0]
        dists = owners.get(top)
        if top in CHECKOUT_ONLY or (dists and not any(name(d) in allowed for d in dists)):
            raise ModuleNotFoundError(f"No module named {top!r} (not in a plain install)", name=top)
        return None

sys.meta_path.insert(0, PlainInstall())
if sys.argv[2] == "--probe":
    exec(sys.argv[3])
    sys.exit(0)
sys.argv = ["farm", *sys.argv[2:]]
from farm.cli import main
sys.exit(main())
"""


def plain_farm(*argv: str) -> list[str]:
    """argv of `farm ARGV` in an interpreter that imports only what a plain install has."""
    return [sys.executable, "-c", PLAIN_INSTALL, str(RUNTIME_LOCK), *argv]


def env_without_outputs() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in ("FARM_OUTPUTS_JSON", "FARM_ENV")}


def test_the_dev_extras_and_the_harness_are_really_out_of_reach(tmp_path):
    probe = (
        "import importlib\n"
        "for module in ('rich', 'moto', 'pytest', 'locust', 'harness'):\n"
        "    try:\n"
        "        importlib.import_module(module)\n"
        "    except ModuleNotFoundError:\n"
        "        continue\n"
        "    raise SystemExit(f'{module} imported')\n"
        "import farm.client, farm.remote, farm.progress, farm.offline, farm.consumer, boto3, jsonschema\n"
    )
    done = subprocess.run(
        plain_farm("--probe", probe), cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("command", ["submit", "status", "ls", "logs", "cancel", "rerun", "fetch", "render"])
def test_every_command_has_help(tmp_path, command):
    done = subprocess.run(
        plain_farm(command, "--help"), cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stderr
    assert f"usage: farm {command}" in done.stdout


def test_a_command_without_saved_outputs_says_what_to_set(tmp_path):
    done = subprocess.run(
        plain_farm("status", "run-1"),
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        env=env_without_outputs(),
    )
    assert done.returncode == 3, done.stderr
    assert "FARM_OUTPUTS_JSON" in done.stderr and "Traceback" not in done.stderr


def test_render_draws_its_progress_bar_on_a_terminal(tmp_path):
    leader, follower = pty.openpty()
    child = subprocess.Popen(
        plain_farm("render", str(ROOT / "examples" / "catalog.example.json"), "--out", "out"),
        stdout=follower,
        stderr=subprocess.PIPE,
        cwd=tmp_path,
        env={**os.environ, "TERM": "xterm", "COLUMNS": "100"},
    )
    os.close(follower)
    shown = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:  # the child closed the terminal
            break
        if not chunk:
            break
        shown += chunk
    os.close(leader)
    assert child.wait(timeout=60) == 0, child.stderr.read()
    assert re.search(rb"\r\[ *[0-9.]+s\] rendering \|#+\| 8/8 variants", shown), shown
    assert b"\x1b[K" in shown and b"rendered 8 variants" in shown
    assert (tmp_path / "out" / "index.html").is_file()
