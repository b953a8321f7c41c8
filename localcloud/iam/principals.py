"""Who is calling: the access key of a request -> a Principal (localcloud/iam/model.py).

- this boot's admin key pair (the harness and Terraform) -> ADMIN, not evaluated (the authorizer checks only
  bucket policies' explicit denies for it);
- an STS session key (a role assumed through moto's STS backend: our workloads, or sts:AssumeRole callers)
  -> ROLE with the role's inline and attached managed policies, read fresh on every request so that a
  PutRolePolicy takes effect at once, as on AWS;
- an IAM user's active access key -> USER with its own and its groups' policies;
- anything else -> None (the request is refused as AWS refuses an unknown key).

A request is its key's only when signed with the key's secret (`secret_for`; the authorizer checks the SigV4
signature with localcloud/iam/signature.py). A session key must come with its session token, as on AWS.
"""

from __future__ import annotations

import re
import threading
import urllib.parse
from dataclasses import dataclass, field
from typing import Any

from localcloud import config
from localcloud.iam.model import ADMIN, ROLE, USER, PolicySource, Principal

ADMIN_PRINCIPAL = Principal(kind=ADMIN, arn="")

_SIGV4_CREDENTIAL = re.compile(r"Credential=([^/,\s]+)/")
_SIGV2_CREDENTIAL = re.compile(r"^AWS ([^:\s]+):")

# Session keys this process issued or saw (access key id -> moto AssumedRole): moto's own lookup is a scan.
_sessions: dict[str, Any] = {}
_sessions_lock = threading.Lock()


def is_admin(access_key_id: str | None) -> bool:
    """This boot's admin key (localcloud/credentials.py: issued at random by the server before it listens)."""
    from localcloud import credentials

    return credentials.is_admin(access_key_id)


def request_credentials(environ: dict[str, Any]) -> tuple[str | None, str | None]:
    """(access key id, session token) of a request: SigV4 Authorization header, presigned query
    (X-Amz-Credential / X-Amz-Security-Token), or SigV2 ("AWS key:signature"). (None, None) = anonymous."""
    header = environ.get("HTTP_AUTHORIZATION") or ""
    key = None
    match = _SIGV4_CREDENTIAL.search(header) or _SIGV2_CREDENTIAL.search(header)
    if match:
        key = match.group(1)
    token = environ.get("HTTP_X_AMZ_SECURITY_TOKEN")
    query = environ.get("QUERY_STRING") or ""
    if (key is None or token is None) and ("X-Amz-" in query or "AWSAccessKeyId" in query):
        params = urllib.parse.parse_qs(query)
        if key is None:
            credential = (params.get("X-Amz-Credential") or [""])[0]
            key = credential.split("/", 1)[0] or (params.get("AWSAccessKeyId") or [None])[0]
        if token is None:
            token = (params.get("X-Amz-Security-Token") or [None])[0]
    return key or None, token


def remember_session(assumed_role: Any) -> None:
    """Index a session issued in-process (runtime.role_credentials), so its key resolves without a scan."""
    with _sessions_lock:
        _sessions[assumed_role.access_key_id] = assumed_role


def _find_session(access_key_id: str) -> Any | None:
    with _sessions_lock:
        found = _sessions.get(access_key_id)
    if found is not None:
        return found
    from moto.sts.models import sts_backends

    for account in list(sts_backends.keys()):
        for backend in list(sts_backends[account].values()):
            found = backend.get_assumed_role_from_access_key(access_key_id)
            if found is not None:
                remember_session(found)
                return found
    return None


def _default_document(policy: Any) -> str:
    for version in policy.versions:
        if version.is_default:
            return version.document
    return policy.versions[-1].document if policy.versions else "{}"


def _parse(text: str) -> dict:
    from localcloud.iam.resources import parsed_policy  # one cache of parsed policy texts

    return parsed_policy(text) or {}


def _policies_of(owner_arn: str, entity: Any) -> list[PolicySource]:
    """Inline policies of a role/user/group, then its attached managed policies."""
    sources = [
        PolicySource(f"identity:{owner_arn}:{name}", _parse(text))
        for name, text in list(entity.policies.items())
    ]
    for arn, managed in list(entity.managed_policies.items()):
        sources.append(PolicySource(f"identity:{arn}", _parse(_default_document(managed))))
    return sources


