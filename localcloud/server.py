"""The server process (`python -m localcloud serve`): moto's WSGI app, our patches, a health route, and a
count of unexpected server errors (answers >= 500, unhandled exceptions) on config.ERRORS_PATH."""

from __future__ import annotations

import collections
import importlib
import io
import json
import logging
import os
import pkgutil
import re
import signal
import sys
import threading
import time
import traceback
import urllib.parse
import uuid
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from localcloud import config, containers, procs, registry

log = logging.getLogger("localcloud")


def _configure_moto(port: int, boot_id: str) -> None:
    # Must happen before moto reads its settings and before any state machine exists.
    os.environ["MOTO_PORT"] = str(port)
    os.environ["LOCALCLOUD_ENDPOINT"] = config.endpoint(port)
    os.environ[config.BOOT_ID_ENV] = boot_id
    os.environ.setdefault("AWS_DEFAULT_REGION", config.REGION)
    os.environ.setdefault("MOTO_ACCOUNT_ID", config.ACCOUNT_ID)
    # moto's global CORS (flask_cors: Access-Control-Allow-Origin: * on every answer, preflights allowed)
    # would let any web page read the cloud; AWS sends CORS headers only for a bucket's own CORS rules.
    os.environ["MOTO_DISABLE_GLOBAL_CORS"] = "true"
    from moto.core.config import default_user_config
    from moto.moto_server import werkzeug_app

    werkzeug_app.DISABLE_GLOBAL_CORS = True  # read per service app; moto may have been imported before
    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    default_user_config.setdefault("lambda", {})["use_docker"] = True
    default_user_config.setdefault("batch", {})["use_docker"] = True


def apply_patches(prefix: str = "") -> list[str]:
    """Import every module of localcloud.patches whose name starts with `prefix` (sorted, tf_* from other
    engineers included) and apply it; the perf suite's tear-down benchmark applies the `s3_` ones alone."""
    import localcloud.patches as package

    applied = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not info.name.startswith(prefix):
            continue
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        apply = getattr(module, "apply", None)
        if callable(apply):
            apply()
            applied.append(info.name)
    return applied


RECENT_ERRORS = 50
_BODY_SNIPPET = 2048  # bytes of a 5xx answer's body kept to say what went wrong
_CREDENTIAL = re.compile(r"Credential=[^/,\s]+/\d{8}/[^/,\s]+/([^/,\s]+)/")
_XML_FIELD = re.compile(r"<(Code|Message)>([^<]*)</\1>")


def request_service(environ: dict[str, Any]) -> str:
    """The AWS service a request is for: its SigV4 credential scope (header or presigned query), else the
    X-Amz-Target prefix, else "unknown"."""
    for source in (
        environ.get("HTTP_AUTHORIZATION", ""),
        urllib.parse.unquote(environ.get("QUERY_STRING", "")),
    ):
        match = _CREDENTIAL.search(source)
        if match:
            return match.group(1)
    target = environ.get("HTTP_X_AMZ_TARGET", "")
    return target.split(".")[0] if target else "unknown"


def read_body(environ: dict[str, Any], limit: int | None = None) -> bytes:
    """The request body (a chunked one: at most `limit` bytes when given); the app gets a fresh wsgi.input
    with the same bytes, so every middleware and moto read the body alike."""
    stream = environ.get("wsgi.input")
    length = environ.get("CONTENT_LENGTH") or ""
    if stream is None:
        body = b""
    elif length.isdigit():
        body = stream.read(int(length)) if int(length) else b""
    elif environ.get("wsgi.input_terminated"):  # chunked: werkzeug ends the stream at the last chunk
        body = stream.read() if limit is None else stream.read(limit)
    else:
        body = b""
    environ["wsgi.input"] = io.BytesIO(body)
    environ["CONTENT_LENGTH"] = str(len(body))
    return body


