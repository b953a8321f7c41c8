"""Git's smart HTTP protocol at a CodeCommit repository's cloneUrlHttp (`/v1/repos/<name>`), served by
dulwich's WSGI application (dulwich.web), with CodeCommit's checks in front:

- HTTP basic auth: user = access key id (`<key id>%<session token>` for an STS session, as
  git-remote-codecommit spells temporary credentials), password = the secret key. No or wrong credentials:
  401 with `WWW-Authenticate: Basic`, so git asks its credential helper or fails cleanly.
- An unknown repository: 404 naming it.
- IAM: `codecommit:GitPull` (clone, fetch) or `codecommit:GitPush` (push) on the repository's ARN, evaluated
  as any request (this boot's admin key is not evaluated); denied: 403 with AWS's message.
- A push's updated refs go to events.pushed (metadata, EventBridge events) once git has applied them.

    handles(path) -> bool;  route(environ, start_response)   (localcloud/server.py's with_routes)
"""

from __future__ import annotations

import base64
import binascii
import hmac
import logging
import re
from collections.abc import Callable, Iterable
from typing import Any

from dulwich.server import DictBackend, ReceivePackHandler
from dulwich.web import make_wsgi_chain

from localcloud import config, runtime
from localcloud.codecommit import events, repos

log = logging.getLogger("localcloud.codecommit")

PREFIX = "/v1/repos/"
REALM = 'Basic realm="localcloud CodeCommit"'
_PATH = re.compile(r"^/v1/repos/([\w.-]{1,100})(/.*)?$")
PUSH_SERVICE = "git-receive-pack"


def handles(path: str | None) -> bool:
    return bool(path) and path.startswith(PREFIX)


def _text(start_response: Callable, status: str, message: str, headers=()) -> list[bytes]:
    body = (message.rstrip("\n") + "\n").encode()
    start_response(
        status,
        [("Content-Type", "text/plain; charset=utf-8"), ("Content-Length", str(len(body))), *headers],
    )
    return [body]


def _basic_credentials(environ: dict[str, Any]) -> tuple[str, str] | None:
    header = environ.get("HTTP_AUTHORIZATION") or ""
    scheme, _, encoded = header.partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(encoded.strip(), validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


def _action(environ: dict[str, Any], rest: str) -> str:
    """GitPush for receive-pack (its advertisement included), GitPull for everything else git reads."""
    pushing = rest.endswith("/" + PUSH_SERVICE) or f"service={PUSH_SERVICE}" in (
        environ.get("QUERY_STRING") or ""
    )
    return "codecommit:GitPush" if pushing else "codecommit:GitPull"


def _authenticate(environ: dict[str, Any]):
    """The caller's identity (principals.Identity), or the message of a 401 (str)."""
    from localcloud.iam import principals

    given = _basic_credentials(environ)
    if given is None:
        return (
            "Authentication required: use HTTP basic auth with an access key id as the user and its secret "
            "key as the password (this cloud's admin keys: `localcloud env`)."
        )
    user, password = given
    key, _, token = user.partition("%")
    secret = principals.secret_for(key)
    if secret is None or not hmac.compare_digest(secret.encode(), password.encode()):
        return f"Invalid credentials for access key {key!r}: unknown key or wrong secret."
    if principals.is_admin(key):
        return principals.ADMIN_IDENTITY
    identity = principals.resolve(key, token or None)
    if identity is None:
        return (
            f"Invalid credentials for access key {key!r}: a session key needs its token (<key id>%<token>)."
        )
    return identity


def _denial(identity, environ: dict[str, Any], name: str, action: str) -> str | None:
    """AWS's AccessDenied message when IAM refuses the git action on the repository, else None."""
    from localcloud.iam import authorizer
    from localcloud.iam.model import ADMIN, Call

    principal = identity.principal
    if principal.kind == ADMIN:
        return None
    call = Call(action, repos.repository(name)["Arn"])
    denied = authorizer.first_denial(principal, [call], authorizer.request_context(identity, environ))
    if denied is None:
        return None
    message = authorizer.denial_message(principal, *denied)
    log.warning("denied: %s", message)
    return message


def _caller_arn(identity) -> str:
    from localcloud.iam import authorizer
    from localcloud.iam.model import ADMIN

    return authorizer.ACCOUNT_ROOT.arn if identity.principal.kind == ADMIN else identity.principal.caller_arn


def _receive_pack_reporting(name: str, caller_arn: str) -> Callable[..., ReceivePackHandler]:
    """dulwich's receive-pack, telling events.pushed what each push updated."""

    class Reporting(ReceivePackHandler):
        def _on_post_receive(self, client_refs):
            super()._on_post_receive(client_refs)
            updates = [(o.decode(), n.decode(), r.decode("utf-8", "replace")) for o, n, r in client_refs]
            events.pushed(name, updates, caller_arn)

    return Reporting


def route(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
    from localcloud.iam import principals

    match = _PATH.match(environ.get("PATH_INFO") or "")
    if match is None:
        return _text(start_response, "404 Not Found", "Not a repository path: /v1/repos/<repository name>")
    name, rest = match.group(1), match.group(2) or "/"
    mode = runtime.mode()  # LOCALCLOUD_IAM: enforce | record (decide, log, never refuse) | off
    identity = principals.ADMIN_IDENTITY if mode == "off" else _authenticate(environ)
    if isinstance(identity, str):
        # git asks without credentials first and retries with them after the 401: no credentials is routine.
        level = logging.WARNING if environ.get("HTTP_AUTHORIZATION") else logging.INFO
        log.log(level, "git request refused (%s): %s", environ.get("PATH_INFO"), identity)
        if mode == "enforce":
            return _text(start_response, "401 Unauthorized", identity, [("WWW-Authenticate", REALM)])
        identity = principals.ADMIN_IDENTITY
    try:
        repos.repository(name)
    except repos.NotFound:
        message = f"Repository '{name}' does not exist in account {config.ACCOUNT_ID} ({config.REGION})."
        return _text(start_response, "404 Not Found", message)
    denied = None if mode == "off" else _denial(identity, environ, name, _action(environ, rest))
    if denied is not None and mode == "enforce":
        return _text(start_response, "403 Forbidden", denied)
    repo = repos.open_repo(name)
    handlers = {PUSH_SERVICE.encode(): _receive_pack_reporting(name, _caller_arn(identity))}
    app = make_wsgi_chain(DictBackend({"/": repo}), handlers=handlers)
    environ = dict(environ, PATH_INFO=rest, SCRIPT_NAME=f"{PREFIX}{name}")
    if environ.pop("wsgi.input_terminated", False):
        environ.pop("HTTP_TRANSFER_ENCODING", None)  # werkzeug has de-chunked the body already
    return _closing(app(environ, start_response), repo)


def _closing(body: Iterable[bytes], repo) -> Iterable[bytes]:
    try:
        yield from body
    finally:
        repo.close()
