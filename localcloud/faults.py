"""Fault injection in the local cloud: off by default, switched on per test over HTTP, never present on aws.

The server keeps one set of settings (thread-safe) and counts what it injected, by kind:

- `spot_reclaim`: the share of Batch attempts placed in a Spot compute environment (FARGATE_SPOT or SPOT: the
  one batch_runner's scheduler put the attempt in) that Fargate Spot reclaims while they run: after a random
  delay (`spot_reclaim_after_s`) the attempt's process group gets SIGTERM, then SIGKILL
  `SPOT_STOP_TIMEOUT_S` later, and the attempt ends with statusReason `Your Spot Task was interrupted.` and
  the exit code the process died with (143 for SIGTERM, as Docker reports). Never the attempt's last one
  (batch_runner.py), so a retry always remains.
- `s3_put_slowdown`: the share of S3 PutObject requests answered `503 SlowDown` with S3's XML error body and
  nothing stored; the answer carries `x-localcloud-injected: 1`, so the error counter counts it apart.
- `lambda_throttle`: the share of Step Functions `lambda:invoke` calls that fail with Lambda's
  `TooManyRequestsException` (HTTP 429, "Rate Exceeded."), which the execution sees as
  `Lambda.TooManyRequestsException` (patches/sfn_lambda.py).

One setting is a time scale, not a rate: `job_state_time_limit_s` (seconds, > 0; default None = off). While
it is set, every job queue's `jobStateTimeLimitActions` entry acts after that many seconds instead of its
`maxTimeSeconds` (AWS's minimum is 600 s, more than a test can wait): a job blocked in RUNNABLE
(batch_runner.SlotPool) is cancelled that soon, and its statusReason reports the seconds it actually waited.
`scope` limits it to jobs whose name (an array child: its parent's) contains the scope; other jobs keep
`maxTimeSeconds`. It creates no action: a queue without a matching entry never cancels anything. It is
not counted under `injected`/`seen`, but makes `active` true. Setting or clearing it takes effect at once for
jobs already blocked (`on_change` listeners: batch_runner re-reads its deadlines).

A target (one Batch job or array child, one S3 key, one function and payload) is hit at most `max_repeats`
times, so every fault stays survivable by the retries the farm has (Batch attempts, boto3's standard retries,
the state machine's Retry). `scope`, when set, limits faults to targets whose name contains it (a run id
prefix): other suites on the same cloud are left alone.

Control route FAULTS_PATH: `POST` a JSON object of settings (replaces them, resets the counters), `GET` the
settings and counters, `DELETE` clears the settings (counters stay readable until the next POST). Client:

    with faults.set(endpoint, spot_reclaim=0.2, s3_put_slowdown=0.1, lambda_throttle=0.1, seed=7) as f:
        ...
        f.get()["injected"]   # {"spot_reclaim": n, "s3_put_slowdown": n, "lambda_throttle": n}
    # cleared here, whatever happened; faults.get(endpoint) / faults.unset(endpoint) without the handle

    with faults.set(endpoint, job_state_time_limit_s=1.0, scope=run_id):
        ...   # a job of run_id blocked in RUNNABLE is cancelled after ~1 s by its queue's action
"""

from __future__ import annotations

import json
import logging
import random
import threading
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Callable, Iterable
from typing import Any

from localcloud import config

FAULTS_PATH = "/_localcloud/faults"
KINDS = ("spot_reclaim", "s3_put_slowdown", "lambda_throttle")
SPOT_REASON = "Your Spot Task was interrupted."  # ECS stoppedReason of a Fargate Spot interruption
SPOT_STOP_TIMEOUT_S = 2.0  # SIGTERM -> SIGKILL (ECS stopTimeout: 30 s by default on AWS, at most 120 s)
DEFAULTS: dict[str, Any] = {
    "spot_reclaim": 0.0,
    "s3_put_slowdown": 0.0,
    "lambda_throttle": 0.0,
    "seed": None,
    "scope": None,
    "max_repeats": 2,
    "spot_reclaim_after_s": [0.5, 3.0],
    "job_state_time_limit_s": None,
}
SLOWDOWN_BODY = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code>'
    "<Message>Please reduce your request rate.</Message><RequestId>{request_id}</RequestId>"
    "<HostId>{host_id}</HostId></Error>"
)
THROTTLE_MESSAGE = "Rate Exceeded."


class _State:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.settings: dict[str, Any] = dict(DEFAULTS)
        self.active = False
        self.rng = random.Random()  # noqa: S311 - fault injection, not cryptography
        self.injected = dict.fromkeys(KINDS, 0)
        self.seen = dict.fromkeys(KINDS, 0)  # eligible events (in scope) the faults were drawn for
        self.missed = 0  # Spot reclaims drawn whose attempt ended before its delay
        self.per_target: dict[tuple[str, str], int] = {}


_state = _State()
_listeners: list[Callable[[], None]] = []  # called after every configure/clear (on_change)


