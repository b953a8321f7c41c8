"""The authorizer's own parts, in process (no cloud): credentials of a request, the middleware's flow (with
fakes for the caller and the calls), the record, session names, and the guard on moto's Step Functions
clients (localcloud/patches/iam_sfn_role.py replaces boto_client_for wherever moto imported it)."""

from __future__ import annotations

import importlib
import io
import json
import pkgutil

import pytest
from werkzeug.test import EnvironBuilder

from localcloud import runtime
from localcloud.iam import authorizer, principals, record, signature
from localcloud.iam.model import ROLE, Call, Decision, PolicySource, Principal

ROLE_ARN = "arn:aws:iam::123456789012:role/reader"
SESSION_ARN = "arn:aws:sts::123456789012:assumed-role/reader/job-1"


def _environ(path="/bucket/key", method="GET", headers=None, query="", body=b""):
    return EnvironBuilder(
        path=path, method=method, headers=headers or {}, query_string=query, data=body
    ).get_environ()


def test_request_credentials_from_the_header_the_presigned_query_and_nothing():
    header = {
        "Authorization": "AWS4-HMAC-SHA256 Credential=ASIAKEY/20260101/us-east-1/s3/aws4_request,Signature=s",
        "X-Amz-Security-Token": "token-1",
    }
    assert principals.request_credentials(_environ(headers=header)) == ("ASIAKEY", "token-1")
    query = "X-Amz-Credential=ASIAQ%2F20260101%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-Security-Token=t2"
    assert principals.request_credentials(_environ(query=query)) == ("ASIAQ", "t2")
    assert principals.request_credentials(_environ()) == (None, None)


@pytest.mark.parametrize(
    ("value", "expected"),
    [("abc:3", "abc-3"), ("x", "x-"), ("a" * 80, "a" * 64), ("run-1@x.y", "run-1@x.y")],
)
def test_session_names_are_what_sts_accepts(value, expected):
    assert runtime.session_name(value) == expected


def test_the_record_aggregates_and_keeps_each_statement_once():
    book = record.Record()
    principal = Principal(kind=ROLE, arn=ROLE_ARN, account="123456789012", session_arn=SESSION_ARN)
    call = Call("s3:GetObject", "arn:aws:s3:::b/k")
    allowed = Decision(True, "ok", allowed_by=(_ref(), _ref()))
    for _ in range(3):
        book.add(principal, call, allowed)
    book.add(
        principal, call, Decision(False, "because no identity-based policy allows the s3:GetObject action")
    )
    allow, deny = book.calls()
    assert (allow["decision"], allow["count"], allow["allowed_by"]) == (
        "allow",
        3,
        [{"source": f"identity:{ROLE_ARN}:grants", "index": 0, "sid": "Read"}],
    )
    assert (deny["decision"], deny["count"], deny["principal_kind"]) == ("deny", 1, "role")
    book.clear()
    assert book.calls() == []


def _ref():
    from localcloud.iam.model import StatementRef

    return StatementRef(f"identity:{ROLE_ARN}:grants", 0, "Read")


# ---- the middleware, with fakes for who calls and what the request needs ---------------------------------


class _App:
    """moto standing in: answers 200 with the body it read."""

    def __init__(self):
        self.seen: list[bytes] = []

    def __call__(self, environ, start_response):
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        self.seen.append(body)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


@pytest.fixture
def fakes(monkeypatch):
    """A role that may read bucket `mine` only, requests mapped to s3:GetObject/PutObject on their path."""
    policy = PolicySource(
        f"identity:{ROLE_ARN}:grants",
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "arn:aws:s3:::mine/*"}],
        },
    )
    principal = Principal(
        kind=ROLE, arn=ROLE_ARN, account="123456789012", session_arn=SESSION_ARN, identity_policies=(policy,)
    )
    identity = principals.Identity(principal, {"aws:principalarn": [ROLE_ARN]})
    monkeypatch.setattr(principals, "is_admin", lambda key: key == "ADMIN")
    # Signatures are test_signature.py's: these requests carry a made-up one.
    monkeypatch.setattr(signature, "verify", lambda environ, body, secret_for: None)
    monkeypatch.setattr(
        principals, "resolve", lambda key, token=None: identity if key == "ASIAROLE" else None
    )
    monkeypatch.setattr(authorizer.resources, "policy_for", lambda call: (None, False))
    monkeypatch.setattr(authorizer, "implicit_calls", lambda service, environ, calls: [])
    import localcloud.iam.requests as requests_module

    def calls(service, environ, body):
        action = "s3:PutObject" if environ["REQUEST_METHOD"] == "PUT" else "s3:GetObject"
        return [Call(action, "arn:aws:s3:::" + environ["PATH_INFO"].lstrip("/"))]

    monkeypatch.setattr(requests_module, "calls", calls)
    monkeypatch.setattr(record, "RECORD", record.Record())
    return principal


