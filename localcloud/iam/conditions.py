"""Condition blocks, policy variables and wildcard matching, as IAM evaluates them.

A context maps lower-cased condition keys to lists of strings. AWS's rules, from its "Condition operators",
"...IfExists", "Creating a condition with multiple keys or values" and "Policy variables" pages:
- all operators of a block AND-ed, all keys of an operator AND-ed, the policy values of one key OR-ed; a
  negated operator (StringNotEquals, NotIpAddress, ...) holds when the request value matches none of them;
- a key missing from the context fails a condition, except that a negated operator then holds, `...IfExists`
  then holds, `ForAllValues:` then holds and `ForAnyValue:` then fails; `Null` tests presence itself;
- `${key}` in a value (Version 2012-10-17 only) is replaced by the key's value and taken literally, never as a
  wildcard; a variable without a value makes that policy value match nothing; `${*}`, `${?}`, `${$}` are the
  literal characters.
"""

from __future__ import annotations

import base64
import binascii
import functools
import ipaddress
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation

Context = dict[str, list[str]]

_VARIABLE = re.compile(r"\$\{([^}]*)\}")
_DEFAULTED = re.compile(r"^\s*([^,]+?)\s*,\s*'(.*)'\s*$")  # ${aws:PrincipalTag/team, 'company-wide'}
_SPECIAL = {"*", "?", "$"}


@dataclass(frozen=True)
class Pattern:
    """A policy string after variable substitution: (text, wildcards active) pieces, so that substituted text
    and the special variables stay literal in Like/Arn matches."""

    pieces: tuple[tuple[str, bool], ...]

    @property
    def text(self) -> str:
        return "".join(text for text, _ in self.pieces)


def expand(template: str, context: Context, *, variables: bool) -> Pattern | None:
    """The policy string `template` with its variables replaced; None when one of them has no value."""
    if not variables or "${" not in template:
        return Pattern(((template, True),))
    pieces: list[tuple[str, bool]] = []
    position = 0
    for found in _VARIABLE.finditer(template):
        pieces.append((template[position : found.start()], True))
        value = _variable_value(found.group(1), context)
        if value is None:
            return None
        pieces.append((value, False))
        position = found.end()
    pieces.append((template[position:], True))
    return Pattern(tuple(piece for piece in pieces if piece[0]))


def _variable_value(name: str, context: Context) -> str | None:
    if name in _SPECIAL:
        return name
    default = None
    defaulted = _DEFAULTED.match(name)
    if defaulted:
        name, default = defaulted.groups()
    values = context.get(name.strip().lower()) or []
    # A multivalued key cannot be a policy variable: it counts as having no value.
    return values[0] if len(values) == 1 else default


def glob_matches(pattern: Pattern, value: str, *, ignore_case: bool = False) -> bool:
    """`*` and `?` wildcards over the whole string (StringLike, Action)."""
    return _regex(pattern.pieces, arn=False, ignore_case=ignore_case).fullmatch(value) is not None


def arn_matches(pattern: Pattern, value: str) -> bool:
    """ARN matching (Resource, ArnLike): a wildcard stays within its colon-separated segment, except in the
    last (resource) segment, which may itself contain colons. Patterns that are not whole ARNs ("*") match
    as plain globs."""
    arn = pattern.text.count(":") >= 5
    return _regex(pattern.pieces, arn=arn, ignore_case=False).fullmatch(value) is not None


@functools.lru_cache(maxsize=4096)
def _regex(pieces: tuple[tuple[str, bool], ...], *, arn: bool, ignore_case: bool) -> re.Pattern[str]:
    parts: list[str] = []
    colons = 0
    for text, wild in pieces:
        for char in text:
            in_segment = arn and colons < 5
            if wild and char == "*":
                parts.append("[^:]*" if in_segment else ".*")
            elif wild and char == "?":
                parts.append("[^:]" if in_segment else ".")
            else:
                parts.append(re.escape(char))
            colons += char == ":"
    return re.compile("".join(parts), re.DOTALL | (re.IGNORECASE if ignore_case else 0))


