"""Headless Chromium for the tests: the DOM of a page after its scripts have run, and screenshots.

Each call starts a fresh Chromium (a new temporary profile, its own process group) and ends it: nothing is
left running, whatever happens (the whole group is killed after the call, and after `timeout` s at the
latest). The machine may have no network, so everything Chromium would fetch on its own is switched off.

Waiting for the page's JavaScript: `--virtual-time-budget=MS` runs the page on virtual time, which advances
only while nothing is being fetched, so MS of timers (a poll every second: MS / 1000 polls) and every fetch
they start complete before the DOM is dumped or the screenshot taken, however slow the server answers (the
timeout still bounds it in wall time). Measured on Chromium 156: 1,500 ms show the page after two polls of
/api/run; a dump takes 1-3 s, a 1,000-image page included. `--run-all-compositor-stages-before-draw` is not
needed for either. Native `loading="lazy"` is not honoured on virtual time (every image of the page is
fetched first): pages that list thousands of images load them near the viewport themselves.

Chromium missing is an error (BrowserMissing), never a skip: the suites that use it must fail where it is
not installed (CI installs the Debian package `chromium`). $FARM_CHROMIUM names another binary.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

TIMEOUT_S = 60.0
FLAGS = (
    "--headless",
    "--no-sandbox",  # root in containers and CI
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-extensions",
    "--disable-dev-shm-usage",  # a container's small /dev/shm
    "--no-proxy-server",
    "--hide-scrollbars",
    "--mute-audio",
)


class BrowserMissing(RuntimeError):
    """No Chromium to run."""


class BrowserFailed(RuntimeError):
    """Chromium exited non-zero, produced nothing, or ran past its timeout."""


def chromium() -> str:
    found = os.environ.get("FARM_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise BrowserMissing(
            "headless Chromium is not installed (no `chromium` on PATH, $FARM_CHROMIUM unset): install the "
            "Debian package `chromium` (apt-get install chromium); these tests need it and do not skip"
        )
    return found


def dump_dom(url: str, wait_ms: int = 2000, timeout: float = TIMEOUT_S) -> str:
    """The page's DOM (serialized HTML) after `wait_ms` ms of virtual time: its scripts, their timers and
    the fetches they started have run."""
    out = _run(["--dump-dom", f"--virtual-time-budget={int(wait_ms)}", url], timeout)
    if "<html" not in out.lower():
        raise BrowserFailed(f"chromium --dump-dom {url}: no document in its output: {out[:500]!r}")
    return out


def screenshot(
    url: str,
    path: str | Path,
    size: tuple[int, int] = (1280, 900),
    wait_ms: int = 2000,
    timeout: float = TIMEOUT_S,
) -> Path:
    """A PNG of the page's first `size` pixels after `wait_ms` ms of virtual time (as dump_dom)."""
    path = Path(path).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    width, height = size
    _run(
        [
            f"--screenshot={path}",
            f"--window-size={int(width)},{int(height)}",
            f"--virtual-time-budget={int(wait_ms)}",
            url,
        ],
        timeout,
    )
    if not path.is_file() or path.read_bytes()[:8] != b"\x89PNG\r\n\x1a\n":
        raise BrowserFailed(f"chromium --screenshot {url}: no PNG written to {path}")
    return path


def _run(args: list[str], timeout: float) -> str:
    """Chromium with FLAGS, a fresh profile and `args`; its stdout. Its process group is killed when it
    returns (or at `timeout`), so no helper process outlives the call."""
    binary = chromium()
    with tempfile.TemporaryDirectory(prefix="farm-chromium-", ignore_cleanup_errors=True) as profile:
        argv = [binary, *FLAGS, f"--user-data-dir={profile}", *args]
        process = subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # its own process group: killed as one below
            env={**os.environ, "HOME": profile},
        )
        try:
            out, err = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            _kill_group(process.pid)
            process.communicate()
            raise BrowserFailed(f"chromium {' '.join(args)}: still running after {timeout:.0f} s") from None
        finally:
            _kill_group(process.pid)
    if process.returncode != 0:
        tail = "\n".join(err.decode(errors="replace").splitlines()[-20:])
        raise BrowserFailed(f"chromium {' '.join(args)} exited {process.returncode}:\n{tail}")
    return out.decode(errors="replace")


def _kill_group(group: int) -> None:
    """SIGKILL the process group Chromium leads (its zygote, GPU and utility helpers), then wait (at most 5 s)
    until none of it runs. Killed helpers stay zombies until init reaps them: those run nothing."""
    try:
        os.killpg(group, signal.SIGKILL)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + 5
    while _running_in_group(group) and time.monotonic() < deadline:
        time.sleep(0.02)


def _running_in_group(group: int) -> bool:
    """Whether a process of `group` is still running (not a zombie); without /proc, whether any exists."""
    proc = Path("/proc")
    if not proc.is_dir():
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return False
        return True
    for stat in proc.glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue  # gone meanwhile
        state, pgrp = fields[0], int(fields[2])
        if pgrp == group and state not in ("Z", "X"):
            return True
    return False