def _iam_backend(account: str):
    from moto.iam.models import iam_backends

    return iam_backends[account]["aws"]


@dataclass(frozen=True)
class Identity:
    """A resolved caller: the principal and the global condition keys that describe it (lower-cased)."""

    principal: Principal
    context: dict[str, list[str]] = field(default_factory=dict)


ADMIN_IDENTITY = Identity(ADMIN_PRINCIPAL)


def role_principal(role_arn: str, session_arn: str | None = None, role: Any = None) -> Principal:
    """The role with its current policies (none when the role no longer exists: every call is denied);
    `role`: moto's role when the caller has looked it up already."""
    account = role_arn.split(":")[4]
    role = role if role is not None else find_role(role_arn)
    policies = tuple(_policies_of(role_arn, role)) if role is not None else ()
    return Principal(
        kind=ROLE, arn=role_arn, account=account, session_arn=session_arn, identity_policies=policies
    )


def find_role(role_arn: str) -> Any | None:
    try:
        return _iam_backend(role_arn.split(":")[4]).get_role_by_arn(role_arn)
    except Exception:  # NotFoundException: a deleted role
        return None


def _session_identity(session: Any) -> Identity:
    role = find_role(session.role_arn)
    principal = role_principal(session.role_arn, session_arn=session.arn, role=role)
    context = _common(principal, "AssumedRole")
    if role is not None:
        context["aws:userid"] = [f"{role.id}:{session.session_name}"]
    return Identity(principal, context)


def _user_identity(account: str, user: Any) -> Identity:
    backend = _iam_backend(account)
    sources = _policies_of(user.arn, user)
    for group in list(backend.groups.values()):
        if user in group.users:
            group_arn = f"arn:aws:iam::{account}:group{group.path}{group.name}"
            sources += _policies_of(group_arn, group)
    principal = Principal(kind=USER, arn=user.arn, account=account, identity_policies=tuple(sources))
    context = _common(principal, "User")
    context["aws:userid"] = [user.id]
    context["aws:username"] = [user.name]
    return Identity(principal, context)


def _common(principal: Principal, principal_type: str) -> dict[str, list[str]]:
    return {
        "aws:principalarn": [principal.arn],
        "aws:principalaccount": [principal.account or ""],
        "aws:principaltype": [principal_type],
        "aws:principalisawsservice": ["false"],
    }


def resolve(access_key_id: str | None, session_token: str | None = None) -> Identity | None:
    """The caller behind an access key; None for a key (or session token) this cloud did not issue."""
    if not access_key_id:
        return None
    if is_admin(access_key_id):
        return ADMIN_IDENTITY
    session = _find_session(access_key_id)
    if session is not None:
        if session_token != session.session_token:
            return None  # a session key is only valid with its token
        return _session_identity(session)
    account = config.ACCOUNT_ID
    user = _iam_backend(account).get_user_from_access_key_id(access_key_id)
    if user is None:
        return None
    active = any(k.access_key_id == access_key_id and k.status == "Active" for k in user.access_keys)
    return _user_identity(account, user) if active else None


def caller(headers: Any) -> Identity | None:
    """Who signed a request, from its headers (what a moto response handler sees; the admin is
    ADMIN_IDENTITY): for answers that name the caller (a build's initiator, an execution's trigger)."""
    environ = {
        "HTTP_AUTHORIZATION": headers.get("Authorization") or "",
        "HTTP_X_AMZ_SECURITY_TOKEN": headers.get("X-Amz-Security-Token"),
    }
    return resolve(*request_credentials(environ))


def secret_for(access_key_id: str | None) -> str | None:
    """The secret of an access key this cloud issued (what its requests must be signed with): this boot's
    admin key, an STS session's, an IAM user's active key's; None for any other key."""
    if not access_key_id:
        return None
    if is_admin(access_key_id):
        from localcloud import credentials

        issued = credentials.current()
        return issued.secret_access_key if issued is not None else None
    session = _find_session(access_key_id)
    if session is not None:
        return session.secret_access_key
    user = _iam_backend(config.ACCOUNT_ID).get_user_from_access_key_id(access_key_id)
    if user is None:
        return None
    for key in user.access_keys:
        if key.access_key_id == access_key_id and key.status == "Active":
            return key.secret_access_key
    return None
