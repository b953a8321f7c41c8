"""`farm watch` (farm.watch) over a fake client: the API, what /renders/ serves and refuses, the headers, the
exit codes; and the page itself in headless Chromium (tests/browser.py), filling in as the fake run lands."""

from __future__ import annotations

import argparse
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from botocore.exceptions import ClientError

from farm import watch
from farm.client import RunNotFound, RunState
from harness.paths import REPO
from render_worker.child_progress import RunProgress
from tests import browser

RUN = "watch-20260101T000000Z-abcd"
OTHER = "other-20260101T000000Z-ef01"
HOSTILE = "prod-0001/<img src=x onerror=alert(1)>.svg"
COLOURS = ["#D7263D", "#1B2A49", "#8DA47E", "#F46036", "#2E294E", "#1B998B"]


def svg(i: int) -> bytes:
    colour = COLOURS[i % len(COLOURS)]
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40" viewBox="0 0 40 40">'
        f'<rect width="40" height="40" fill="{colour}"/><text x="4" y="24" font-size="12">{i}</text></svg>'
    ).encode()


def render_keys(total: int) -> list[str]:
    """`total` render keys; the one at position 3 is the hostile one (a SKU that is HTML)."""
    keys = [f"prod-{i // 4:04d}/SKU-{i:04d}.svg" for i in range(total)]
    keys[3] = HOSTILE
    return keys


class FakeClient:
    """FarmClient's status / keys / get over canned objects that change between calls (thread-safe)."""

    def __init__(self, total: int = 12, finish_after: int | None = None, ending: str = "SUCCEEDED"):
        self.total = total
        self.order = render_keys(total)
        self.objects: dict[str, bytes] = {
            f"{RUN}/_parts/child-00000.json": b"{}",
            f"{RUN}/_progress/child-00000.json": b"{}",
            f"{OTHER}/prod-0000/SECRET.svg": svg(99),
        }
        self.status_value, self.error, self.cause = "RUNNING", None, None
        self.fail: Exception | None = None  # raised by status() and keys()
        self.fail_get: Exception | None = None
        self.finish_after, self.ending = finish_after, ending  # flip after that many status calls
        self.calls: list[tuple] = []
        self.lock = threading.Lock()

    def land(self, count: int) -> None:
        with self.lock:
            for i, key in enumerate(self.order[:count]):
                self.objects[f"{RUN}/{key}"] = svg(i)

    def landed(self) -> list[str]:
        return [k for k in self.order if f"{RUN}/{k}" in self.objects]

    def finish(self, status: str = "SUCCEEDED") -> None:
        if status == "SUCCEEDED":
            self.land(self.total)
            with self.lock:
                self.objects[f"{RUN}/manifest.json"] = b'{"run_id": "%s"}' % RUN.encode()
                self.objects[f"{RUN}/index.html"] = b"<!DOCTYPE html><html><body>gallery</body></html>"
        else:
            self.error = "RenderFailed"
            self.cause = json.dumps(
                {"errorType": "RenderFailed", "errorMessage": "child 1 failed: <script>alert(1)</script>"}
            )
        self.status_value = status

    # -- the client's interface --

    def status(self, run: str) -> RunState:
        with self.lock:
            self.calls.append(("status", run))
            calls = sum(1 for c in self.calls if c[0] == "status")
        if self.fail:
            raise self.fail
        if run != RUN:
            raise RunNotFound(f"no run {run!r} (execution arn:aws:states:::execution:farm:{run})")
        if self.finish_after is not None and calls > self.finish_after and self.status_value == "RUNNING":
            self.finish(self.ending)
        done = len(self.landed())
        finished = self.status_value != "RUNNING"
        return RunState(
            run_id=RUN,
            execution_arn=f"arn:aws:states:us-east-1:000000000000:execution:farm:{RUN}",
            status=self.status_value,
            step="PublishResults" if finished else "RenderArray",
            job_id="job-1",
            children_total=2,
            children_done=2 if finished else 1,
            error=self.error,
            cause=self.cause,
            started=datetime.now(UTC) - timedelta(seconds=4),
            stopped=datetime.now(UTC) if finished else None,
            progress=RunProgress(
                total=self.total,
                done=done,
                failed=0,
                children=2,
                reporting=2,
                finished=2 if finished else 1,
                started_at=time.time() - 4,
                updated_at=time.time(),
                rate_per_s=3.0,
                eta_s=(self.total - done) / 3.0,
            ),
        )

    def keys(self, run_id: str) -> list[str]:
        with self.lock:
            self.calls.append(("keys", run_id))
        if self.fail:
            raise self.fail
        prefix = f"{run_id}/"
        with self.lock:
            return sorted(k[len(prefix) :] for k in self.objects if k.startswith(prefix))

    def get(self, run_id: str, key: str) -> bytes:
        with self.lock:
            self.calls.append(("get", run_id, key))
        if self.fail_get:
            raise self.fail_get
        with self.lock:
            return self.objects[f"{run_id}/{key}"]


