"""The record of every IAM decision the local cloud made (admin calls excepted), aggregated.

One entry per (principal ARN, action, resource, decision, probe): a count, the statements that allowed or
denied it (each StatementRef once) and the last reason. Served at `GET /_localcloud/iam/calls` as
`{"boot_id", "calls": [{"principal", "principal_kind", "action", "resource", "decision", "probe", "count",
"allowed_by": [{"source", "index", "sid"}], "denied_by": [...], "reason"}]}`; `DELETE` clears it.
`probe` is true for calls of an STS session named `iam-probe-...`: the negative tests' deliberate denials,
which the IAM report keeps apart from what the stack's workloads did.
Thread-safe: requests, job threads and Step Functions executions record at once.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable
from dataclasses import asdict
from typing import Any

from localcloud.iam.model import Call, Decision, Principal, StatementRef

PATH = "/_localcloud/iam/calls"


PROBE_SESSION_PREFIX = "iam-probe-"


def is_probe(principal: Principal) -> bool:
    """A negative test's session: arn:aws:sts::<acct>:assumed-role/<role>/iam-probe-<test>."""
    session = (principal.session_arn or "").rsplit("/", 1)[-1]
    return session.startswith(PROBE_SESSION_PREFIX)


class Record:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[tuple[str, ...], dict[str, Any]] = {}

    def add(self, principal: Principal, call: Call, decision: Decision) -> None:
        verdict = "allow" if decision.allowed else "deny"
        probe = is_probe(principal)
        key = (principal.arn, call.action, call.resource, verdict, str(probe))
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                entry = self._entries[key] = {
                    "principal": principal.arn,
                    "principal_kind": principal.kind,
                    "action": call.action,
                    "resource": call.resource,
                    "decision": verdict,
                    "probe": probe,
                    "count": 0,
                    "allowed_by": {},
                    "denied_by": {},
                    "reason": "",
                }
            entry["count"] += 1
            _merge(entry["allowed_by"], decision.allowed_by)
            _merge(entry["denied_by"], decision.denied_by)
            entry["reason"] = decision.reason

    def calls(self) -> list[dict[str, Any]]:
        with self._lock:
            entries = [
                {
                    **e,
                    "allowed_by": list(e["allowed_by"].values()),
                    "denied_by": list(e["denied_by"].values()),
                }
                for e in self._entries.values()
            ]
        order = ("principal", "action", "resource", "decision", "probe")
        return sorted(entries, key=lambda e: tuple(e[k] for k in order))

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()


def _merge(into: dict[tuple, dict[str, Any]], refs: Iterable[StatementRef]) -> None:
    for ref in refs:
        into.setdefault((ref.source, ref.index), asdict(ref))


RECORD = Record()


def add(principal: Principal, call: Call, decision: Decision) -> None:
    RECORD.add(principal, call, decision)


def route(environ: dict[str, Any], start_response: Callable, boot_id: str) -> list[bytes]:
    """GET: the aggregated calls; DELETE: clear them."""
    method = environ.get("REQUEST_METHOD")
    if method in ("GET", "HEAD"):
        status, doc = "200 OK", {"boot_id": boot_id, "calls": RECORD.calls()}
    elif method == "DELETE":
        RECORD.clear()
        status, doc = "200 OK", {"boot_id": boot_id, "calls": []}
    else:
        status, doc = "405 Method Not Allowed", {"error": f"{method} not allowed on {PATH}"}
    body = json.dumps(doc).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body] if method != "HEAD" else []
