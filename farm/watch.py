"""`farm watch RUN`: a local web page on which an operator watches a run fill in.

The renders bucket is private and KMS-encrypted, so the page never talks to S3: this process reads through
farm.client.FarmClient (the operator's credentials) and serves, on 127.0.0.1 only:

  GET /                 the page (HTML; its script and style are /watch.js and /watch.css, no other origin)
  GET /api/run          the run as JSON (below); 502 {"run_id", "message"} while the cloud refuses or fails
  GET /renders/<key>    an object of the run (an SVG, index.html, manifest.json), by its key relative to the
                        run's prefix; 404 for anything that is not a listed key of this run

One poller thread looks at the run (client.status: execution, step, children, progress objects) every
STATUS_EVERY_S and lists the run's prefix every LIST_EVERY_S (or longer when a listing is slow); requests
read that snapshot, so any number of tabs costs the cloud nothing more.

/api/run: {run_id, execution, attempt, status (CANCELLED shown as such), step, finished, error, cause,
children_total, children_done, children_failed, children_text, elapsed_s, progress (RunProgress.as_dict()
or null), progress_text ("6/12 (3.0/s, ETA 2 s)", farm.remote's wording), rate_text, renders, renders_since,
renders_total, renders_cap, manifest, gallery}. `renders` are the relative keys of the run's SVGs in the order
this server first listed them (each listing's new keys sorted), an append-only list: `?since=N` returns the
keys from position N (never past the first `renders_cap`), so a page that has shown N asks only for the
rest, and a key that lands before others in sort order is still never skipped. `renders_total` counts them
all.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import threading
import time
import webbrowser
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, TextIO
from urllib.parse import parse_qs, unquote

from farm.client import RunNotFound, RunState

HELP = "serve a local web page that shows a run filling in: progress, rate, ETA and the renders as they land"
HOST = "127.0.0.1"
STATUS_EVERY_S = 1.0  # client.status (execution, history, children, progress objects)
ENDED_STATUS_EVERY_S = 5.0  # once the run has ended (a rerun may still start)
LIST_EVERY_S = 2.0  # the run's prefix; a slow listing waits twice its own duration before the next
RENDERS_CAP = 2000  # keys the page shows at most
LINGER_S = 5.0  # --exit-when-done: serve this long after the run ended (the page shows the end)
CAUSE_LIMIT = 4000

EXIT_OK = 0
EXIT_RUN_FAILED = 1
EXIT_USAGE = 2
EXIT_NOT_FOUND = 3
EXIT_INTERRUPTED = 130

# The page: its own script, style, images and API only. An SVG can carry script (it runs when opened as a
# document, never as an <img>): no script, no fetches. The gallery (index.html, built by PublishResults):
# images of this origin and inline style, nothing else.
PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
    "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'"
HTML_CSP = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'"
SERVED = {  # suffix of a key: (Content-Type, Cache-Control, Content-Security-Policy)
    ".svg": ("image/svg+xml", "private, max-age=300", SVG_CSP),
    ".html": ("text/html; charset=utf-8", "no-store", HTML_CSP),
    ".json": ("application/json", "no-store", SVG_CSP),
}


def is_render(key: str) -> bool:
    """A variant's SVG (`<product_id>/<sku>.svg`), not the run's own records (`_parts/`, `_progress/`)."""
    return key.endswith(".svg") and not key.startswith("_")


def request_key(raw: str) -> str | None:
    """The relative key a `/renders/<raw>` path names (each segment percent-decoded once), or None when it is
    no plain relative key: an empty, `.` or `..` segment (after decoding: `%2e%2e` too), an encoded `/` or a
    backslash, a control character, bytes that are not UTF-8."""
    parts = []
    for segment in raw.split("/"):
        try:
            part = unquote(segment, errors="strict")
        except UnicodeDecodeError:
            return None
        if part in ("", ".", "..") or "/" in part or "\\" in part:
            return None
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in part):
            return None
        parts.append(part)
    return "/".join(parts)


def message_of(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 1000 else text[:1000] + "..."


def not_found_error(exc: BaseException) -> bool:
    """A GET of a key that has gone (S3 NoSuchKey / 404) rather than a failing cloud."""
    code = str((getattr(exc, "response", None) or {}).get("Error", {}).get("Code", ""))
    return code in ("NoSuchKey", "404", "NotFound") or isinstance(exc, (KeyError, FileNotFoundError))


# ---- the snapshot -----------------------------------------------------------------------------------------


class Watcher:
    """The run as last seen, refreshed by one poller thread; every request reads it under the lock.

    Construction looks at the run once (RunNotFound propagates: nothing is served for an unknown run)."""

    def __init__(
        self,
        client,
        run: str,
        *,
        status_every: float | None = None,
        list_every: float | None = None,
        cap: int | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.client = client
        self.run = run
        self.status_every = STATUS_EVERY_S if status_every is None else status_every
        self.list_every = LIST_EVERY_S if list_every is None else list_every
        self.cap = RENDERS_CAP if cap is None else cap
        self._clock = clock
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        _warm_clients(client)  # boto3 makes clients thread-unsafely: make them here, before any thread
        self._state: RunState = client.status(run)
        self.run_id = self._state.run_id  # RUN.rN watches attempt N; the prefix is the run's
        self._order: list[str] = []  # the SVG keys, in the order first listed
        self._seen: set[str] = set()
        self._known: frozenset[str] = frozenset()  # every key of the last listing
        self._problems: dict[str, str] = {}  # "status" / "listing" -> the last failure's message
        self._ended_at: float | None = None  # when a listing first followed the end of the run

    # -- refreshing (the poller thread; tests call these directly) --

    def refresh_status(self) -> None:
        try:
            state = self.client.status(self.run)
        except Exception as exc:  # the cloud failing is shown (502) and retried; the poller never dies
            with self._lock:
                self._problems["status"] = f"cannot read run {self.run}: {message_of(exc)}"
            return
        with self._lock:
            self._state = state
            self._problems.pop("status", None)
            if not state.finished:
                self._ended_at = None  # a rerun started

    def refresh_listing(self) -> None:
        with self._lock:
            ended = self._state.finished
        try:
            keys = list(self.client.keys(self.run_id))
        except Exception as exc:
            with self._lock:
                self._problems["listing"] = f"cannot list s3://<renders>/{self.run_id}/: {message_of(exc)}"
            return
        with self._lock:
            new = sorted(k for k in keys if is_render(k) and k not in self._seen)
            self._order.extend(new)
            self._seen.update(new)
            self._known = frozenset(keys)
            self._problems.pop("listing", None)
            if ended and self._state.finished and self._ended_at is None:
                self._ended_at = self._clock()

    def start(self) -> Watcher:
        self.refresh_listing()
        self._thread = threading.Thread(target=self._loop, name="farm-watch-poller", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=2)  # a daemon: a cloud call in flight does not hold up the exit

    def _loop(self) -> None:
        next_status = self._clock() + self.status_every
        next_listing = self._clock() + self.list_every
        while not self._stop.wait(max(0.0, min(next_status, next_listing) - self._clock())):
            if self._clock() >= next_status:
                self.refresh_status()
                with self._lock:
                    ended = self._state.finished
                    if ended and self._ended_at is None:
                        next_listing = 0.0  # list at once: the manifest and gallery were written
                next_status = self._clock() + (
                    max(self.status_every, ENDED_STATUS_EVERY_S) if ended else self.status_every
                )
            if self._clock() >= next_listing:
                started = self._clock()
                self.refresh_listing()
                took = self._clock() - started
                next_listing = self._clock() + max(self.list_every, 2 * took)

    # -- reading --

    @property
    def state(self) -> RunState:
        with self._lock:
            return self._state

    def ended_for(self) -> float | None:
        """Seconds since the end of the run was seen and listed; None while it runs."""
        with self._lock:
            return None if self._ended_at is None else self._clock() - self._ended_at

    def allowed(self, key: str) -> bool:
        """Only a key of this run's last listing is ever read."""
        with self._lock:
            return key in self._known

    def api(self, since: int = 0) -> tuple[int, dict[str, Any]]:
        from farm import remote  # late: farm.remote registers this command

        with self._lock:
            state, problems = self._state, dict(self._problems)
            renders = self._order[min(since, self.cap) : self.cap]
            total, known = len(self._order), self._known
        if problems:
            return HTTPStatus.BAD_GATEWAY, {"run_id": self.run_id, "message": "; ".join(problems.values())}
        progress = state.progress
        reported = progress is not None and bool(progress.total)
        shown = progress
        if reported and state.finished:  # no rate or ETA for a run that has ended
            shown = dataclasses.replace(progress, rate_per_s=None, eta_s=None)
        cause = remote.readable_cause(state.cause) if state.cause else None
        if cause and len(cause) > CAUSE_LIMIT:
            cause = cause[:CAUSE_LIMIT] + "..."
        seconds = state.seconds
        return HTTPStatus.OK, {
            "run_id": state.run_id,
            "execution": state.execution,
            "attempt": state.attempt,
            "status": state.shown_status,
            "step": state.step,
            "finished": state.finished,
            "error": state.error,
            "cause": cause,
            "children_total": state.children_total,
            "children_done": state.children_done,
            "children_failed": state.children_failed,
            "children_text": remote.children_text(state),
            "elapsed_s": None if seconds is None else round(seconds, 1),
            "progress": None if progress is None else progress.as_dict(),
            "progress_text": remote.variants_text(shown) if reported else None,
            "rate_text": (remote.rate_text(shown) or None) if reported else None,
            "renders": renders,
            "renders_since": min(since, self.cap),
            "renders_total": total,
            "renders_cap": self.cap,
            "manifest": "manifest.json" in known,
            "gallery": "index.html" in known,
        }