def client_error(code: str, message: str, operation: str = "ListObjectsV2") -> ClientError:
    return ClientError({"Error": {"Code": code, "Message": message}}, operation)


@contextmanager
def served(fake: FakeClient, every: float = 3600.0, **kwargs):
    """A watch server over `fake`; with the default `every` the poller waits, and tests refresh by hand."""
    watcher = watch.Watcher(fake, RUN, status_every=every, list_every=every, **kwargs).start()
    server = watch.WatchServer(watcher, 0).start()
    try:
        yield watcher, server
    finally:
        server.close()
        watcher.stop()


def fetch(server: watch.WatchServer, path: str, host: str | None = None):
    """(status, headers, body) of one GET of a raw path (sent as is: no normalizing)."""
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    try:
        connection.request("GET", path, headers={"Host": host} if host else {})
        response = connection.getresponse()
        return response.status, response.headers, response.read()
    finally:
        connection.close()


def api(server: watch.WatchServer, since: int | None = None) -> tuple[int, dict]:
    status, headers, body = fetch(server, "/api/run" + ("" if since is None else f"?since={since}"))
    assert headers["Content-Type"] == "application/json"
    assert headers["Cache-Control"] == "no-store"
    return status, json.loads(body)


def render_path(key: str) -> str:
    from urllib.parse import quote

    return "/renders/" + "/".join(quote(part, safe="") for part in key.split("/"))


# ---- the API ----------------------------------------------------------------------------------------------


def test_api_describes_a_half_done_run():
    fake = FakeClient()
    fake.land(6)
    with served(fake) as (_watcher, server):
        status, doc = api(server)
    assert status == 200
    assert set(doc) == {
        "run_id", "execution", "attempt", "status", "step", "finished", "error", "cause", "children_total",
        "children_done", "children_failed", "children_text", "elapsed_s", "progress", "progress_text",
        "rate_text", "renders", "renders_since", "renders_total", "renders_cap", "manifest", "gallery",
    }  # fmt: skip
    assert (doc["run_id"], doc["execution"], doc["status"], doc["step"]) == (
        RUN,
        RUN,
        "RUNNING",
        "RenderArray",
    )
    assert doc["finished"] is False and doc["error"] is None and doc["cause"] is None
    assert (
        doc["renders"] == sorted(fake.order[:6]) and doc["renders_total"] == 6 and doc["renders_since"] == 0
    )
    assert not any(
        k.startswith("_") for k in doc["renders"]
    )  # part records and progress objects are not renders
    assert (doc["manifest"], doc["gallery"]) == (False, False)
    assert doc["progress"]["done"] == 6 and doc["progress"]["total"] == 12
    assert doc["progress_text"] == "6/12 (3.0/s, ETA 2 s)"  # farm.remote's wording
    assert doc["rate_text"] == "3.0/s, ETA 2 s"
    assert doc["children_text"] == "children 1/2"
    assert doc["elapsed_s"] >= 4