# --- operators -------------------------------------------------------------------------------------------


def _number(text: str) -> Decimal:
    try:
        return Decimal(text.strip())
    except InvalidOperation:
        raise ValueError(f"not a number: {text!r}") from None


def _date(text: str) -> datetime:
    text = text.strip()
    try:
        if re.fullmatch(r"-?\d+(\.\d+)?", text):  # epoch seconds (aws:EpochTime)
            return datetime.fromtimestamp(float(text), tz=UTC)
        moment = datetime.fromisoformat(text)
    except (ValueError, OverflowError):
        raise ValueError(f"not a date: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _binary(text: str) -> bytes:
    try:
        return base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError(f"not base-64: {text!r}") from None


def _network(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    try:
        return ipaddress.ip_network(text.strip(), strict=False)
    except ValueError:
        raise ValueError(f"not an IP address or CIDR range: {text!r}") from None


def _compare(parse: Callable[[str], object], test: Callable[[object, object], bool]):
    """A matcher comparing request and policy values once both parse; a request value that does not parse
    matches nothing (a policy value that does not parse was refused by validate)."""

    def matches(policy: Pattern, value: str) -> bool:
        try:
            request = parse(value)
        except ValueError:
            return False
        return test(request, parse(policy.text))

    return matches


def _in_network(policy: Pattern, value: str) -> bool:
    try:
        address = ipaddress.ip_address(value.strip())
    except ValueError:
        return False
    network = _network(policy.text)
    return address.version == network.version and address in network


def _binary_equals(policy: Pattern, value: str) -> bool:
    try:
        request = _binary(value)
    except ValueError:
        request = value.encode()  # a context value given raw rather than base-64
    return request == _binary(policy.text)


# Each positive operator: (matcher(policy value, request value), parser that validates policy values,
# whether policy variables apply).
_POSITIVE: dict[str, tuple[Callable[[Pattern, str], bool], Callable[[str], object] | None, bool]] = {
    "StringEquals": (lambda p, v: p.text == v, None, True),
    "StringEqualsIgnoreCase": (lambda p, v: p.text.lower() == v.lower(), None, True),
    "StringLike": (glob_matches, None, True),
    "ArnEquals": (arn_matches, None, True),
    "ArnLike": (arn_matches, None, True),
    "NumericEquals": (_compare(_number, lambda a, b: a == b), _number, False),
    "NumericLessThan": (_compare(_number, lambda a, b: a < b), _number, False),
    "NumericLessThanEquals": (_compare(_number, lambda a, b: a <= b), _number, False),
    "NumericGreaterThan": (_compare(_number, lambda a, b: a > b), _number, False),
    "NumericGreaterThanEquals": (_compare(_number, lambda a, b: a >= b), _number, False),
    "DateEquals": (_compare(_date, lambda a, b: a == b), _date, False),
    "DateLessThan": (_compare(_date, lambda a, b: a < b), _date, False),
    "DateLessThanEquals": (_compare(_date, lambda a, b: a <= b), _date, False),
    "DateGreaterThan": (_compare(_date, lambda a, b: a > b), _date, False),
    "DateGreaterThanEquals": (_compare(_date, lambda a, b: a >= b), _date, False),
    "Bool": (lambda p, v: p.text.lower() == v.lower(), None, True),
    "BinaryEquals": (_binary_equals, _binary, False),
    "IpAddress": (_in_network, _network, False),
}
_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
    "DateNotEquals": "DateEquals",
    "NotIpAddress": "IpAddress",
}
_NAMES = {name.lower(): name for name in [*_POSITIVE, *_NEGATED, "Null"]}
_QUALIFIERS = {"forallvalues": "ForAllValues", "foranyvalue": "ForAnyValue"}


@dataclass(frozen=True)
class Operator:
    qualifier: str | None  # "ForAllValues" | "ForAnyValue" | None
    base: str  # the positive operator ("StringEquals" for StringNotEqualsIfExists), or "Null"
    negated: bool
    if_exists: bool


@functools.lru_cache(maxsize=256)
def parse_operator(name: str) -> Operator:
    """`ForAnyValue:StringNotLikeIfExists` -> its parts; ValueError naming an unknown operator."""
    qualifier, _, operator = name.rpartition(":")
    if qualifier and qualifier.lower() not in _QUALIFIERS:
        raise ValueError(f"unknown condition operator {name!r}")
    if_exists = operator.lower().endswith("ifexists") and operator.lower() != "ifexists"
    canonical = _NAMES.get(operator[: -len("IfExists")].lower() if if_exists else operator.lower())
    if canonical is None or (canonical == "Null" and (if_exists or qualifier)):
        raise ValueError(f"unknown condition operator {name!r}")
    return Operator(
        qualifier=_QUALIFIERS.get(qualifier.lower()) if qualifier else None,
        base=_NEGATED.get(canonical, canonical),
        negated=canonical in _NEGATED,
        if_exists=if_exists,
    )


def _policy_values(raw: object, where: str) -> list[str]:
    values = raw if isinstance(raw, list) else [raw]
    texts = []
    for value in values:
        if isinstance(value, bool):  # JSON true/false, before int: bool is an int in Python
            texts.append("true" if value else "false")
        elif isinstance(value, str | int | float):
            texts.append(str(value))
        else:
            raise ValueError(f"{where}: condition values must be strings, numbers or booleans, not {value!r}")
    return texts


def validate(block: object) -> None:
    """Refuse a Condition block IAM would refuse: not an object, unknown operators, unparsable values."""
    if not isinstance(block, dict):
        raise ValueError("Condition must be an object of operators")
    for name, keys in block.items():
        operator = parse_operator(name)
        if not isinstance(keys, dict):
            raise ValueError(f"condition operator {name!r} must map condition keys to values")
        for key, raw in keys.items():
            for text in _policy_values(raw, f"{name} {key}"):
                if operator.base == "Null" and text.lower() not in ("true", "false"):
                    raise ValueError(f"Null {key}: the value must be true or false, not {text!r}")
                parser = _POSITIVE.get(operator.base, (None, None, False))[1]
                if parser is not None and "${" not in text:
                    parser(text)


def conditions_hold(block: dict | None, context: Context, *, variables: bool) -> bool:
    """Whether a statement's Condition block holds for the request context (call validate first)."""
    for name, keys in (block or {}).items():
        operator = parse_operator(name)
        for key, raw in keys.items():
            request = context.get(key.lower())
            if not _key_holds(operator, request, _policy_values(raw, name), context, variables):
                return False
    return True


def _key_holds(
    operator: Operator, request: list[str] | None, policy: list[str], context: Context, variables: bool
) -> bool:
    present = bool(request)  # an empty list is a null data set: absent, as AWS treats it
    if operator.base == "Null":
        return any((text.lower() == "true") != present for text in policy)
    if not present:
        if operator.if_exists or operator.qualifier == "ForAllValues":
            return True
        if operator.qualifier == "ForAnyValue":
            return False
        return operator.negated
    matcher, _, takes_variables = _POSITIVE[operator.base]
    patterns = [expand(text, context, variables=variables and takes_variables) for text in policy]

    def satisfied(value: str) -> bool:
        matched = any(pattern is not None and matcher(pattern, value) for pattern in patterns)
        return matched != operator.negated

    if operator.qualifier == "ForAnyValue":
        return any(satisfied(value) for value in request)
    if operator.qualifier == "ForAllValues" or operator.negated:
        return all(satisfied(value) for value in request)
    return any(satisfied(value) for value in request)