def _signed(key: str, path: str, method: str = "GET", body: bytes = b""):
    header = f"AWS4-HMAC-SHA256 Credential={key}/20260101/us-east-1/s3/aws4_request, Signature=x"
    return _environ(path=path, method=method, headers={"Authorization": header}, body=body)


def _run(app, environ):
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = int(status.split()[0])

    body = b"".join(app(environ, start_response))
    return answer["status"], body


def test_a_role_is_evaluated_and_the_app_reads_the_same_body(fakes, monkeypatch):
    monkeypatch.setenv("LOCALCLOUD_IAM", "enforce")
    app = _App()
    status, _ = _run(authorizer.middleware(app), _signed("ASIAROLE", "/mine/a.svg", "PUT", b"<svg/>"))
    assert status == 200 and app.seen == [b"<svg/>"]
    status, body = _run(authorizer.middleware(app), _signed("ASIAROLE", "/other/a.svg"))
    assert status == 403 and b"AccessDenied" in body and SESSION_ARN.encode() in body
    assert len(app.seen) == 1  # the denied request never reached the app
    decisions = {(c["resource"], c["decision"]) for c in record.RECORD.calls()}
    assert decisions == {("arn:aws:s3:::mine/a.svg", "allow"), ("arn:aws:s3:::other/a.svg", "deny")}


def test_record_mode_refuses_nothing_and_off_evaluates_nothing(fakes, monkeypatch):
    app = _App()
    monkeypatch.setenv("LOCALCLOUD_IAM", "record")
    assert _run(authorizer.middleware(app), _signed("ASIAROLE", "/other/a.svg"))[0] == 200
    assert _run(authorizer.middleware(app), _signed("UNKNOWN", "/other/a.svg"))[0] == 200
    assert [c["decision"] for c in record.RECORD.calls()] == ["deny"]
    monkeypatch.setenv("LOCALCLOUD_IAM", "off")
    record.RECORD.clear()
    assert _run(authorizer.middleware(app), _signed("ASIAROLE", "/other/a.svg"))[0] == 200
    assert record.RECORD.calls() == []


def test_unknown_keys_and_anonymous_requests_are_refused_and_own_routes_are_not(fakes, monkeypatch):
    monkeypatch.setenv("LOCALCLOUD_IAM", "enforce")
    app = _App()
    assert _run(authorizer.middleware(app), _signed("UNKNOWN", "/mine/a.svg"))[0] == 403
    assert _run(authorizer.middleware(app), _environ(path="/mine/a.svg"))[0] == 403
    assert _run(authorizer.middleware(app), _environ(path="/_localcloud/faults"))[0] == 200
    assert _run(authorizer.middleware(app), _signed("ADMIN", "/other/a.svg"))[0] == 200
    assert record.RECORD.calls() == []  # refusals of unknown callers and admin calls are not decisions


def test_the_record_route_serves_and_clears(monkeypatch):
    monkeypatch.setattr(record, "RECORD", record.Record())
    record.add(Principal(kind=ROLE, arn=ROLE_ARN), Call("sns:Publish", "arn:t"), Decision(True, "ok"))
    status, body = _run(lambda e, s: record.route(e, s, "boot-1"), _environ(path=record.PATH))
    doc = json.loads(body)
    assert status == 200 and doc["boot_id"] == "boot-1" and doc["calls"][0]["action"] == "sns:Publish"
    status, _ = _run(lambda e, s: record.route(e, s, "boot-1"), _environ(path=record.PATH, method="DELETE"))
    assert status == 200 and record.RECORD.calls() == []


def test_read_body_gives_the_app_the_same_bytes():
    environ = _environ(method="PUT", body=b"12345")
    assert authorizer.read_body(environ) == b"12345"
    assert environ["wsgi.input"].read() == b"12345" and environ["CONTENT_LENGTH"] == "5"
    environ = {"wsgi.input": io.BytesIO(b"abc"), "wsgi.input_terminated": True}
    assert authorizer.read_body(environ) == b"abc"


# ---- guards on moto internals ----------------------------------------------------------------------------


def test_every_step_functions_module_that_builds_clients_is_patched():
    """moto modules import boto_client_for by name; a new one would sign with fixed keys again."""
    import moto.stepfunctions.parser as parser

    from localcloud.patches import iam_sfn_role

    users = set()
    for info in pkgutil.walk_packages(parser.__path__, parser.__name__ + "."):
        try:
            module = importlib.import_module(info.name)
        except Exception:  # noqa: S112 - optional parts of moto's parser we do not use
            continue
        if "boto_client_for" in vars(module) and not info.name.endswith("utils.boto_client"):
            users.add(info.name.removeprefix(iam_sfn_role._PACKAGE + "."))
    assert users == set(iam_sfn_role.USERS)
