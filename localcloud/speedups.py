"""The local cloud's speed-ups of moto (issue 13): one switch, on by default, flipped at run time so a
benchmark can measure with and without them in the same run against the same buckets.

Each speed-up is a patch that keeps moto's behaviour (the suites check the same answers both ways) and asks
`enabled()` on every call, falling back to moto's own code when the switch is off. The switch starts from
`LOCALCLOUD_SPEEDUPS` (`on`, the default, or `off`) and is read and set over HTTP:

    GET  /_localcloud/speedups            -> {"enabled": true}
    POST /_localcloud/speedups {"enabled": false}

Client: `speedups.set(endpoint, False)` / `speedups.get(endpoint)`, or `with speedups.off(endpoint): ...`.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import urllib.request
from collections.abc import Callable, Iterable, Iterator
from typing import Any

PATH = "/_localcloud/speedups"
ENV = "LOCALCLOUD_SPEEDUPS"

_lock = threading.Lock()
_enabled = os.environ.get(ENV, "on").strip().lower() not in ("off", "0", "false", "no")


def enabled() -> bool:
    return _enabled  # a bool read: no lock on the hot path


def set_enabled(value: bool) -> None:
    global _enabled
    with _lock:
        _enabled = bool(value)


# ---- the server side ---------------------------------------------------------------------------------------


def route(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
    """GET the switch, or POST {"enabled": bool} to set it; 400 names what is wrong with a bad body."""
    method = environ.get("REQUEST_METHOD")
    if method == "POST":
        try:
            size = int(environ.get("CONTENT_LENGTH") or 0)
            doc = json.loads(environ["wsgi.input"].read(size) or b"null")
            if not isinstance(doc, dict) or not isinstance(doc.get("enabled"), bool) or len(doc) != 1:
                raise ValueError('the body must be {"enabled": true} or {"enabled": false}')
        except ValueError as err:
            return _answer(start_response, "400 Bad Request", {"error": str(err)})
        set_enabled(doc["enabled"])
    elif method not in ("GET", "HEAD"):
        return _answer(start_response, "405 Method Not Allowed", {"error": f"{method} is not GET or POST"})
    return _answer(start_response, "200 OK", {"enabled": enabled()})


def _answer(start_response: Callable, status: str, doc: dict[str, Any]) -> list[bytes]:
    body = json.dumps(doc).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


# ---- the client side ---------------------------------------------------------------------------------------


def _call(endpoint: str, body: dict[str, Any] | None = None) -> bool:
    data = None if body is None else json.dumps(body).encode()
    method = "GET" if data is None else "POST"
    request = urllib.request.Request(endpoint.rstrip("/") + PATH, data=data, method=method)  # noqa: S310
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 - the local cloud on 127.0.0.1
        return bool(json.load(answer)["enabled"])


def get(endpoint: str) -> bool:
    return _call(endpoint)


def set(endpoint: str, value: bool) -> bool:  # noqa: A001 - the module's verb, as faults.set
    return _call(endpoint, {"enabled": bool(value)})


@contextlib.contextmanager
def off(endpoint: str) -> Iterator[None]:
    """The speed-ups off for the block, back to what they were after it, whatever happened."""
    before = get(endpoint)
    set(endpoint, False)
    try:
        yield
    finally:
        set(endpoint, before)
