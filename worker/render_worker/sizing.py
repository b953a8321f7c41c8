"""Array sizing and slicing of the flat variant order (docs/contracts.md, "Flat order, sizing and
slicing")."""

from __future__ import annotations

import math

DEFAULT_VARIANTS_PER_CHILD = 100
MAX_ARRAY_SIZE = 10_000  # AWS Batch's limit on array children


def variants_per_child(
    variant_count: int, override: int | None = None, default: int = DEFAULT_VARIANTS_PER_CHILD
) -> int:
    """The spec's override if any, else enough per child that the array stays within MAX_ARRAY_SIZE."""
    if override is not None:
        return override
    return max(default, math.ceil(variant_count / MAX_ARRAY_SIZE))


def array_size(variant_count: int, per_child: int) -> int:
    return math.ceil(variant_count / per_child)


def child_range(index: int | None, per_child: int, variant_count: int) -> range:
    """Flat indexes child `index` renders; a plain job (index None) renders everything."""
    if index is None:
        return range(variant_count)
    if index < 0:
        raise ValueError(f"array index {index} is negative")
    return range(min(index * per_child, variant_count), min((index + 1) * per_child, variant_count))


def child_name(index: int | None) -> str:
    """Names the child's progress file and part record: `child-00042`, or `plain` for a plain job."""
    return "plain" if index is None else f"child-{index:05d}"
