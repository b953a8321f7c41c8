"""The named errors of the render core.

Step Functions catches Lambda errors by the exception's class name (`errorType`), so these names are a
contract (docs/contracts.md): do not rename them.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_MESSAGE_LINES = 20


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a spec, located by a JSON pointer ("" is the whole document)."""

    pointer: str
    message: str

    def __str__(self) -> str:
        return f"{self.pointer or '/'}: {self.message}"


class FarmError(Exception):
    """Base of every named error."""


class SpecNotFound(FarmError):
    """The spec URI names nothing that can be read."""


class SpecTooLarge(FarmError):
    """The spec is larger than MAX_SPEC_BYTES."""


class SpecInvalid(FarmError):
    """The spec is not valid JSON, fails the schema, or breaks a rule the schema cannot express."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__(format_problems(self.problems, MAX_MESSAGE_LINES))


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


def format_problems(problems: list[Problem], limit: int | None = None) -> str:
    shown = problems if limit is None else problems[:limit]
    lines = [str(p) for p in shown]
    if len(problems) > len(shown):
        lines.append(f"... and {len(problems) - len(shown)} more problem(s)")
    return "\n".join(lines)