def test_since_returns_only_new_keys_even_when_they_sort_first_and_the_list_is_capped():
    fake = FakeClient(total=12)
    fake.order = [f"prod-{i:04d}/SKU-{i:04d}.svg" for i in range(12)]
    with fake.lock:
        for i in (5, 6, 7):
            fake.objects[f"{RUN}/{fake.order[i]}"] = svg(i)
    with served(fake, cap=8) as (watcher, server):
        _, first = api(server)
        assert first["renders"] == fake.order[5:8]
        with fake.lock:  # keys that sort before and after the ones shown land later
            for i in (0, 1, 9, 10, 11):
                fake.objects[f"{RUN}/{fake.order[i]}"] = svg(i)
        watcher.refresh_listing()
        _, then = api(server, since=3)
        assert then["renders_since"] == 3
        assert then["renders"] == [fake.order[i] for i in (0, 1, 9, 10, 11)]  # appended, none skipped
        _, capped = api(server, since=0)
        assert len(capped["renders"]) == 8 and capped["renders_total"] == 8 and capped["renders_cap"] == 8
        with fake.lock:
            fake.objects[f"{RUN}/{fake.order[2]}"] = svg(2)
        watcher.refresh_listing()
        _, over = api(server, since=8)
        assert over["renders"] == [] and over["renders_total"] == 9  # past the cap: counted, not listed
        assert fetch(server, "/api/run?since=-1")[0] == 400
        assert fetch(server, "/api/run?since=x")[0] == 400


def test_cloud_errors_answer_502_and_the_api_recovers():
    fake = FakeClient()
    fake.land(2)
    with served(fake) as (watcher, server):
        fake.fail = client_error("AccessDenied", "not allowed to list <renders>")
        watcher.refresh_status()
        watcher.refresh_listing()
        status, doc = api(server)
        assert status == 502
        assert doc["run_id"] == RUN and "AccessDenied" in doc["message"] and "not allowed" in doc["message"]
        fake.fail = None
        watcher.refresh_status()
        watcher.refresh_listing()
        assert api(server)[0] == 200
        fake.fail_get = client_error("InternalError", "S3 is down", "GetObject")
        status, _, body = fetch(server, render_path(fake.order[0]))
        assert status == 502 and b"S3 is down" in body
        fake.fail_get = client_error("NoSuchKey", "gone", "GetObject")
        assert fetch(server, render_path(fake.order[0]))[0] == 404


# ---- /renders/ --------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/renders/../x",
        "/renders/%2e%2e/x",
        "/renders/%2E%2E/%2E%2E/etc/passwd",
        "/renders//etc/passwd",
        "/renders/./prod-0000/SKU-0000.svg",
        "/renders/prod-0000//SKU-0000.svg",
        "/renders/prod-0000%2fSKU-0000.svg",  # an encoded slash
        "/renders/prod-0000%5cSKU-0000.svg",  # a backslash
        "/renders/..%2f" + OTHER + "/prod-0000/SECRET.svg",
        "/renders/%2e%2e%2f" + OTHER + "%2fprod-0000%2fSECRET.svg",
        "/renders/prod-0000/..%2f..%2f" + OTHER + "/prod-0000/SECRET.svg",
        "/renders/" + OTHER + "/prod-0000/SECRET.svg",  # another run's key, named from our prefix
        "/renders/prod-0000/SECRET.svg",  # another run's key, as if it were ours
        "/renders/%252e%252e/x",  # double encoding: a literal `%2e%2e`, listed nowhere
        "/renders/prod-0000/SKU-0000.svg%00",
        "/renders/prod-0000/%ff.svg",  # not UTF-8
        "/renders/prod-0000/SKU-0099.svg",  # ours in form, not listed
        "/renders/",
        "/renders",
        "/etc/passwd",
        "//etc/passwd",
    ],
)
def test_renders_refuses_anything_but_a_listed_key_of_the_run(path):
    fake = FakeClient()
    fake.land(6)
    with served(fake) as (_watcher, server):
        status, _, body = fetch(server, path)
    assert status == 404, (path, body)
    assert SECRET_SERVED not in body
    assert all(call[1] == RUN for call in fake.calls if call[0] == "get")  # never another run's object
    assert [c for c in fake.calls if c[0] == "get"] == []  # refused before any read


