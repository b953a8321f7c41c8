"""The catalog's schema validator: JSON Schema 2020-12 with short messages in the farm's words.

jsonschema's own messages repr the whole offending value: `products` given as a 50 MB object would cost a
50 MB message, and more memory than ValidateInput has, only to say it is not an array. These keywords judge
exactly as jsonschema's do but quote at most a few dozen characters (errors.shown), and say what is wrong the
way `farm validate` prints it: `/products/0/sku: 'a/b' is not an identifier safe as an S3 key part: ...`.
Keywords not replaced here (properties, items, $ref, minimum, maximum) keep jsonschema's behaviour.
"""

from __future__ import annotations

import re
from functools import cache
from typing import Any

from jsonschema import Draft202012Validator, ValidationError, validators

from render_worker import formats, schemas
from render_worker.errors import shown

_ENUM_LISTED = 10  # enums up to this size are listed in the message; longer ones named by their description


def _type(validator, types, instance, schema):
    names = [types] if isinstance(types, str) else types
    if not any(validator.is_type(instance, name) for name in names):
        yield ValidationError(f"{shown(instance)} is not of type {' or '.join(names)}")


def _enum(validator, allowed, instance, schema):
    # Plain equality is jsonschema's for the string-only enums the schemas use (true == 1 never arises).
    if instance in allowed:
        return
    if len(allowed) > _ENUM_LISTED:
        yield ValidationError(f"{shown(instance)} is not {schema.get('description', 'an allowed value')}")
    else:
        yield ValidationError(f"{shown(instance)} is not one of {', '.join(map(str, allowed))}")


def _const(validator, const, instance, schema):
    if type(instance) is not type(const) or instance != const:
        yield ValidationError(f"{shown(instance)} must be {const!r}")


def _not_described(instance, schema, otherwise: str) -> ValidationError:
    described = schema.get("description")
    return ValidationError(f"{shown(instance)} {f'is not {described}' if described else otherwise}")


def _pattern(validator, pattern, instance, schema):
    if isinstance(instance, str) and re.search(pattern, instance) is None:
        yield _not_described(instance, schema, f"does not match {pattern!r}")


def _format(validator, name, instance, schema):
    if validator.format_checker is not None and not validator.format_checker.conforms(instance, name):
        yield ValidationError(f"{shown(instance)} {formats.FORMATS[name][1]}")


def _size(kind: type, noun: str, most: bool):
    """minLength / maxLength / minItems / maxItems: `has 65 characters; at most 64 allowed`."""

    def check(validator, limit, instance, schema):
        if isinstance(instance, kind) and (len(instance) > limit if most else len(instance) < limit):
            yield ValidationError(
                f"has {len(instance)} {noun}; {'at most' if most else 'at least'} {limit} allowed"
            )

    return check


def _required(validator, required, instance, schema):
    if isinstance(instance, dict):
        for name in required:
            if name not in instance:
                yield ValidationError("required property is missing", path=[name])


def _additional_properties(validator, allowed, instance, schema):
    """One problem per unexpected property, located at it (the schemas only use `false`)."""
    if allowed is not False:
        raise NotImplementedError("additionalProperties other than false")
    if isinstance(instance, dict):
        known = schema.get("properties", {})
        for name in instance:
            if name not in known:
                yield ValidationError(
                    f"unexpected property (allowed: {', '.join(sorted(known))})", path=[name]
                )


KEYWORDS = {
    "type": _type,
    "enum": _enum,
    "const": _const,
    "pattern": _pattern,
    "format": _format,
    "minLength": _size(str, "characters", most=False),
    "maxLength": _size(str, "characters", most=True),
    "minItems": _size(list, "items", most=False),
    "maxItems": _size(list, "items", most=True),
    "required": _required,
    "additionalProperties": _additional_properties,
}
Validator = validators.extend(Draft202012Validator, KEYWORDS)


@cache
def catalog_validator() -> Any:
    return Validator(schemas.load("catalog"), format_checker=formats.format_checker())