def on_change(listener: Callable[[], None]) -> None:
    """Call `listener()` (outside the settings' lock) whenever the settings are replaced or cleared."""
    _listeners.append(listener)


def _changed() -> None:
    for listener in list(_listeners):
        try:
            listener()
        except Exception:  # a listener's failure must not fail the control route
            logging.getLogger("localcloud.faults").exception("a faults listener failed")


def validate(doc: Any) -> dict[str, Any]:
    """The settings a POST asks for, merged over DEFAULTS; ValueError naming what is wrong."""
    if not isinstance(doc, dict):
        raise ValueError("the body must be a JSON object")
    unknown = sorted(doc.keys() - DEFAULTS.keys())
    if unknown:
        raise ValueError(f"unknown setting(s) {unknown}; known: {sorted(DEFAULTS)}")
    settings = {**DEFAULTS, **{k: v for k, v in doc.items() if v is not None}}
    for kind in KINDS:
        rate = settings[kind]
        if isinstance(rate, bool) or not isinstance(rate, int | float) or not 0 <= rate <= 1:
            raise ValueError(f"{kind} must be a number from 0 to 1, not {rate!r}")
        settings[kind] = float(rate)
    seed = settings["seed"]
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
        raise ValueError("seed must be an integer")
    if settings["scope"] is not None and not isinstance(settings["scope"], str):
        raise ValueError("scope must be a string")
    repeats = settings["max_repeats"]
    if isinstance(repeats, bool) or not isinstance(repeats, int) or repeats < 1:
        raise ValueError("max_repeats must be an integer >= 1")
    after = settings["spot_reclaim_after_s"]
    if (
        not isinstance(after, list)
        or len(after) != 2
        or not all(isinstance(x, int | float) and not isinstance(x, bool) for x in after)
        or not 0 <= after[0] <= after[1]
    ):
        raise ValueError("spot_reclaim_after_s must be [min, max] seconds, 0 <= min <= max")
    settings["spot_reclaim_after_s"] = [float(after[0]), float(after[1])]
    limit = settings["job_state_time_limit_s"]
    if limit is not None:
        if isinstance(limit, bool) or not isinstance(limit, int | float) or not limit > 0:
            raise ValueError(f"job_state_time_limit_s must be a number of seconds > 0, not {limit!r}")
        settings["job_state_time_limit_s"] = float(limit)
    return settings


# ---- the server side ---------------------------------------------------------------------------------------


def configure(settings: dict[str, Any]) -> dict[str, Any]:
    """Replace the settings (validated) and reset the counters."""
    settings = validate(settings)
    with _state.lock:
        _state.settings = settings
        _state.active = any(settings[k] > 0 for k in KINDS) or settings["job_state_time_limit_s"] is not None
        _state.rng = random.Random(settings["seed"])  # noqa: S311
        _state.injected = dict.fromkeys(KINDS, 0)
        _state.seen = dict.fromkeys(KINDS, 0)
        _state.missed = 0
        _state.per_target = {}
    _changed()
    return snapshot()


def clear() -> dict[str, Any]:
    """Switch every fault off; the counters of the last settings stay readable."""
    with _state.lock:
        _state.settings = dict(DEFAULTS)
        _state.active = False
    _changed()
    return snapshot()


def snapshot() -> dict[str, Any]:
    with _state.lock:
        return {
            "active": _state.active,
            "settings": dict(_state.settings),
            "injected": dict(_state.injected),
            "seen": dict(_state.seen),
            "spot_reclaim_missed": _state.missed,
        }


def active() -> bool:
    return _state.active


def draw(kind: str, target: str, scope_text: str | None = None) -> bool:
    """Whether to inject `kind` into `target` now: in scope, below max_repeats for it, and the dice say so.
    A True draw of an immediate fault counts it; a Spot reclaim counts only when `record` says it happened."""
    if not _state.active:
        return False
    with _state.lock:
        settings = _state.settings
        rate = settings.get(kind, 0.0)
        scope = settings.get("scope")
        if rate <= 0 or (scope and scope not in (scope_text if scope_text is not None else target)):
            return False
        _state.seen[kind] += 1
        if _state.per_target.get((kind, target), 0) >= settings["max_repeats"]:
            return False
        if _state.rng.random() >= rate:
            return False
        if kind != "spot_reclaim":
            _count(kind, target)
        return True


def job_state_time_limit(name: str) -> float | None:
    """The seconds after which a jobStateTimeLimitActions entry acts on the job named `name` instead of its
    maxTimeSeconds (the `job_state_time_limit_s` setting, within `scope`); None: maxTimeSeconds applies."""
    if not _state.active:
        return None
    with _state.lock:
        limit = _state.settings.get("job_state_time_limit_s")
        scope = _state.settings.get("scope")
    if limit is None or (scope and scope not in name):
        return None
    return limit


def spot_delay() -> float:
    with _state.lock:
        low, high = _state.settings["spot_reclaim_after_s"]
        return _state.rng.uniform(low, high)