def _warm_clients(client) -> None:
    make = getattr(client, "client", None)
    if callable(make):
        for service in ("stepfunctions", "batch", "s3"):
            make(service)


# ---- the server -------------------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    server_version = "farm-watch"
    sys_version = ""

    def do_GET(self) -> None:
        self._answer(head=False)

    def do_HEAD(self) -> None:
        self._answer(head=True)

    def _answer(self, head: bool) -> None:
        if self.headers.get("Host") not in self.server.hosts:  # DNS rebinding: only our own address
            self._text(HTTPStatus.MISDIRECTED_REQUEST, "unknown host", head)
            return
        path, _, query = self.path.partition("?")
        if path == "/":
            self._page(PAGE_HTML, "text/html; charset=utf-8", head)
        elif path == "/watch.js":
            self._page(PAGE_JS, "text/javascript; charset=utf-8", head)
        elif path == "/watch.css":
            self._page(PAGE_CSS, "text/css; charset=utf-8", head)
        elif path == "/api/run":
            self._api(query, head)
        elif path.startswith("/renders/"):
            self._render(path[len("/renders/") :], head)
        else:
            self._text(HTTPStatus.NOT_FOUND, "not found", head)

    def _page(self, text: str, content_type: str, head: bool) -> None:
        headers = {"Cache-Control": "no-store", "Content-Security-Policy": PAGE_CSP}
        self._send(HTTPStatus.OK, text.encode(), content_type, headers, head)

    def _api(self, query: str, head: bool) -> None:
        try:
            values = parse_qs(query, strict_parsing=False).get("since", ["0"])
            since = int(values[-1])
            if since < 0:
                raise ValueError(since)
        except ValueError:
            self._json(HTTPStatus.BAD_REQUEST, {"message": "since: a count of renders already shown"}, head)
            return
        code, document = self.server.watcher.api(since)
        self._json(code, document, head)

    def _json(self, code: int, document: dict[str, Any], head: bool) -> None:
        body = json.dumps(document).encode()
        self._send(code, body, "application/json", {"Cache-Control": "no-store"}, head)

    def _render(self, raw: str, head: bool) -> None:
        watcher = self.server.watcher
        key = request_key(raw)
        served = SERVED.get("." + key.rsplit(".", 1)[-1]) if key and "." in key else None
        if key is None or served is None or not watcher.allowed(key):
            self._text(HTTPStatus.NOT_FOUND, "not a render of this run", head)
            return
        try:
            body = watcher.client.get(watcher.run_id, key)
        except Exception as exc:
            if not_found_error(exc):
                self._text(HTTPStatus.NOT_FOUND, "not a render of this run (any more)", head)
            else:
                self._text(HTTPStatus.BAD_GATEWAY, f"cannot read {key}: {message_of(exc)}", head)
            return
        content_type, cache, csp = served
        headers = {"Cache-Control": cache, "Content-Security-Policy": csp}
        self._send(HTTPStatus.OK, body, content_type, headers, head)

    def _text(self, code: int, message: str, head: bool) -> None:
        self._send(code, f"{message}\n".encode(), "text/plain; charset=utf-8", head=head)

    def _send(
        self,
        code: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
        head: bool = False,
    ) -> None:
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Referrer-Policy", "no-referrer")
        self.send_header("X-Frame-Options", "DENY")
        self.send_header("Cross-Origin-Resource-Policy", "same-origin")
        headers = headers or {}
        if "Cache-Control" not in headers:
            headers = {**headers, "Cache-Control": "no-store"}
        for name, value in headers.items():
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        if self.server.verbose:
            sys.stderr.write(f"farm watch: {self.address_string()} {format % args}\n")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    watcher: Watcher
    verbose: bool
    hosts: frozenset[str]

    def handle_error(self, request, client_address) -> None:
        error = sys.exc_info()[1]
        if isinstance(error, (ConnectionError, TimeoutError)):  # a tab closed mid-answer
            return
        if self.verbose:
            super().handle_error(request, client_address)
        else:
            sys.stderr.write(f"farm watch: error answering a request: {message_of(error)}\n")


