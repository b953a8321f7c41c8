"""The custom JSON Schema format of the schemas in schemas/, checked alike by the validator
(render_worker.schemas, render_worker.keywords) and by the compiled shortcut (render_worker.fastcheck).

`single-line` goes with every `^...$` pattern. Schema patterns are ECMA-262 regexes, where `$` is the end of
the string; Python's `re` also lets `$` match before a final newline, so without this format `"A1\\n"` would
pass as a SKU and end up in an S3 key. ECMA-262 has no `\\Z` to say it in the pattern itself.
"""

from __future__ import annotations

from typing import Any

from jsonschema import FormatChecker


def single_line(value: Any) -> bool:
    """False for a string holding a line terminator anywhere, as str.splitlines knows them (\\n \\r \\v \\f,
    \\x1c-\\x1e, \\x85, \\u2028, \\u2029); other types pass (`type` judges them)."""
    return not isinstance(value, str) or value.splitlines() in ([], [value])


# format -> (check, what a failing value has), the one table both validators read.
FORMATS = {"single-line": (single_line, "has a line break")}


def format_checker() -> FormatChecker:
    """A checker that asserts exactly the formats above (and no standard format the schemas do not use)."""
    checker = FormatChecker(formats=())
    for name, (check, _) in FORMATS.items():
        checker.checks(name)(check)
    return checker
