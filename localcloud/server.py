"""The server process (`python -m localcloud serve`): moto's WSGI app, our patches, a health route."""

from __future__ import annotations

import importlib
import json
import logging
import os
import pkgutil
import signal
import sys
import threading
import uuid

from localcloud import config, procs

log = logging.getLogger("localcloud")


def _configure_moto(port: int, boot_id: str) -> None:
    # Must happen before moto reads its settings and before any state machine exists.
    os.environ["MOTO_PORT"] = str(port)
    os.environ["LOCALCLOUD_ENDPOINT"] = config.endpoint(port)
    os.environ[config.BOOT_ID_ENV] = boot_id
    os.environ.setdefault("AWS_DEFAULT_REGION", config.REGION)
    os.environ.setdefault("MOTO_ACCOUNT_ID", config.ACCOUNT_ID)
    from moto.core.config import default_user_config

    default_user_config["stepfunctions"] = {"execute_state_machine": True}
    default_user_config.setdefault("lambda", {})["use_docker"] = True
    default_user_config.setdefault("batch", {})["use_docker"] = True


def apply_patches() -> list[str]:
    """Import every module of localcloud.patches (sorted, tf_* from other engineers included) and apply it."""
    import localcloud.patches as package

    applied = []
    for info in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        module = importlib.import_module(f"{package.__name__}.{info.name}")
        apply = getattr(module, "apply", None)
        if callable(apply):
            apply()
            applied.append(info.name)
    return applied


def _with_health(app, boot_id: str):
    body = json.dumps({"status": "ok", "boot_id": boot_id, "pid": os.getpid()}).encode()

    def wrapped(environ, start_response):
        if environ.get("PATH_INFO") == config.HEALTH_PATH:
            start_response(
                "200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))]
            )
            return [body]
        return app(environ, start_response)

    return wrapped


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

    from moto.moto_server.werkzeug_app import (
        DomainDispatcherApplication,
        MotoRequestHandler,
        create_backend_app,
    )
    from werkzeug.serving import make_server

    applied = apply_patches()
    log.info("patches applied: %s", ", ".join(applied))
    app = _with_health(DomainDispatcherApplication(create_backend_app), boot_id)
    server = make_server(config.HOST, port, app, threaded=True, request_handler=MotoRequestHandler)
    (state / config.BOOT_ID_FILE).write_text(boot_id + "\n")

    def stop(signum, _frame):
        log.info("signal %s: stopping jobs and the server", signum)
        procs.kill_all()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    log.info("local cloud %s listening on %s (state %s)", boot_id, config.endpoint(port), state)
    try:
        server.serve_forever()
    finally:
        procs.kill_all()
        log.info("stopped")
        sys.stdout.flush()
