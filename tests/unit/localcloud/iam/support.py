"""Principals and policies for the evaluator's tests, in as few words as the tests need."""

from __future__ import annotations

from localcloud.iam.model import ROLE, SERVICE, USER, Decision, PolicySource, Principal

ACCOUNT = "123456789012"
OTHER_ACCOUNT = "444455556666"
VERSION = "2012-10-17"  # the policy language version with policy variables


def document(*statements: dict, version: str | None = VERSION) -> dict:
    found = {"Statement": list(statements)}
    return found if version is None else {"Version": version, **found}


def identity(*statements: dict, name: str = "identity:inline", version: str | None = VERSION) -> PolicySource:
    return PolicySource(name, document(*statements, version=version))


def resource(*statements: dict, name: str = "resource:policy", version: str | None = VERSION) -> PolicySource:
    return PolicySource(name, document(*statements, version=version))


def role(name: str, *policies: PolicySource, account: str = ACCOUNT, session: str = "session") -> Principal:
    return Principal(
        kind=ROLE,
        arn=f"arn:aws:iam::{account}:role/{name}",
        account=account,
        session_arn=f"arn:aws:sts::{account}:assumed-role/{name}/{session}",
        identity_policies=policies,
    )


def user(name: str, *policies: PolicySource, account: str = ACCOUNT) -> Principal:
    arn = f"arn:aws:iam::{account}:user/{name}"
    return Principal(kind=USER, arn=arn, account=account, identity_policies=policies)


def service(name: str) -> Principal:
    return Principal(kind=SERVICE, arn=name)


def allow(action, resource="*", **more) -> dict:
    return {"Effect": "Allow", "Action": action, "Resource": resource, **more}


def deny(action, resource="*", **more) -> dict:
    return {"Effect": "Deny", "Action": action, "Resource": resource, **more}


def sids(refs) -> set[str | None]:
    return {ref.sid for ref in refs}


def used(decision: Decision) -> set[tuple[str, int]]:
    return {(ref.source, ref.index) for ref in decision.allowed_by}
