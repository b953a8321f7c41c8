"""`farm watch` on the deployed stack: a run of 2,000 SLOW- variants (test hook: each renders SLOW_DELAY_S
longer, so one child takes some 30-40 s) is watched by `farm watch RUN --exit-when-done` in a process of its
own; headless Chromium (tests/browser.py) loads the page half-way through and after the end.

The half-done screenshot is kept in build/watch/half-done.png; with FARM_UPDATE_SCREENSHOT=1 it also
becomes the README's image, docs/images/farm-watch.png.
"""

from __future__ import annotations

import json
import os
import queue
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from farm import watch
from harness.paths import BUILD, REPO
from tests import browser
from tests.conftest import LIVE_TIMEOUT, make_spec

pytestmark = pytest.mark.live

PRODUCTS, PER_PRODUCT = 20, 100
TOTAL = PRODUCTS * PER_PRODUCT  # one child renders them all (variants_per_child = TOTAL)
LINGER_S = 20  # the watch process serves this long after the run ended: the final page is read before
SHOTS = BUILD / "watch"
README_IMAGE = REPO / "docs" / "images" / "farm-watch.png"


def slow_spec() -> dict:
    return make_spec("watch", PRODUCTS, PER_PRODUCT, variants_per_child=TOTAL, sku_prefix="SLOW")


def farm_command() -> list[str]:
    """The `farm` console script of the environment running the tests (.venv/bin/farm under nox)."""
    script = Path(sys.executable).parent / "farm"
    return [str(script)] if script.is_file() else [sys.executable, "-m", "farm.cli"]


class WatchProcess:
    """`farm watch RUN --port 0 --exit-when-done` as an operator's script runs it; stdout read by a thread."""

    def __init__(self, run_id: str, env: dict[str, str], log: Path):
        self.log = log.open("w")
        argv = [*farm_command(), "watch", run_id, "--port", "0", "--exit-when-done"]
        self.process = subprocess.Popen(
            [*argv, "--linger", str(LINGER_S)], stdout=subprocess.PIPE, stderr=self.log, text=True, env=env
        )
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.out: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.out.append(line.rstrip("\n"))
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)

    def url(self, timeout: float = 60) -> str:
        try:
            first = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"farm watch printed no URL in {timeout:.0f} s: {self.stderr()}") from None
        assert first and re.fullmatch(r"http://127\.0\.0\.1:[0-9]+/", first), (first, self.stderr())
        return first

    def stderr(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log.close()


def api(url: str) -> dict:
    with urllib.request.urlopen(url + "api/run", timeout=10) as response:  # noqa: S310 (our own 127.0.0.1)
        return json.loads(response.read())


def test_watch_shows_a_run_filling_in_and_stops_when_it_succeeded(farm, stack, tmp_path):
    if not stack.outputs.get("test_hooks_enabled"):
        pytest.skip("the SLOW- hook needs a stack with test hooks (envs/local)")
    browser.chromium()  # missing: fail now, not after a 40 s run
    run_id = farm.new_run_id("watch")
    farm.client.submit(json.dumps(slow_spec()).encode(), run_id)
    watcher = WatchProcess(run_id, farm.cli_env, tmp_path / "watch.stderr")
    try:
        url = watcher.url()

        # Half-way: between 25% and 75% of the variants stored, by the children's progress objects.
        deadline = time.monotonic() + LIVE_TIMEOUT
        while True:
            state = farm.client.status(run_id)
            progress = state.progress
            if progress is not None and progress.total:
                assert progress.done <= 0.75 * TOTAL, (
                    f"run {run_id} passed 75% ({progress.done}/{TOTAL}) before it was seen between 25% "
                    "and 75%: make it slower"
                )
                if progress.done >= 0.25 * TOTAL:
                    break
            assert not state.finished, f"run {run_id} ended {state.shown_status} early: {state.error}"
            assert watcher.process.poll() is None, f"farm watch ended early: {watcher.stderr()}"
            assert time.monotonic() < deadline, f"run {run_id} never got half-way: {state}"
            time.sleep(0.5)

        half = browser.dump_dom(url, wait_ms=2000)
        shot = browser.screenshot(url, SHOTS / "half-done.png", size=(1280, 900), wait_ms=2000)
        shown = half.count('<img class="render"')
        assert 1 <= shown < TOTAL, f"{shown} renders on the half-done page"
        variants = re.search(r'<span id="variants">variants ([0-9,]+)/2,000( \(([^)]*)\))?</span>', half)
        assert variants, half[:3000]
        assert 0 < int(variants.group(1).replace(",", "")) < TOTAL
        assert variants.group(3) and re.fullmatch(r"[0-9,.]+/s, ETA .+", variants.group(3)), variants.group(0)
        assert '<span id="status" class="badge s-running">RUNNING</span>' in half
        assert '<section id="ended" hidden="">' in half
        print(f"farm watch, half-way: {shown} renders, variants {variants.group(1)}/2,000 ({shot})")
        if os.environ.get("FARM_UPDATE_SCREENSHOT") == "1":
            README_IMAGE.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(shot, README_IMAGE)
            print(f"README screenshot updated: {README_IMAGE}")

        # The end: the page shows SUCCEEDED and links the gallery; the process stops by itself, exit 0.
        final = farm.wait(run_id)
        assert final.status == "SUCCEEDED", f"{final.status}: {final.error} {final.cause}"
        deadline = time.monotonic() + 30
        while not ((seen := api(url))["finished"] and seen["gallery"] and seen["manifest"]):
            assert time.monotonic() < deadline, f"farm watch never showed the end: {seen}"
            time.sleep(0.5)
        done = browser.dump_dom(url, wait_ms=2000)
        browser.screenshot(url, SHOTS / "done.png", size=(1280, 900), wait_ms=2000)
        assert '<span id="status" class="badge s-succeeded">SUCCEEDED</span>' in done
        assert '<p id="ended-text" class="ended">run ended SUCCEEDED</p>' in done
        assert '<a id="gallery" href="/renders/index.html">' in done  # shown: no `hidden`
        assert '<a id="manifest" href="/renders/manifest.json">' in done
        assert "variants 2,000/2,000" in done
        assert done.count('<img class="render"') == min(TOTAL, watch.RENDERS_CAP)

        code = watcher.process.wait(timeout=LINGER_S + 60)
        assert code == 0, watcher.stderr()
        while watcher.lines.get(timeout=10) is not None:  # the reader has seen stdout to its end
            pass
        assert watcher.out[-1] == f"run {run_id} ended SUCCEEDED: farm watch stopped", watcher.out
    finally:
        watcher.stop()
