"""Every service: moto's host -> backend routing memoised, and werkzeug's access-log line not built while the
access log is off. Speed-ups of the local cloud (localcloud/speedups.py, docs/notes/s3-put-path.md).

Routing. moto's `DomainDispatcherApplication.get_backend_for_host` runs twice per request, under the lock
every request of every service takes. The second call (`s3.us-east-1.amazonaws.com`, ...) asks whether the
host is a moto module name, which lists and stats the moto package (about 180 stat() calls), then tries
every backend's URL regex in order: about a quarter of a local PutObject's server CPU. The answer depends on
the host alone (the package's folders and the regexes do not change while the server runs), so it is
remembered per dispatcher, by host, up to MAX_HOSTS hosts (hosts come from the credential scope a client
sends, so they are not trusted to be few). What is kept as moto does it:
- the same backend for every host (moto's own function finds it the first time);
- the `moto_api` and `instance_metadata` routes, and host None (moto's answer, None, is never remembered);
- the lazy `create_app` per backend, still under the dispatcher's lock (get_application is untouched);
- a host moto cannot route is never remembered, so moto prints "Unable to find appropriate backend for
  <host>" on every such request, as before;
- the memo is dropped when the dispatcher's `backend_url_patterns` is replaced.
In-process, one lookup of `s3.us-east-1.amazonaws.com` went from 1.6 ms to 0.3 us.

Access log. werkzeug's `log_request` formats the request line (`uri_to_iri`, ANSI styles) before the logger
drops it; the server sets the werkzeug logger to WARNING unless LOCALCLOUD_ACCESS_LOG=1. While that logger
has a level of its own above INFO, the line is not built. A logger without a level (werkzeug then sets INFO
itself) or at INFO and below logs as before (14 -> 0.2 us per request).

With the switch off, moto's and werkzeug's own functions run, unchanged.
"""

from __future__ import annotations

import logging
from typing import Any

from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from werkzeug.serving import WSGIRequestHandler

from localcloud import speedups

MAX_HOSTS = 256
_MEMO = "_localcloud_backend_for_host"  # (the backend_url_patterns it was built with, {host: backend})

original_get_backend_for_host = DomainDispatcherApplication.get_backend_for_host
original_log_request = WSGIRequestHandler.log_request

_access_log = logging.getLogger("werkzeug")


def get_backend_for_host(self: DomainDispatcherApplication, host: str | None) -> Any:
    if not speedups.enabled():  # read per call: the switch flips at run time
        return original_get_backend_for_host(self, host)
    patterns = self.backend_url_patterns
    memo = self.__dict__.get(_MEMO)
    if memo is None or memo[0] is not patterns:
        memo = self.__dict__[_MEMO] = (patterns, {})
    known = memo[1]
    try:
        return known[host]
    except KeyError:
        pass
    found = original_get_backend_for_host(self, host)
    if found is not None and len(known) < MAX_HOSTS:
        known[host] = found
    return found


def log_request(self: WSGIRequestHandler, code: int | str = "-", size: int | str = "-") -> None:
    quiet = _access_log.level != logging.NOTSET and not _access_log.isEnabledFor(logging.INFO)
    if quiet and speedups.enabled():
        return  # the line would be dropped by the logger: not built
    original_log_request(self, code, size)


def apply() -> None:
    DomainDispatcherApplication.get_backend_for_host = get_backend_for_host
    WSGIRequestHandler.log_request = log_request
