"""Structured JSON logs with the run id as correlation id (stdlib only: this runs in Lambda and Batch)."""

from __future__ import annotations

import contextvars
import json
import logging
import sys
import time

_run_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("run_id", default=None)
_STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", None, None))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "correlation_id": _run_id.get(),
        }
        entry.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class _StderrHandler(logging.StreamHandler):
    """Writes to whatever sys.stderr is at the time (test runners and Lambda's runtime swap it)."""

    @property
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def set_run_id(run_id: str | None) -> None:
    _run_id.set(run_id)


def get_logger(name: str = "render_worker") -> logging.Logger:
    """The package logger, with one JSON handler on stderr (not propagated: Lambda's root handler would
    print every line twice)."""
    logger = logging.getLogger("render_worker")
    if not logger.handlers:
        handler = _StderrHandler()
        handler.setFormatter(JsonFormatter())
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
        logger.propagate = False
    return logger if name == "render_worker" else logger.getChild(name.removeprefix("render_worker."))
