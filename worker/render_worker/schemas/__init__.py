"""Load the JSON Schemas: the packaged copy (render_worker/schemas/, in zips and the image) first, then the
repository's schemas/ (a source checkout)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

from jsonschema import Draft202012Validator

from render_worker import formats

PACKAGED = Path(__file__).parent
REPOSITORY = Path(__file__).resolve().parents[3] / "schemas"


def path_of(name: str) -> Path:
    """`name` is "catalog", "manifest" or "notification" (".schema.json" may be given or not)."""
    filename = name if name.endswith(".json") else f"{name}.schema.json"
    for folder in (PACKAGED, REPOSITORY):
        candidate = folder / filename
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"schema {filename} is neither in {PACKAGED} nor in {REPOSITORY}")


@cache
def load(name: str) -> dict[str, Any]:
    return json.loads(path_of(name).read_text(encoding="utf-8"))


@cache
def validator(name: str) -> Draft202012Validator:
    schema = load(name)
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema, format_checker=formats.format_checker())