class WatchServer:
    """The HTTP server on 127.0.0.1:`port` (0: a free port) over a Watcher."""

    def __init__(self, watcher: Watcher, port: int = 0, *, verbose: bool = False):
        self.watcher = watcher
        self.httpd = _Server((HOST, port), _Handler)
        self.httpd.watcher = watcher
        self.httpd.verbose = verbose
        self.port = self.httpd.server_address[1]
        self.httpd.hosts = frozenset({f"{HOST}:{self.port}", f"localhost:{self.port}"})
        self.url = f"http://{HOST}:{self.port}/"
        self._thread: threading.Thread | None = None

    def start(self) -> WatchServer:
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.2}, name="farm-watch-http"
        )
        self._thread.daemon = True
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self.httpd.shutdown()
            self._thread.join(timeout=10)
        self.httpd.server_close()


# ---- the command ------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    parser.add_argument("run_id", metavar="RUN")
    parser.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default 0: a free one)")
    parser.add_argument("--open", action="store_true", help="open the page in the default browser")
    parser.add_argument(
        "--exit-when-done",
        action="store_true",
        help="stop by itself once the run has ended (exit 0 if it SUCCEEDED, 1 otherwise)",
    )
    parser.add_argument(
        "--linger",
        type=float,
        default=LINGER_S,
        metavar="SECONDS",
        help=f"with --exit-when-done: keep serving this long after the run ended (default {LINGER_S:g})",
    )
    parser.add_argument("--verbose", action="store_true", help="log every request on stderr")
    return parser