SECRET_SERVED = b'<text x="4" y="24" font-size="12">99</text>'


def test_renders_serves_svgs_gallery_and_manifest_with_their_types_and_policies():
    fake = FakeClient()
    fake.land(6)
    with served(fake) as (watcher, server):
        status, headers, body = fetch(server, render_path(HOSTILE))  # the URL the page builds for it
        assert status == 200 and body == svg(3)
        assert headers["Content-Type"] == "image/svg+xml"
        assert headers["Content-Security-Policy"] == "default-src 'none'; style-src 'unsafe-inline'"
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert ("get", RUN, HOSTILE) in fake.calls
        assert fetch(server, "/renders/index.html")[0] == 404  # not written yet

        fake.finish()
        watcher.refresh_status()
        watcher.refresh_listing()
        status, headers, body = fetch(server, "/renders/index.html")
        assert status == 200 and b"gallery" in body
        assert headers["Content-Type"] == "text/html; charset=utf-8"
        assert headers["Cache-Control"] == "no-store"
        assert "script-src" not in headers["Content-Security-Policy"]  # default-src 'none': no script
        assert headers["Content-Security-Policy"].startswith("default-src 'none'")
        status, headers, body = fetch(server, "/renders/manifest.json")
        assert status == 200 and json.loads(body) == {"run_id": RUN}
        assert (headers["Content-Type"], headers["Cache-Control"]) == ("application/json", "no-store")
        assert headers["X-Content-Type-Options"] == "nosniff"
        assert fetch(server, "/renders/_parts/child-00000.json")[0] == 200  # a key of the run, as JSON
        assert fetch(server, "/renders/_parts")[0] == 404


def test_the_page_its_policy_and_the_host_check():
    fake = FakeClient()
    with served(fake) as (_watcher, server):
        status, headers, body = fetch(server, "/")
        assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
        csp = headers["Content-Security-Policy"]
        for directive in ("default-src 'none'", "script-src 'self'", "img-src 'self'", "connect-src 'self'"):
            assert directive in csp
        assert "unsafe" not in csp and headers["Cache-Control"] == "no-store"
        assert b'<script src="/watch.js"' in body
        status, headers, script = fetch(server, "/watch.js")
        assert status == 200 and headers["Content-Type"].startswith("text/javascript")
        assert fetch(server, "/watch.css")[1]["Content-Type"].startswith("text/css")
        assert fetch(server, "/nothing")[0] == 404
        # DNS rebinding: a page of another site resolved to 127.0.0.1 gets nothing
        assert fetch(server, "/api/run", host="evil.example")[0] == 421
        assert fetch(server, "/", host=f"evil.example:{server.port}")[0] == 421
        assert fetch(server, "/api/run", host=f"localhost:{server.port}")[0] == 200
    assert server.url == f"http://127.0.0.1:{server.port}/"


def test_run_data_reaches_the_page_only_as_text():
    """The page is static and its script sets data as textContent or attributes, never as markup."""
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "Function("):
        assert sink not in watch.PAGE_JS, sink
    assert "textContent" in watch.PAGE_JS and "encodeURIComponent" in watch.PAGE_JS
    assert "<script>" not in watch.PAGE_HTML and "style=" not in watch.PAGE_HTML  # nothing inline (CSP)
    fake = FakeClient()
    fake.land(6)
    with served(fake) as (_watcher, server):
        _, doc = api(server)
    assert HOSTILE in doc["renders"]  # as a JSON string; the browser test shows it stays text


# ---- the command: exit codes ------------------------------------------------------------------------------


def parse(*argv: str) -> argparse.Namespace:
    return watch.add_arguments(argparse.ArgumentParser(prog="farm watch")).parse_args(argv)


@pytest.fixture
def fast(monkeypatch):
    monkeypatch.setattr(watch, "STATUS_EVERY_S", 0.05)
    monkeypatch.setattr(watch, "LIST_EVERY_S", 0.05)


