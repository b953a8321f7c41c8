"""A shortcut for validating 100,000 variants: jsonschema spends ~70 us on each, a compiled predicate a
fraction of that.

`compile_check(subschema, root)` turns a schema built only from simple keywords into a predicate that returns
True exactly when the instance is valid (the unit tests hold it to the schema on hostile values). The caller
still asks jsonschema about what fails, to get the messages. A keyword the compiler does not know makes it
refuse (NotImplementedError), so the shortcut can never accept what the schema rejects.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from operator import ge, le
from typing import Any

from render_worker.formats import FORMATS

Check = Callable[[Any], bool]
_IGNORED = {"description", "title", "$comment", "examples", "default"}


def _resolve(ref: str, root: dict[str, Any]) -> dict[str, Any]:
    if not ref.startswith("#/"):
        raise NotImplementedError(f"external $ref {ref}")
    node: Any = root
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def _all_of(checks: list[Check]) -> Check:
    if len(checks) == 1:
        return checks[0]

    def check(x: Any) -> bool:
        for each in checks:  # noqa: SIM110 - 40% faster than all(genexpr), and it runs millions of times
            if not each(x):
                return False
        return True

    return check


def _properties(props: dict[str, Check]) -> Check:
    def check(x: Any) -> bool:
        if type(x) is not dict:
            return True
        for name, value in x.items():
            each = props.get(name)
            if each is not None and not each(value):
                return False
        return True

    return check


def _is_number(x: Any) -> bool:
    return type(x) is int or type(x) is float  # not bool, as in jsonschema


# keyword -> (the instances it applies to, how the instance's value compares with the keyword's)
_SIZES = {"minLength": (str, ge), "maxLength": (str, le), "minItems": (list, ge), "maxItems": (list, le)}
_BOUNDS = {"minimum": ge, "maximum": le}
_TYPES = {
    "string": lambda x: type(x) is str,
    "object": lambda x: type(x) is dict,
    "array": lambda x: type(x) is list,
    "integer": lambda x: type(x) is int or (type(x) is float and x.is_integer()),  # 1.0 too, as in jsonschema
}


def compile_check(schema: dict[str, Any], root: dict[str, Any]) -> Check:
    checks: list[Check] = []
    for keyword, value in schema.items():
        if keyword in _IGNORED:
            continue
        if keyword == "$ref":
            checks.append(compile_check(_resolve(value, root), root))
        elif keyword == "type":
            if not isinstance(value, str) or value not in _TYPES:
                raise NotImplementedError(f"type {value}")
            checks.append(_TYPES[value])
        elif keyword == "pattern":
            search = re.compile(value).search
            checks.append(lambda x, search=search: type(x) is not str or search(x) is not None)
        elif keyword == "format":
            if value not in FORMATS:
                raise NotImplementedError(f"format {value}")
            checks.append(FORMATS[value][0])
        elif keyword in _SIZES:
            kind, within = _SIZES[keyword]
            checks.append(
                lambda x, kind=kind, within=within, n=value: type(x) is not kind or within(len(x), n)
            )
        elif keyword in _BOUNDS:
            checks.append(lambda x, within=_BOUNDS[keyword], n=value: not _is_number(x) or within(x, n))
        elif keyword == "enum":
            allowed = frozenset(v for v in value if isinstance(v, str))
            checks.append(lambda x, allowed=allowed: type(x) is str and x in allowed)
        elif keyword == "const":
            checks.append(lambda x, c=value: type(x) is type(c) and x == c)
        elif keyword == "required":
            needed = tuple(value)
            checks.append(lambda x, needed=needed: type(x) is not dict or all(k in x for k in needed))
        elif keyword == "additionalProperties":
            if value is not False:
                raise NotImplementedError("additionalProperties other than false")
            known = frozenset(schema.get("properties", {}))
            checks.append(lambda x, known=known: type(x) is not dict or known.issuperset(x))
        elif keyword == "properties":
            checks.append(_properties({name: compile_check(sub, root) for name, sub in value.items()}))
        elif keyword == "items":
            item = compile_check(value, root)
            checks.append(lambda x, item=item: type(x) is not list or all(map(item, x)))
        else:
            raise NotImplementedError(f"keyword {keyword}")
    return _all_of(checks)