def cmd_watch(args: argparse.Namespace, client_factory: Callable[[], Any]) -> int:
    """`farm watch RUN`: serve until Ctrl-C (130), or with --exit-when-done until the run has ended and
    --linger seconds passed (0 SUCCEEDED, 1 otherwise). Unknown run: 3, before anything is served."""
    if not 0 <= args.port <= 65535:
        print(f"farm watch: --port {args.port}: give 0 (a free port) or 1-65535", file=sys.stderr)
        return EXIT_USAGE
    client = client_factory()
    try:
        watcher = Watcher(client, args.run_id)
    except RunNotFound as exc:
        print(f"farm watch: {exc}", file=sys.stderr)
        return EXIT_NOT_FOUND
    try:
        server = WatchServer(watcher, args.port, verbose=args.verbose)
    except OSError as exc:
        print(f"farm watch: cannot listen on {HOST}:{args.port}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_USAGE
    return serve(
        watcher,
        server,
        exit_when_done=args.exit_when_done,
        linger=args.linger,
        open_browser=args.open,
    )


def serve(
    watcher: Watcher,
    server: WatchServer,
    *,
    exit_when_done: bool = False,
    linger: float = LINGER_S,
    open_browser: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        watcher.start()
        server.start()
        print(server.url, file=out, flush=True)  # the first line: scripts read the URL from it
        until = "the run has ended" if exit_when_done else "Ctrl-C"
        print(f"farm watch: run {watcher.run} on {server.url} (until {until})", file=err, flush=True)
        if open_browser:
            webbrowser.open(server.url)
        while True:
            if exit_when_done:
                ended = watcher.ended_for()
                if ended is not None and ended >= linger:
                    break
            time.sleep(0.1)
    except KeyboardInterrupt:
        print("farm watch: stopped", file=err, flush=True)
        return EXIT_INTERRUPTED
    finally:
        server.close()
        watcher.stop()
    state = watcher.state
    print(f"run {state.execution} ended {state.shown_status}: farm watch stopped", file=out, flush=True)
    return EXIT_OK if state.status == "SUCCEEDED" else EXIT_RUN_FAILED


# ---- the page ---------------------------------------------------------------------------------------------
# Static: everything the run says reaches the page through /api/run and is set as textContent or as an
# attribute (a key is percent-encoded into the image URL), never parsed as HTML.

PAGE_HTML = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>farm watch</title>
<link rel="stylesheet" href="/watch.css">
<script src="/watch.js" defer></script>
</head>
<body>
<header>
  <h1><span class="app">farm watch</span> <span id="run" class="mono">&hellip;</span></h1>
  <p class="line">
    <span id="status" class="badge s-other">&hellip;</span>
    <span id="step"></span>
    <span id="elapsed" class="muted"></span>
  </p>
  <progress id="bar"></progress>
  <p class="line">
    <span id="variants">variants -/-</span>
    <span class="sep">&middot;</span>
    <span id="children">children -/-</span>
  </p>
  <p id="problem" class="problem" role="status" hidden></p>
  <section id="ended" hidden>
    <p id="ended-text" class="ended"></p>
    <p id="links" hidden>
      <a id="gallery" href="/renders/index.html" hidden>gallery (index.html)</a>
      <a id="manifest" href="/renders/manifest.json" hidden>manifest.json</a>
    </p>
    <p id="error" class="error" hidden></p>
    <pre id="cause" hidden></pre>
  </section>
</header>
<main>
  <p id="shown" class="muted">no renders yet</p>
  <div id="grid" class="grid"></div>
</main>
</body>
</html>
"""

PAGE_CSS = """:root { --ok: #1a7f37; --bad: #cf222e; --run: #0969da; --muted: #57606a; --line: #d0d7de; }
* { box-sizing: border-box; }
[hidden] { display: none !important; }
body { margin: 0; font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif;
  color: #1f2328; background: #f6f8fa; }
header { position: sticky; top: 0; z-index: 1; background: #fff; border-bottom: 1px solid var(--line);
  padding: 12px 20px 8px; }
h1 { font-size: 18px; margin: 0 0 4px; font-weight: 600; }
h1 .app { color: var(--muted); font-weight: 400; }
.mono, pre, figcaption { font-family: ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.line { margin: 4px 0; }
.muted, .sep { color: var(--muted); }
.badge { display: inline-block; padding: 1px 9px; border-radius: 10px; font-weight: 600; font-size: 12px;
  color: #fff; background: var(--muted); }
.badge.s-running { background: var(--run); }
.badge.s-succeeded { background: var(--ok); }
.badge.s-failed, .badge.s-timed_out, .badge.s-aborted, .badge.s-cancelled { background: var(--bad); }
progress { display: block; width: 100%; height: 12px; margin: 6px 0; accent-color: var(--run); }
progress.ok { accent-color: var(--ok); }
progress.bad { accent-color: var(--bad); }
.problem { background: #fff8c5; border: 1px solid #d4a72c; padding: 6px 10px; border-radius: 6px; }
.ended { font-weight: 600; margin: 6px 0; }
#links a { margin-right: 14px; }
.error { color: var(--bad); font-weight: 600; margin: 4px 0; }
#cause { white-space: pre-wrap; word-break: break-word; max-height: 220px; overflow: auto;
  background: #f6f8fa; border: 1px solid var(--line); padding: 8px; margin: 4px 0; }
main { padding: 8px 20px 20px; }
.grid { display: grid; grid-template-columns: repeat(auto-fill, minmax(132px, 1fr)); gap: 10px; }
figure { margin: 0; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 6px; }
figure img { display: block; width: 100%; height: auto; aspect-ratio: 1 / 1; object-fit: contain; }
figcaption { font-size: 11px; color: var(--muted); overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; margin-top: 4px; }
"""

PAGE_JS = """"use strict";
// farm watch: polls /api/run; appends the renders it has not shown yet (never rebuilds the grid). Data is
// only ever set as textContent or attributes.
(function () {
  const POLL_MS = 1000;
  const ENDED_POLL_MS = 5000;
  const KNOWN = ["running", "succeeded", "failed", "timed_out", "aborted", "cancelled"];
  const $ = (id) => document.getElementById(id);
  const number = (n) => Number(n).toLocaleString("en-US");
  let cursor = 0; // renders shown: a position in the server's append-only list
  let ended = false;

  function setText(id, value) {
    $(id).textContent = value == null ? "" : String(value);
  }
  function show(id, on) {
    $(id).hidden = !on;
  }
  function duration(s) {
    if (s < 90) return Math.round(s) + " s";
    if (s < 5400) return Math.round(s / 60) + " min";
    return (s / 3600).toFixed(1) + " h";
  }
  function renderURL(key) {
    return "/renders/" + key.split("/").map(encodeURIComponent).join("/");
  }

  // An image is fetched when it comes near the viewport, so a grid of thousands costs what is on screen
  // (loading="lazy" alone is not honoured everywhere: headless Chromium on virtual time fetches them all).
  const nearby =
    "IntersectionObserver" in window ? new IntersectionObserver(reveal, { rootMargin: "600px" }) : null;
  function reveal(entries) {
    for (const entry of entries) {
      if (!entry.isIntersecting) continue;
      entry.target.src = entry.target.dataset.src;
      nearby.unobserve(entry.target);
    }
  }

  function addRenders(keys) {
    const frag = document.createDocumentFragment();
    for (const key of keys) {
      const figure = document.createElement("figure");
      const img = document.createElement("img");
      img.className = "render";
      img.dataset.src = renderURL(key);
      img.alt = key;
      img.title = key;
      img.decoding = "async";
      if (nearby) nearby.observe(img);
      else img.src = img.dataset.src;
      const caption = document.createElement("figcaption");
      caption.textContent = key.split("/").pop().replace(/\\.svg$/, "");
      figure.append(img, caption);
      frag.append(figure);
    }
    $("grid").append(frag);
  }

  function update(d) {
    show("problem", false);
    ended = d.finished;
    setText("run", d.execution);
    $("run").dataset.seen = "1";
    document.title = d.status + " \\u00b7 " + d.execution + " \\u00b7 farm watch";
    const status = $("status");
    status.textContent = d.status;
    const known = KNOWN.includes(String(d.status).toLowerCase());
    status.className = "badge s-" + (known ? String(d.status).toLowerCase() : "other");
    setText("step", d.finished || !d.step ? "" : "step " + d.step);
    setText("elapsed", d.elapsed_s == null ? "" : duration(d.elapsed_s));

    const bar = $("bar");
    bar.className = !d.finished ? "" : d.status === "SUCCEEDED" ? "ok" : "bad";
    const p = d.progress;
    if (p && p.total) {
      bar.max = p.total;
      bar.value = p.done;
      setText("variants", "variants " + d.progress_text);
    } else if (d.finished) {
      bar.max = 1;
      bar.value = d.status === "SUCCEEDED" ? 1 : 0;
      setText("variants", "variants -/-");
    } else {
      bar.removeAttribute("value"); // indeterminate until the children report
      setText("variants", "variants -/-");
    }
    setText("children", d.children_text);

    if (d.renders_since === cursor && d.renders.length) {
      addRenders(d.renders);
      cursor += d.renders.length;
    }
    if (d.renders_total > d.renders_cap) {
      setText("shown", "showing the first " + number(cursor) + " of " + number(d.renders_total) + " renders");
    } else if (d.renders_total) {
      setText("shown", number(cursor) + " renders");
    } else {
      setText("shown", "no renders yet");
    }

    show("ended", d.finished);
    if (d.finished) {
      setText("ended-text", "run ended " + d.status);
      show("links", d.gallery || d.manifest);
      show("gallery", d.gallery);
      show("manifest", d.manifest);
      show("error", !!d.error);
      setText("error", d.error);
      show("cause", !!d.cause);
      setText("cause", d.cause);
    }
  }

  function problem(text) {
    setText("problem", text);
    show("problem", true);
  }

  async function poll() {
    let delay = POLL_MS;
    try {
      const response = await fetch("/api/run?since=" + cursor, { cache: "no-store" });
      let d = null;
      try {
        d = await response.json();
      } catch (e) {
        d = null;
      }
      if (response.ok && d) {
        update(d);
        if (d.finished && cursor >= Math.min(d.renders_total, d.renders_cap)) delay = ENDED_POLL_MS;
      } else {
        const why = d && d.message ? d.message : response.statusText;
        if (d && d.run_id && !$("run").dataset.seen) setText("run", d.run_id);
        problem("the cloud did not answer (" + response.status + "): " + why + " \\u2014 retrying");
      }
    } catch (e) {
      problem(ended ? "farm watch has stopped" : "cannot reach farm watch \\u2014 retrying");
    }
    setTimeout(poll, delay);
  }
  poll();
})();
"""