def record(kind: str, target: str) -> None:
    """A drawn fault that happened later (a Spot reclaim once its delay passed)."""
    with _state.lock:
        _count(kind, target)


def record_missed() -> None:
    with _state.lock:
        _state.missed += 1


def _count(kind: str, target: str) -> None:
    _state.injected[kind] += 1
    _state.per_target[(kind, target)] = _state.per_target.get((kind, target), 0) + 1


def _json_answer(start_response: Callable, status: str, doc: dict[str, Any]) -> list[bytes]:
    body = json.dumps(doc).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def _control(environ: dict[str, Any], start_response: Callable) -> list[bytes]:
    method = environ.get("REQUEST_METHOD")
    if method in ("GET", "HEAD"):
        return _json_answer(start_response, "200 OK", snapshot())
    if method == "DELETE":
        return _json_answer(start_response, "200 OK", clear())
    if method in ("POST", "PUT"):
        from localcloud.server import read_body

        try:
            doc = json.loads(read_body(environ, 1 << 16) or b"{}")
            return _json_answer(start_response, "200 OK", configure(doc))
        except ValueError as exc:  # JSONDecodeError is a ValueError
            return _json_answer(start_response, "400 Bad Request", {"error": str(exc)})
    return _json_answer(start_response, "405 Method Not Allowed", {"error": f"{method} is not allowed"})


def is_put_object(environ: dict[str, Any]) -> bool:
    """An S3 PutObject: PUT of a key (path style), no subresource query (UploadPart, ?tagging), no copy."""
    if environ.get("REQUEST_METHOD") != "PUT" or environ.get("HTTP_X_AMZ_COPY_SOURCE"):
        return False
    from localcloud.server import request_service

    if request_service(environ) != "s3":
        return False
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if any(name != "x-id" for name in query) or query.get("x-id", ["PutObject"]) != ["PutObject"]:
        return False
    _bucket, _, key = environ.get("PATH_INFO", "").lstrip("/").partition("/")
    return bool(key)


def _slow_down(environ: dict[str, Any], start_response: Callable) -> list[bytes]:
    from localcloud.server import read_body

    read_body(environ)  # consume the upload, as S3 does before answering, so the connection stays usable
    request_id = uuid.uuid4().hex[:16].upper()
    body = SLOWDOWN_BODY.format(request_id=request_id, host_id=uuid.uuid4().hex).encode()
    start_response(
        "503 Slow Down",
        [
            ("Content-Type", "application/xml"),
            ("Content-Length", str(len(body))),
            ("x-amz-request-id", request_id),
            ("x-amz-id-2", uuid.uuid4().hex),
            (config.INJECTED_HEADER, "1"),  # counted by the server as injected, not as an error
        ],
    )
    return [body]


def middleware(app: Callable) -> Callable:
    """WSGI: the control route, and S3 SlowDown answers while that fault is on; everything else to `app`."""

    def wrapped(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        if environ.get("PATH_INFO") == FAULTS_PATH:
            return _control(environ, start_response)
        if _state.active and is_put_object(environ):
            target = f"{environ.get('HTTP_HOST', '')}{environ.get('PATH_INFO', '')}"
            if draw("s3_put_slowdown", target, urllib.parse.unquote(target)):
                return _slow_down(environ, start_response)
        return app(environ, start_response)

    return wrapped


# ---- the client (tests, the chaos suite) -------------------------------------------------------------------


def _call(endpoint: str, method: str, doc: dict[str, Any] | None = None, timeout: float = 10.0) -> dict:
    data = None if doc is None else json.dumps(doc).encode()
    request = urllib.request.Request(  # noqa: S310 - the local cloud's own endpoint
        endpoint.rstrip("/") + FAULTS_PATH,
        data=data,
        method=method,
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode("utf-8", "replace")
        raise ValueError(f"{method} {FAULTS_PATH}: HTTP {exc.code} {detail}") from None


class Faults:
    """The faults switched on at `endpoint` by `set`; a context manager that always clears them."""

    def __init__(self, endpoint: str, state: dict[str, Any]):
        self.endpoint = endpoint
        self.state = state

    def get(self) -> dict[str, Any]:
        self.state = get(self.endpoint)
        return self.state

    def clear(self) -> dict[str, Any]:
        self.state = unset(self.endpoint)
        return self.state

    def __enter__(self) -> Faults:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.clear()


def set(endpoint: str, **settings: Any) -> Faults:  # noqa: A001 - the brief's name: faults.set(endpoint, ...)
    """Switch faults on (replacing any others, counters from zero); use as a context manager to clear them."""
    return Faults(endpoint, _call(endpoint, "POST", settings))


def get(endpoint: str) -> dict[str, Any]:
    """{"active", "settings", "injected": {kind: n}, "seen": {kind: n}, "spot_reclaim_missed"}."""
    return _call(endpoint, "GET")


def unset(endpoint: str) -> dict[str, Any]:
    """Switch every fault off; returns the final counters."""
    return _call(endpoint, "DELETE")
