"""The named errors of the render core.

Step Functions catches Lambda errors by the exception's class name (`errorType`), so these names are a
contract (docs/contracts.md): do not rename them.
"""

from __future__ import annotations

import reprlib
from dataclasses import dataclass
from typing import Any

MAX_MESSAGE_LINES = 20  # problem lines in an error message (the Step Functions state output holds 256 KB)
MAX_LINE = 300  # characters of one problem line: a pointer can hold any key of the spec, however long
_MAX_SHOWN = 60  # characters of an offending value quoted in a message

_repr = reprlib.Repr()
_repr.maxstring = _repr.maxother = _MAX_SHOWN
_repr.maxlevel = 2


def shown(value: Any) -> str:
    """A value as a message quotes it: its repr, at most _MAX_SHOWN characters, built without the repr of the
    whole value (a 50 MB array must not cost a 50 MB string to say it is not an object)."""
    text = _repr.repr(value)
    return text if len(text) <= _MAX_SHOWN else text[: _MAX_SHOWN - 3] + "..."


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec, located by a JSON pointer ("" is the whole document)."""

    pointer: str
    message: str

    def __str__(self) -> str:
        line = f"{self.pointer or '/'}: {self.message}"
        return line if len(line) <= MAX_LINE else line[: MAX_LINE - 3] + "..."


class FarmError(Exception):
    """Base of every named error."""


class SpecNotFound(FarmError):
    """The spec URI names nothing that can be read."""


class AccessDenied(FarmError):
    """AWS refused a call (HTTP 403): the caller's role has no grant for it, or a resource policy (bucket,
    key) denies it. Never reported as missing: on AWS a denied read is a 403 exactly like a missing key read
    without s3:ListBucket, and calling it SpecNotFound hides the IAM mistake. The message names the action and
    the resource ARN, and carries AWS's own message ("User: ... is not authorized to perform: ...") when the
    answer had one (a HEAD answers 403 without a body)."""

    def __init__(self, action: str, resource: str, detail: str = ""):
        self.action, self.resource, self.detail = action, resource, detail
        said = detail or (
            "HTTP 403 without a message: the caller lacks the grant (or, for a key that does not exist, "
            "s3:ListBucket, without which S3 answers 403 instead of 404)"
        )
        super().__init__(f"{action} on {resource} was denied: {said}")


class SpecTooLarge(FarmError):
    """The spec is larger than MAX_SPEC_BYTES (or would be, decoded, in memory)."""


class SpecInvalid(FarmError):
    """The spec is not valid JSON, fails the schema, or breaks a rule the schema cannot express.

    `problems` are the first ones found (render_worker.spec lists at most 100); `more` is how many others
    there are, or at least are when `more_exact` is False."""

    def __init__(self, problems: list[Problem], more: int = 0, more_exact: bool = True):
        self.problems = list(problems)
        self.more, self.more_exact = more, more_exact
        super().__init__(self.report(MAX_MESSAGE_LINES))

    def report(self, limit: int | None = None) -> str:
        """One `pointer: problem` line per problem (the first `limit`), then how many more there are."""
        listed = self.problems if limit is None else self.problems[:limit]
        lines = [str(p) for p in listed]
        more = self.more + len(self.problems) - len(listed)
        if more:
            at_least = "" if self.more_exact else "at least "
            lines.append(f"... and {at_least}{more:,} more problem{'s' if more > 1 else ''}")
        return "\n".join(lines)


class RenderIncomplete(FarmError):
    """Some expected render or part record is missing after the render step."""

    def __init__(self, missing: list[str], total_missing: int | None = None):
        self.missing = list(missing)
        self.total_missing = len(self.missing) if total_missing is None else total_missing
        shown = self.missing[:MAX_MESSAGE_LINES]
        lines = [f"{self.total_missing} expected object(s) missing:"] + shown
        if self.total_missing > len(shown):
            lines.append(f"... and {self.total_missing - len(shown)} more")
        super().__init__("\n".join(lines))
