"""Pure IAM policy evaluation: may this principal make this call, given its identity policies and the
resource's policy? AWS's "Policy evaluation logic" for requests within one account, plus KMS's key-policy
rule.

- An explicit Deny in any applicable policy wins.
- Otherwise an identity policy that allows, or a resource-policy statement that names the principal itself
  (its user or role ARN, its session ARN, "*"), allows. A statement naming only the principal's account
  delegates to the account's identity policies: it does not allow on its own.
- A service principal has no identity policies: only a resource policy can allow it.
- A principal of another account needs both: its identity policies and the resource policy.
- KMS (key_policy=True): the key policy is required; it allows the principal directly, or it allows the
  account and an identity policy allows too. Identity policies alone never suffice.

Malformed documents raise ValueError naming the policy and the problem.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from localcloud.iam import conditions
from localcloud.iam.conditions import Context
from localcloud.iam.model import ADMIN, SERVICE, Call, Decision, PolicySource, Principal, StatementRef

VARIABLES_VERSION = "2012-10-17"  # policy variables are substituted only in documents of this version
_ACCOUNT_ID = re.compile(r"^\d{12}$")
_ROOT_ARN = re.compile(r"^arn:[^:]+:iam::(\d{12}):root$")

DIRECT = "direct"  # the statement names the principal itself (or everyone)
ACCOUNT = "account"  # the statement names only the principal's account: a delegation to its identity policies


@dataclass
class _Matches:
    """The statements of one kind of policy (identity or resource) that apply to a call."""

    allows: list[StatementRef] = field(default_factory=list)
    denies: list[StatementRef] = field(default_factory=list)
    direct: bool = False  # an applicable Allow names the principal itself
    account: bool = False  # an applicable Allow names the principal's account


def evaluate(
    principal: Principal,
    call: Call,
    resource_policy: PolicySource | None = None,
    *,
    key_policy: bool = False,
    context: Context | None = None,
) -> Decision:
    """The decision for one call, with every Allow and Deny statement that applied."""
    if principal.kind == ADMIN:
        return Decision(True, "admin credentials are not evaluated")
    ctx = _context(context, call.context)
    identity = _Matches()
    if principal.kind != SERVICE:  # a service principal has no identity policies
        for source in principal.identity_policies:
            _scan(source, principal, call, ctx, identity, resource=False)
    resource = _Matches()
    if resource_policy is not None:
        _scan(resource_policy, principal, call, ctx, resource, resource=True)

    refs = {
        "allowed_by": (*identity.allows, *resource.allows),
        "denied_by": (*resource.denies, *identity.denies),
    }
    if resource.denies:
        return Decision(False, "with an explicit deny in a resource-based policy", **refs)
    if identity.denies:
        return Decision(False, "with an explicit deny in an identity-based policy", **refs)

    identity_allows = bool(identity.allows)
    no_identity = f"because no identity-based policy allows the {call.action} action"
    no_resource = f"because no resource-based policy allows the {call.action} action"
    if principal.kind == SERVICE:
        return _decide(resource.direct, "allowed by a resource-based policy", no_resource, refs)
    if _other_account(principal, call, ctx):
        # Cross-account: the principal's own account must allow it, and so must the resource's policy.
        resource_allows = resource.direct or resource.account
        return _decide(
            identity_allows and resource_allows,
            "allowed by an identity-based and a resource-based policy",
            no_identity if not identity_allows else no_resource,
            refs,
        )
    if key_policy:
        if resource.direct:
            return Decision(True, "allowed by the key policy", **refs)
        return _decide(
            resource.account and identity_allows,
            "allowed by an identity-based policy the key policy enables",
            no_identity if resource.account else no_resource,
            refs,
        )
    if resource.direct:
        return Decision(True, "allowed by a resource-based policy", **refs)
    return _decide(identity_allows, "allowed by an identity-based policy", no_identity, refs)


def trust_allows(trust: PolicySource, service: str, context: Context | None = None) -> Decision:
    """May the service principal `service` (e.g. "ecs-tasks.amazonaws.com") assume the role whose trust
    policy is `trust` (named "trust:<role arn>"), given context keys such as aws:sourceaccount?"""
    principal = Principal(kind=SERVICE, arn=service)
    call = Call(action="sts:AssumeRole", resource=trust.name.removeprefix("trust:"))
    matches = _Matches()
    _scan(trust, principal, call, _context(context, {}), matches, resource=True)
    refs = {"allowed_by": tuple(matches.allows), "denied_by": tuple(matches.denies)}
    if matches.denies:
        return Decision(False, "with an explicit deny in the role trust policy", **refs)
    return _decide(
        matches.direct,
        "allowed by the role trust policy",
        "because no role trust policy allows the sts:AssumeRole action",
        refs,
    )


def _decide(allowed: bool, allow_reason: str, deny_reason: str, refs: dict) -> Decision:
    return Decision(allowed, allow_reason if allowed else deny_reason, **refs)


def _context(*parts: Context | None) -> Context:
    """One context with lower-cased keys; later parts (the call's own keys) win."""
    merged: Context = {}
    for part in parts:
        for key, values in (part or {}).items():
            merged[key.lower()] = [values] if isinstance(values, str) else list(values)
    return merged


def _other_account(principal: Principal, call: Call, ctx: Context) -> bool:
    """Whether the resource belongs to another account than the principal (S3 ARNs name no account: the
    authorizer may say so with aws:resourceaccount)."""
    owner = (ctx.get("aws:resourceaccount") or [None])[0]
    if owner is None:
        parts = call.resource.split(":", 5)
        owner = parts[4] if len(parts) == 6 and _ACCOUNT_ID.match(parts[4]) else None
    return bool(principal.account and owner and owner != principal.account)


# --- statements ------------------------------------------------------------------------------------------


def service_wide_grant(principal: Principal, prefix: str) -> Decision | None:
    """The decision for an operation of service `prefix` that requests.py does not model, when one exists
    without guessing its action and resource: the principal's identity policies allow every action of the
    service (`<prefix>:*` or `*`) on every resource (`*`) with no condition, and no Deny statement could apply
    to any action of it. Whatever the operation maps to, AWS would then allow it (resource policies aside: a
    deployer's policy on the resources the stack owns). None when that cannot be said: the caller refuses."""
    if principal.kind in (ADMIN, SERVICE):
        return None
    whole = {"*", f"{prefix}:*"}
    grants: list[StatementRef] = []
    for source in principal.identity_policies:
        for index, statement in enumerate(statements(source, resource=False)):
            if statement["Effect"] == "Deny":
                if _may_deny(statement, prefix):
                    return None
                continue
            actions = {a.lower() for a in _strings(statement.get("Action", []), "Action")}
            resources = _strings(statement.get("Resource", []), "Resource")
            if actions & whole and "*" in resources and "Condition" not in statement:
                grants.append(StatementRef(source.name, index, statement.get("Sid")))
    if not grants:
        return None
    reason = f"allowed by an identity-based policy granting {prefix}:* on * (the operation is not modelled)"
    return Decision(True, reason, allowed_by=tuple(grants))


def _may_deny(statement: dict, prefix: str) -> bool:
    """Could this Deny statement apply to some action of the service? (NotAction: assume it could.)"""
    if "NotAction" in statement:
        return True
    for pattern in _strings(statement["Action"], "Action"):
        service = pattern.split(":", 1)[0]
        if conditions.glob_matches(_literal(service), prefix, ignore_case=True):
            return True
    return False


def statements(source: PolicySource, *, resource: bool) -> list[dict]:
    """The statements of a policy, checked: ValueError names the policy and the first problem."""
    document = source.document
    if not isinstance(document, dict):
        raise ValueError(f"{source.name}: the policy document is not a JSON object")
    found = document.get("Statement")
    found = [found] if isinstance(found, dict) else found
    if not isinstance(found, list) or not all(isinstance(s, dict) for s in found):
        raise ValueError(f"{source.name}: Statement must be an object or a list of objects")
    for index, statement in enumerate(found):
        try:
            _check(statement, resource=resource)
        except ValueError as problem:
            raise ValueError(f"{source.name}: statement {index}: {problem}") from None
    return found


def _check(statement: dict, *, resource: bool) -> None:
    effect = statement.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise ValueError(f"unknown Effect {effect!r} (Allow or Deny)")
    for one, other, required in (
        ("Action", "NotAction", True),
        ("Resource", "NotResource", False),  # trust policies name no resource
        ("Principal", "NotPrincipal", resource),
    ):
        if one in statement and other in statement:
            raise ValueError(f"both {one} and {other}")
        if required and one not in statement and other not in statement:
            raise ValueError(f"needs {one} or {other}")
    if not resource and ("Principal" in statement or "NotPrincipal" in statement):
        raise ValueError("an identity-based policy cannot name a Principal")
    for name in ("Action", "NotAction", "Resource", "NotResource"):
        if name in statement:
            _strings(statement[name], name)
    for name in ("Principal", "NotPrincipal"):
        if name in statement:
            _entries(statement[name])
    if "Condition" in statement:
        conditions.validate(statement["Condition"])


def _strings(value: object, name: str) -> list[str]:
    values = [value] if isinstance(value, str) else value
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ValueError(f"{name} must be a string or a list of strings")
    return values


def _scan(
    source: PolicySource, principal: Principal, call: Call, ctx: Context, into: _Matches, *, resource: bool
) -> None:
    """Add the statements of `source` that apply to the call to `into`."""
    found = statements(source, resource=resource)
    variables = source.document.get("Version") == VARIABLES_VERSION
    for index, statement in enumerate(found):
        match = statement_matches(statement, principal, call, ctx, variables=variables, resource=resource)
        if match is None:
            continue
        ref = StatementRef(source.name, index, statement.get("Sid"))
        if statement["Effect"] == "Deny":
            into.denies.append(ref)
            continue
        into.allows.append(ref)
        into.direct |= match == DIRECT
        into.account |= match == ACCOUNT


def statement_matches(
    statement: dict, principal: Principal, call: Call, ctx: Context, *, variables: bool, resource: bool
) -> str | None:
    """DIRECT or ACCOUNT when the (checked) statement applies to the call, else None. Identity-policy
    statements apply DIRECT: they are the principal's own."""
    if not _action_matches(statement, call.action):
        return None
    if not _resource_matches(statement, call.resource, ctx, variables):
        return None
    match = principal_matches(statement, principal) if resource else DIRECT
    if match is None:
        return None
    if not conditions.conditions_hold(statement.get("Condition"), ctx, variables=variables):
        return None
    return match


def _action_matches(statement: dict, action: str) -> bool:
    listed = "Action" in statement
    patterns = _strings(statement["Action" if listed else "NotAction"], "Action")
    hit = any(conditions.glob_matches(_literal(p), action, ignore_case=True) for p in patterns)
    return hit == listed


def _literal(pattern: str) -> conditions.Pattern:
    """A policy string without variables (Action elements take none)."""
    return conditions.Pattern(((pattern, True),))


def _resource_matches(statement: dict, arn: str, ctx: Context, variables: bool) -> bool:
    if "Resource" not in statement and "NotResource" not in statement:
        return True
    listed = "Resource" in statement
    patterns = _strings(statement["Resource" if listed else "NotResource"], "Resource")
    hit = False
    for text in patterns:
        pattern = conditions.expand(text, ctx, variables=variables)
        # A resource naming a variable without a value matches no resource.
        if pattern is not None and conditions.arn_matches(pattern, arn):
            hit = True
            break
    return hit == listed


# --- principals ------------------------------------------------------------------------------------------


def principal_matches(statement: dict, principal: Principal) -> str | None:
    """How a resource-policy statement's Principal / NotPrincipal names `principal`: DIRECT, ACCOUNT, None."""
    if "Principal" in statement:
        return _named(statement["Principal"], principal)
    # NotPrincipal: the statement applies unless every link of the principal's chain (account, role or
    # user, session) is listed; AWS may check each link, which is why its docs list all of them.
    listed = _entries(statement["NotPrincipal"])
    if listed.everyone:
        return None
    if principal.kind == SERVICE:
        return None if principal.arn.lower() in listed.services else DIRECT
    chain = [{f"account:{principal.account}"}, {principal.arn}]
    if principal.session_arn:
        chain.append({principal.session_arn})
    return None if all(link & listed.aws for link in chain) else DIRECT


@dataclass(frozen=True)
class _Listed:
    everyone: bool  # "*" or {"AWS": "*"}
    aws: frozenset[str]  # ARNs, with accounts (ids or root ARNs) as "account:<id>"
    services: frozenset[str]  # lower-cased service principal names


def _entries(element: object) -> _Listed:
    if element == "*":
        return _Listed(True, frozenset(), frozenset())
    if not isinstance(element, dict):
        raise ValueError(f'Principal must be "*" or an object, not {element!r}')
    aws = {_account_or_arn(entry) for entry in _strings(element.get("AWS", []), "Principal AWS")}
    services = {s.lower() for s in _strings(element.get("Service", []), "Principal Service")}
    # Federated and CanonicalUser principals name nobody this stack has.
    return _Listed("*" in aws, frozenset(aws - {"*"}), frozenset(services))


def _account_or_arn(entry: str) -> str:
    """An account id and its root ARN mean the same: the account."""
    if _ACCOUNT_ID.match(entry):
        return f"account:{entry}"
    root = _ROOT_ARN.match(entry)
    return f"account:{root.group(1)}" if root else entry


def _named(element: object, principal: Principal) -> str | None:
    listed = _entries(element)
    if listed.everyone:
        return DIRECT
    if principal.kind == SERVICE:
        return DIRECT if principal.arn.lower() in listed.services else None
    if principal.arn in listed.aws or (principal.session_arn and principal.session_arn in listed.aws):
        return DIRECT  # a role ARN names that role's sessions
    if principal.account and f"account:{principal.account}" in listed.aws:
        return ACCOUNT
    return None
