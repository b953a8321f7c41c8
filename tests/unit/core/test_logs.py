"""Structured logs: one JSON object per line, the run id as correlation id, extras kept."""

from __future__ import annotations

import json

from render_worker import logs


def test_json_lines_with_correlation_id(capsys):
    logs.set_run_id("run-7")
    logs.get_logger("render_worker.test").info("hello", extra={"child": "child-00001", "count": 3})
    logs.set_run_id(None)
    line = capsys.readouterr().err.strip().splitlines()[-1]
    entry = json.loads(line)
    assert entry["message"] == "hello" and entry["correlation_id"] == "run-7"
    assert entry["child"] == "child-00001" and entry["count"] == 3
    assert entry["level"] == "INFO" and entry["logger"] == "render_worker.test"
    assert entry["timestamp"].endswith("Z")
