"""S3: evaluate bucket-policy conditions against the request, as AWS does.

moto 5.2.5 evaluates a bucket policy on object requests with no request context and understands only
`StringEquals`; every other operator counts as matched. So a Deny guarded by `Bool aws:SecureTransport false`
or `StringNotEqualsIfExists s3:x-amz-server-side-encryption aws:kms` denies every request, and the stack's
TLS-only, KMS-only buckets become unusable. This replaces the evaluation with one that reads the condition
keys from the request headers and implements the operators our policies (and most bucket policies) use.

The local cloud is plain HTTP on 127.0.0.1 only: it reports `aws:SecureTransport` as "true", the one place it
knowingly differs from AWS here (listed in localcloud/README.md).
"""

from __future__ import annotations

import contextvars
import fnmatch
import json
from collections.abc import Callable, Mapping
from typing import Any

from moto.iam.access_control import PermissionResult
from moto.s3.models import FakeBucket
from moto.s3.responses import S3Response

_request_headers: contextvars.ContextVar[Mapping[str, str] | None] = contextvars.ContextVar(
    "localcloud_s3_request_headers", default=None
)

# Condition keys read from request headers (lower-case header names).
_HEADER_KEYS = {
    "s3:x-amz-server-side-encryption": "x-amz-server-side-encryption",
    "s3:x-amz-server-side-encryption-aws-kms-key-id": "x-amz-server-side-encryption-aws-kms-key-id",
    "s3:x-amz-acl": "x-amz-acl",
}


def request_context(headers: Mapping[str, str] | None) -> dict[str, str]:
    """The condition keys a request carries: lower-cased key -> value."""
    context = {"aws:securetransport": "true"}  # loopback endpoint; see the module docstring
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    for key, header in _HEADER_KEYS.items():
        if header in lowered:
            context[key] = lowered[header]
    return context


def _as_list(value: Any) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else [str(value)]


def _string_like(actual: str, expected: str) -> bool:
    return fnmatch.fnmatchcase(actual, expected)


_BASE_OPERATORS: dict[str, Callable[[str, str], bool]] = {
    "StringEquals": lambda a, e: a == e,
    "StringEqualsIgnoreCase": lambda a, e: a.lower() == e.lower(),
    "StringLike": _string_like,
    "ArnEquals": lambda a, e: a == e,
    "ArnLike": _string_like,
    "Bool": lambda a, e: a.lower() == e.lower(),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
}


def condition_matches(operator: str, key: str, expected: Any, context: Mapping[str, str]) -> bool:
    """One condition block entry, with IAM's rules for IfExists, Null and negated operators."""
    actual = context.get(key.lower())
    if operator == "Null":
        wants_absent = _as_list(expected)[0].lower() == "true"
        return (actual is None) == wants_absent
    if_exists = operator.endswith("IfExists")
    base = operator.removesuffix("IfExists")
    if actual is None:
        # A missing key satisfies an ...IfExists condition and a negated one; it fails the rest.
        return if_exists or base in _NEGATED
    if base in _NEGATED:
        positive = _BASE_OPERATORS[_NEGATED[base]]
        return not any(positive(actual, e) for e in _as_list(expected))
    test = _BASE_OPERATORS.get(base)
    if test is None:
        return False  # unknown operator: never grant or deny on what we cannot evaluate
    return any(test(actual, e) for e in _as_list(expected))


def _matches_any(patterns: Any, value: str) -> bool:
    return any(fnmatch.fnmatchcase(value, p) for p in _as_list(patterns))


def statement_applies(
    statement: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]
) -> bool:
    if "Action" in statement and not _matches_any(statement["Action"], action):
        return False
    if "NotAction" in statement and _matches_any(statement["NotAction"], action):
        return False
    if "Resource" in statement and not _matches_any(statement["Resource"], resource):
        return False
    if "NotResource" in statement and _matches_any(statement["NotResource"], resource):
        return False
    for operator, entries in statement.get("Condition", {}).items():
        for key, expected in entries.items():
            if not condition_matches(operator, key, expected, context):
                return False
    return True


def evaluate(
    policy: Mapping[str, Any], action: str, resource: str, context: Mapping[str, str]
) -> PermissionResult:
    """An explicit Deny wins, then an Allow; otherwise the policy is neutral. Principals are not checked:
    every caller of the local cloud is the same account."""
    statements = policy.get("Statement", [])
    if isinstance(statements, dict):
        statements = [statements]
    applying = [s for s in statements if statement_applies(s, action, resource, context)]
    if any(s.get("Effect") == "Deny" for s in applying):
        return PermissionResult.DENIED
    if any(s.get("Effect") == "Allow" for s in applying):
        return PermissionResult.PERMITTED
    return PermissionResult.NEUTRAL


def _get_permission(self: FakeBucket, action: str, resource: str) -> PermissionResult:
    if self.policy is None:
        return PermissionResult.NEUTRAL
    context = request_context(_request_headers.get())
    return evaluate(json.loads(self.policy.decode()), action, resource, context)


def _with_headers(
    method: Callable[..., Any], headers_of: Callable[..., Mapping[str, str]]
) -> Callable[..., Any]:
    def wrapper(self: S3Response, *args: Any, **kwargs: Any) -> Any:
        token = _request_headers.set(headers_of(self, *args))
        try:
            return method(self, *args, **kwargs)
        finally:
            _request_headers.reset(token)

    wrapper.__wrapped__ = method  # type: ignore[attr-defined]
    return wrapper


def apply() -> None:
    FakeBucket.get_permission = _get_permission
    S3Response._key_response = _with_headers(
        S3Response._key_response, lambda self, request, *_: request.headers
    )
    S3Response._bucket_response_delete_keys = _with_headers(
        S3Response._bucket_response_delete_keys, lambda self, *_: self.headers
    )