def _answer_summary(status: int, snippet: bytes) -> str:
    """What a 5xx answer's body says: its XML Code/Message or JSON __type/message, else its first line."""
    text = snippet.decode("utf-8", "replace")
    fields = dict(_XML_FIELD.findall(text))
    if not fields:
        try:
            doc = json.loads(text)
        except ValueError:
            doc = None
        if isinstance(doc, dict):
            fields = {"Code": doc.get("__type") or doc.get("code"), "Message": doc.get("message")}
    said = ": ".join(str(v) for v in (fields.get("Code"), fields.get("Message")) if v)
    return said or (text.strip().splitlines() or [f"HTTP {status}"])[0][:200]


class ServerErrors:
    """Unexpected server errors since boot: every answer >= 500 and every unhandled exception (of a request or
    a background thread), each logged with its traceback. Those marked as injected (config.INJECTED_HEADER or
    config.INJECTED_ENVIRON) are counted apart. Thread-safe; keeps the last `keep` errors."""

    def __init__(self, keep: int = RECENT_ERRORS):
        self._lock = threading.Lock()
        self.count = 0
        self.injected = 0
        self._recent: collections.deque[dict[str, Any]] = collections.deque(maxlen=keep)

    def record(
        self,
        *,
        kind: str,
        error: str,
        environ: dict[str, Any] | None = None,
        status: int | None = None,
        injected: bool = False,
        details: str = "",
    ) -> dict[str, Any]:
        environ = environ or {}
        entry = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "kind": kind,  # "exception" (unhandled, answered 500), "answer" (a 5xx answer), "thread"
            "method": environ.get("REQUEST_METHOD"),
            "path": environ.get("PATH_INFO"),
            "service": request_service(environ) if environ else None,
            "status": status,
            "error": error,
        }
        with self._lock:
            if injected:
                self.injected += 1
            else:
                self.count += 1
                self._recent.append(entry)
            number = self.count
        if environ:
            where = f"{entry['method']} {entry['path']} ({entry['service']}) -> {status}"
            trace = f"\n{details}" if details else ""
        else:
            where, trace = details, ""  # a thread: Python's own hook prints the traceback next
        if injected:
            log.info("injected fault: %s %s", where, error)
        else:
            log.error("unexpected server error #%d: %s %s%s", number, where, error, trace)
        return entry

    def snapshot(self) -> dict[str, Any]:
        with self._lock:
            return {"count": self.count, "injected": self.injected, "recent": list(self._recent)}


def _is_injected(environ: dict[str, Any], headers: Iterable[tuple[str, str]] = ()) -> bool:
    marked = any(k.lower() == config.INJECTED_HEADER and v.strip() == "1" for k, v in headers)
    return marked or bool(environ.get(config.INJECTED_ENVIRON))


def _last_line(exc: BaseException) -> str:
    return traceback.format_exception_only(type(exc), exc)[-1].strip()


class _CountedBody:
    """The app's body, passed through; a 5xx answer is recorded when the body is closed (werkzeug always
    closes it), with the start of the body to say what went wrong; an exception while iterating is recorded
    and re-raised (werkzeug then drops the connection or answers 500 itself)."""

    def __init__(self, body: Iterable[bytes], environ: dict[str, Any], seen: dict[str, Any], errors):
        self._body = body
        self._environ = environ
        self._seen = seen
        self._errors = errors
        self._snippet = b""
        self._done = False

    def __iter__(self) -> Iterator[bytes]:
        try:
            for chunk in self._body:
                if self._seen.get("status", 0) >= 500 and len(self._snippet) < _BODY_SNIPPET:
                    self._snippet += bytes(chunk[: _BODY_SNIPPET - len(self._snippet)])
                yield chunk
        except Exception as exc:
            self._done = True
            self._errors.record(
                kind="exception",
                error=_last_line(exc),
                environ=self._environ,
                status=self._seen.get("status"),
                injected=_is_injected(self._environ),
                details=traceback.format_exc(),
            )
            raise

    def close(self) -> None:
        try:
            close = getattr(self._body, "close", None)
            if close is not None:
                close()
        finally:
            status = self._seen.get("status", 0)
            if status >= 500 and not self._done:
                self._done = True
                self._errors.record(
                    kind="answer",
                    error=_answer_summary(status, self._snippet),
                    environ=self._environ,
                    status=status,
                    injected=self._seen.get("injected", False) or _is_injected(self._environ),
                )