@pytest.mark.parametrize(("ending", "code"), [("SUCCEEDED", 0), ("FAILED", 1)])
def test_exit_when_done_stops_by_itself_after_the_run_ended(fast, capsys, ending, code):
    fake = FakeClient(finish_after=5, ending=ending)
    fake.land(3)
    started = time.monotonic()
    assert watch.cmd_watch(parse(RUN, "--exit-when-done", "--linger", "0.3"), lambda: fake) == code
    took = time.monotonic() - started
    assert 0.3 <= took < 10, took
    out = capsys.readouterr().out.splitlines()
    assert re.fullmatch(r"http://127\.0\.0\.1:[0-9]+/", out[0]), out
    assert out[-1] == f"run {RUN} ended {ending}: farm watch stopped"
    statuses = [c for c in fake.calls if c[0] == "status"]
    assert len(statuses) < 40  # one poller, not a call per request


def test_unknown_run_exits_3_before_serving(capsys):
    fake = FakeClient()
    assert watch.cmd_watch(parse("no-such-run-20260101T000000Z-0000"), lambda: fake) == 3
    shown = capsys.readouterr()
    assert shown.out == ""
    assert shown.err.startswith("farm watch: no run 'no-such-run-20260101T000000Z-0000'")
    assert len(shown.err.splitlines()) == 1


def test_a_port_in_use_is_a_usage_error(capsys):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert watch.cmd_watch(parse(RUN, "--port", str(port)), lambda: FakeClient()) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err
    assert watch.cmd_watch(parse(RUN, "--port", "70000"), lambda: FakeClient()) == 2


CTRL_C_SCRIPT = """
import argparse, sys
from farm import watch
from tests.unit.core.test_watch import FakeClient, RUN
args = watch.add_arguments(argparse.ArgumentParser()).parse_args([RUN])
sys.exit(watch.cmd_watch(args, FakeClient))
"""


def test_ctrl_c_stops_with_130_and_one_line():
    process = subprocess.Popen(
        [sys.executable, "-c", CTRL_C_SCRIPT],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    try:
        url = process.stdout.readline().strip()
        assert re.fullmatch(r"http://127\.0\.0\.1:[0-9]+/", url), (url, process.stderr.read())
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 130, err
    assert err.splitlines()[-1] == "farm watch: stopped"
    assert out == ""


# ---- the page in a browser --------------------------------------------------------------------------------


def rendered_images(dom: str) -> int:
    return dom.count('<img class="render"')


def test_the_page_fills_in_as_the_run_lands_and_links_the_gallery_when_done(tmp_path):
    fake = FakeClient(total=12)
    fake.land(6)  # the hostile SKU among them
    with served(fake, every=0.1) as (watcher, server):
        half = browser.dump_dom(server.url, wait_ms=1500)
        assert rendered_images(half) == 6, half
        assert half.count("<img") == 6  # the hostile SKU is text, not an element
        assert "&lt;img src=x onerror=alert(1)&gt;" in half
        assert re.search(r'<span id="variants">variants 6/12 \(3\.0/s, ETA 2 s\)</span>', half), half
        assert '<span id="status" class="badge s-running">RUNNING</span>' in half
        assert '<section id="ended" hidden="">' in half
        assert ("get", RUN, fake.order[0]) in fake.calls  # the browser loaded images through the server

        fake.finish()
        deadline = time.monotonic() + 10
        while watcher.ended_for() is None:
            assert time.monotonic() < deadline, "the watcher never saw the end"
            time.sleep(0.05)
        done = browser.dump_dom(server.url, wait_ms=1500)
    assert rendered_images(done) == 12, done
    assert '<span id="status" class="badge s-succeeded">SUCCEEDED</span>' in done
    assert '<p id="ended-text" class="ended">run ended SUCCEEDED</p>' in done
    assert '<a id="gallery" href="/renders/index.html">' in done  # shown: no `hidden`
    assert '<a id="manifest" href="/renders/manifest.json">' in done
    assert "variants 12/12" in done and "12 renders" in done
