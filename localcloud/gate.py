"""The local cloud answers loopback names only: WSGI middleware, the outermost layer.

DNS rebinding: a web page can make a browser send requests to 127.0.0.1 under a name it controls
(evil.example resolving to 127.0.0.1 after the page loaded); such a request still carries that name as its
Host. Every client of the local cloud uses http://127.0.0.1:<port> (boto3, the AWS CLI, Terraform's provider
with path-style S3, the harness) or http://localhost:<port> (moto's Step Functions executor calling back into
the server), so any other Host, or none, is answered 403 before anything else sees the request.

Cross-site requests: a page on any site can also send a form POST straight to http://127.0.0.1:<port> (right
Host, no credentials needed for /moto-api/reset or /_localcloud/faults). Browsers name the page's origin in
an `Origin` header on such requests, and no SDK or tool sends one, so a request whose Origin is not the local
cloud itself is answered 403 too. Together with moto's global CORS being off (server.py), no page of another
origin can read or change the cloud.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import Any

from localcloud import config

log = logging.getLogger("localcloud.gate")


def allowed_hosts(port: int) -> frozenset[str]:
    return frozenset({f"{config.HOST}:{port}", f"localhost:{port}"})


def allowed_origins(port: int) -> frozenset[str]:
    return frozenset(f"http://{host}" for host in allowed_hosts(port))


def refusal(environ: dict[str, Any], port: int) -> str | None:
    """Why the request is refused (the rule it broke, for the 403's body), or None when it may pass."""
    host = environ.get("HTTP_HOST")
    if host is None or host.strip().lower() not in allowed_hosts(port):
        return (
            f"localcloud answers only requests whose Host is {config.HOST}:{port} or localhost:{port} "
            f"(this one has {host!r}); use http://{config.HOST}:{port} as the endpoint\n"
        )
    origin = environ.get("HTTP_ORIGIN")
    if origin is not None and origin.strip().lower().rstrip("/") not in allowed_origins(port):
        return (
            f"localcloud answers no request sent by a web page of another origin (Origin {origin!r}); "
            f"only http://{config.HOST}:{port} or http://localhost:{port} may\n"
        )
    return None


def loopback_only(app: Callable, port: int) -> Callable:
    """Answer 403 (text/plain, naming the rule) to a request with a foreign Host or Origin; pass the rest."""

    def gated(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        reason = refusal(environ, port)
        if reason is None:
            return app(environ, start_response)
        log.warning(
            "refused %s %s (Host %r, Origin %r)",
            environ.get("REQUEST_METHOD"),
            environ.get("PATH_INFO"),
            environ.get("HTTP_HOST"),
            environ.get("HTTP_ORIGIN"),
        )
        body = reason.encode()
        headers = [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body)))]
        start_response("403 Forbidden", headers)
        return [body]

    return gated