CLIENT_GONE = (ConnectionResetError, BrokenPipeError)


def count_errors(app: Callable, errors: ServerErrors) -> Callable:
    """WSGI middleware: record every answer >= 500 and every exception of `app` in `errors`; an exception
    is answered with werkzeug's 500 page (what werkzeug's server would send) and logged once, here."""
    from werkzeug.exceptions import InternalServerError

    def wrapped(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        seen: dict[str, Any] = {}

        def capture(status: str, headers: list[tuple[str, str]], exc_info=None):
            seen["status"] = int(status.split(" ", 1)[0])
            seen["injected"] = _is_injected(environ, headers)
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            body = app(environ, capture)
        except CLIENT_GONE as exc:
            # The client hung up while we read its request (a Spot-reclaimed job killed mid-upload): not
            # a server fault; the answer goes nowhere (werkzeug drops a dead connection quietly).
            where = f"{environ.get('REQUEST_METHOD')} {environ.get('PATH_INFO')}"
            log.info("client went away during %s: %s", where, exc)
            start_response("400 Bad Request", [("Content-Length", "0")])
            return []
        except Exception as exc:
            exc_info = sys.exc_info()
            errors.record(
                kind="exception",
                error=_last_line(exc),
                environ=environ,
                status=500,
                injected=_is_injected(environ),
                details=traceback.format_exc(),
            )
            # exc_info lets werkzeug replace a status the app had already set (nothing is sent yet).
            return InternalServerError()(environ, lambda s, h, _e=None: start_response(s, h, exc_info))
        return _CountedBody(body, environ, seen, errors)

    return wrapped


def _count_thread_exceptions(errors: ServerErrors) -> None:
    """Background threads (Step Functions executions, job runners, ...) count too; the traceback is still
    printed by Python's own hook."""
    previous = threading.excepthook

    def hook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not SystemExit and args.exc_value is not None:
            name = args.thread.name if args.thread is not None else "?"
            errors.record(kind="thread", error=_last_line(args.exc_value), details=f"thread {name}")
        previous(args)

    threading.excepthook = hook


def _json_answer(start_response: Callable, doc: dict[str, Any]) -> list[bytes]:
    body = json.dumps(doc).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def runtime_mode() -> str:
    """How this server runs workloads: "container" or "process" (localcloud/containers.py decides at boot)."""
    return containers.mode()


def _choose_runtime() -> str:
    """Resolve the runtime mode once, at boot ($LOCALCLOUD_RUNTIME: auto|container|process), and export it
    (LOCALCLOUD_RUNTIME_MODE) so every thread and child sees the same; container requested but unavailable
    stops the start (containers.ContainerRuntimeUnavailable says what is missing)."""
    try:
        chosen = containers.resolve_mode(os.environ.get(containers.MODE_ENV))
    except (containers.ContainerRuntimeUnavailable, ValueError) as err:
        log.error("cannot start: %s", err)  # one clear line in the log, which `up` points at
        raise SystemExit(2) from err
    os.environ[containers.CHOSEN_ENV] = chosen
    return chosen


def _remove_boot_containers(boot_id: str) -> None:
    try:
        containers.remove_boot_containers(boot_id)
    except Exception as exc:  # shutting down: say so, stop the rest anyway
        log.warning("could not remove the containers of boot %s: %s", boot_id, exc)


def with_routes(app: Callable, boot_id: str, errors: ServerErrors) -> Callable:
    """The local cloud's own routes (health, errors, IAM record, the speed-ups switch) in front of moto's app,
    whose requests are authorised as IAM would (localcloud/iam/authorizer.py) and whose errors are counted."""
    # The health document names the state directory too: `up`/`down` of another checkout say whose cloud
    # holds the port, and the harness finds a private cloud's credentials file through it.
    state_dir = os.environ.get("LOCALCLOUD_STATE_DIR") or str(config.state_dir())
    health = {"status": "ok", "boot_id": boot_id, "pid": os.getpid(), "state_dir": state_dir}
    from localcloud import ecs_metadata, faults, speedups  # faults: off by default; its route and S3 SlowDown
    from localcloud.codecommit import git_http
    from localcloud.iam import authorizer, record

    counted = count_errors(authorizer.middleware(faults.middleware(app)), errors)
    git = count_errors(git_http.route, errors)  # HTTP basic auth, not SigV4: it checks IAM itself

    def wrapped(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO")
        if path == config.HEALTH_PATH:
            # The ECR registry's address (None when it is off, with the reason), the runtime mode and
            # whether the speed-ups of moto are on.
            found = {
                "registry": registry.address(),
                "runtime": runtime_mode(),
                "speedups": speedups.enabled(),
            }
            if found["registry"] is None:
                found["registry_off"] = registry.off_reason()
            return _json_answer(start_response, {**health, **found})
        if path == config.ERRORS_PATH and environ.get("REQUEST_METHOD") in ("GET", "HEAD"):
            return _json_answer(start_response, {"boot_id": boot_id, **errors.snapshot()})
        if path == record.PATH:
            return record.route(environ, start_response, boot_id)
        if path == speedups.PATH:  # the switch of the speed-ups of moto (issue 13), flipped by benchmarks
            return speedups.route(environ, start_response)
        if ecs_metadata.handles(path):  # container attempts' ECS_CONTAINER_METADATA_URI_V4
            return ecs_metadata.route(environ, start_response)
        if git_http.handles(path):  # git's smart HTTP at CodeCommit repositories' cloneUrlHttp
            return git(environ, start_response)
        return counted(environ, start_response)

    return wrapped


def _prepare_images() -> None:
    """Container mode: build the local images a first job or Lambda would otherwise wait for (the base about
    a minute on a new machine, the Lambda runtime about 15 s), in the background; a job or invocation that
    comes first waits for the same build (images.py's lock), and a failure is theirs to report."""
    if containers.mode() != "container":
        return

    def build() -> None:
        from localcloud import images

        try:
            images.ensure_lambda_runtime()  # FROM the base, which it builds first when missing
        except Exception:
            log.exception("could not prepare the local images")

    threading.Thread(target=build, name="prepare-images", daemon=True).start()


def serve(port: int | None = None, state_dir: str | None = None) -> None:
    port = config.port(port)
    state = config.state_dir(state_dir)
    state.mkdir(parents=True, exist_ok=True)
    os.environ["LOCALCLOUD_STATE_DIR"] = str(state)
    boot_id = uuid.uuid4().hex
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    if os.environ.get("LOCALCLOUD_ACCESS_LOG") != "1":  # one line per request drowns the log under load
        logging.getLogger("werkzeug").setLevel(logging.WARNING)
    _configure_moto(port, boot_id)
    log.info("runtime mode: %s", _choose_runtime())

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    from localcloud import credentials, gate

    admin = credentials.issue(config.endpoint(port), boot_id)  # before anything can ask who is admin
    applied = apply_patches()
    log.info("patches applied: %s", ", ".join(applied))
    errors = ServerErrors()
    _count_thread_exceptions(errors)
    routed = with_routes(DomainDispatcherApplication(create_backend_app), boot_id, errors)
    app = gate.loopback_only(routed, port)  # outermost: a foreign Host reaches nothing
    server = make_server(config.HOST, port, app, threaded=True, request_handler=MotoRequestHandler)
    # The port is ours (a start that lost it failed above): write what the harness reads, before answering.
    credentials.write(state, admin)
    (state / config.BOOT_ID_FILE).write_text(boot_id + "\n")

    def stop(signum, _frame):
        log.info("signal %s: stopping jobs and the server", signum)
        procs.kill_all()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    try:
        registry.start(state, boot_id)  # ECR's registry (a child process): before the first answer
        _prepare_images()
        log.info("local cloud %s listening on %s (state %s)", boot_id, config.endpoint(port), state)
        server.serve_forever()
    finally:
        procs.kill_all()
        _remove_boot_containers(boot_id)
        registry.stop()
        credentials.remove(state, boot_id)  # the keys die with this boot
        log.info("stopped")
        sys.stdout.flush()
