"""Array sizing and slicing of the flat variant order (docs/contracts.md, "Flat order, sizing and
slicing").

Sizing is a cost model, not a constant: every child pays a start-up (interpreter, imports, spec fetch; on
Fargate, the task's start), renders and uploads at a rate of its own, and all children together write to one
store with a ceiling of its own. For C children, P of which the compute environments run at once:

    C <= P:  wall = start + V / min(C x rate, ceiling)
    C >  P:  wall = ceil(C / P) x start + V / min(P x rate, ceiling)   (only a spec override gets there)

`plan` takes the fewest children whose predicted wall time is within TOLERANCE of the best achievable: each
child costs its start-up in money, so children that buy less than that are not started.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from render_worker.selection import Selection

MAX_ARRAY_SIZE = 10_000  # AWS Batch's limit on array children
TOLERANCE = 0.10  # a plan may be this much slower than the best achievable, to start fewer children
# Slicing of a worker run with no VARIANTS_PER_CHILD at all (a job submitted straight to Batch, an offline
# run): the workflow always passes the plan's variants_per_child, so the model never needs this.
FALLBACK_VARIANTS_PER_CHILD = 100
# The Render task's time limit (the state machine's task-level TimeoutSecondsPath): generous over the model's
# prediction (queue waits behind other runs, Spot retries, a slow store), never below the floor, so a run
# that cannot end (children that never start, a job that hangs) still ends in one failure message.
TIME_LIMIT_FACTOR = 4
TIME_LIMIT_FLOOR_S = 900


@dataclass(frozen=True)
class _Parameter:
    field: str
    env: str
    unit: str
    minimum: float
    exclusive: bool  # minimum itself is not allowed
    integer: bool = False

    def check(self, value: Any, name: str) -> None:
        """ValueError naming `name` (a field or an environment variable) when `value` is out of range."""
        wanted = (
            f"an integer >= {self.minimum:g}"
            if self.integer
            else f"a finite number {'>' if self.exclusive else '>='} {self.minimum:g}"
        )
        bad = isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
        bad = bad or (self.integer and value != int(value))
        bad = bad or value < self.minimum or (self.exclusive and value == self.minimum)
        if bad:
            raise ValueError(f"{name}={value!r} is not {wanted} ({self.unit})")


_PARAMETERS = (
    _Parameter(
        "child_variants_per_s", "SIZING_CHILD_VARIANTS_PER_S", "variants a child renders and stores per s",
        minimum=0, exclusive=True,
    ),
    _Parameter(
        "child_start_s", "SIZING_CHILD_START_S", "seconds from a child's submission to its first variant",
        minimum=0, exclusive=False,
    ),
    _Parameter(
        "storage_puts_per_s", "SIZING_STORAGE_PUTS_PER_S", "PUT/s the renders store takes from all children",
        minimum=0, exclusive=True,
    ),
    _Parameter(
        "max_parallel_children", "SIZING_MAX_PARALLEL_CHILDREN", "children the environments run at once",
        minimum=1, exclusive=False, integer=True,
    ),
)  # fmt: skip


@dataclass(frozen=True)
class SizingModel:
    """The parameters of one environment (Terraform's `sizing` of modules/stack; docs/contracts.md)."""

    child_variants_per_s: float
    child_start_s: float
    storage_puts_per_s: float
    max_parallel_children: int

    def __post_init__(self) -> None:
        for parameter in _PARAMETERS:
            parameter.check(getattr(self, parameter.field), parameter.field)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> SizingModel:
        """The model from SIZING_* variables (ValidateInput's environment, set by modules/functions). Raises
        ValueError naming the variable that is missing or not a valid value."""
        values: dict[str, Any] = {}
        for parameter in _PARAMETERS:
            raw = env.get(parameter.env)
            if raw is None or not str(raw).strip():
                raise ValueError(f"{parameter.env} is not set ({parameter.unit})")
            try:
                value: float = float(raw)
            except ValueError:
                raise ValueError(f"{parameter.env}={raw!r} is not a number ({parameter.unit})") from None
            parameter.check(value, parameter.env)
            values[parameter.field] = int(value) if parameter.integer else value
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Plan:
    children: int  # Batch children (array_size; 1 = a plain job)
    variants_per_child: int
    array_size: int
    predicted_wall_s: float  # from the first child's submission to the last variant stored
    basis: str  # why this many children, in one sentence

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def predicted_wall_s(variant_count: int, children: int, model: SizingModel) -> float:
    """Wall time of `variant_count` variants on `children` children under `model` (the module's formula)."""
    if variant_count < 0:
        raise ValueError(f"variant_count {variant_count} is negative")
    if children < 1:
        raise ValueError(f"children {children} is not at least 1")
    at_once = min(children, model.max_parallel_children)
    waves = math.ceil(children / model.max_parallel_children)
    rate = min(at_once * model.child_variants_per_s, model.storage_puts_per_s)
    return waves * model.child_start_s + variant_count / rate


def _shape(variant_count: int, children: int) -> tuple[int, int]:
    """(variants_per_child, array_size) of at most `children` children: equal slices, the last one shorter."""
    per_child = math.ceil(variant_count / children)
    return per_child, math.ceil(variant_count / per_child)


def plan(variant_count: int, model: SizingModel, override: int | None = None) -> Plan:
    """The children of a run of `variant_count` variants: the spec's override of variants_per_child if any,
    else the fewest children (1..min(max_parallel_children, MAX_ARRAY_SIZE, variant_count)) whose predicted
    wall time is within TOLERANCE of the best achievable."""
    if variant_count < 1:
        raise ValueError(f"variant_count {variant_count} is not at least 1")
    if override is not None:
        if override < 1:
            raise ValueError(f"variants_per_child override {override} is not at least 1")
        size = array_size(variant_count, override)
        wall = predicted_wall_s(variant_count, size, model)
        waves = math.ceil(size / model.max_parallel_children)
        basis = f"{size} {_children(size)}: the spec's override of {override} per child" + (
            f", in {waves} waves of at most {model.max_parallel_children} at once" if waves > 1 else ""
        )
        return Plan(size, override, size, round(wall, 3), basis)

    limit = min(model.max_parallel_children, MAX_ARRAY_SIZE, variant_count)
    best_per_child, best_size = _shape(variant_count, limit)
    best = predicted_wall_s(variant_count, best_size, model)
    # Wall time falls (or stays) as children are added, so the first shape within the tolerance is the fewest.
    for wanted in range(1, limit + 1):
        per_child, size = _shape(variant_count, wanted)
        wall = predicted_wall_s(variant_count, size, model)
        if wall <= best * (1 + TOLERANCE):
            break
    basis = _basis(variant_count, size, wall, best, best_size, model)
    return Plan(size, per_child, size, round(wall, 3), basis)


def time_limit_s(plan: Plan, floor_s: int = TIME_LIMIT_FLOOR_S) -> int:
    """Seconds the Render task may take: TIME_LIMIT_FACTOR x the plan's predicted wall time, at least
    `floor_s` (whole seconds, as Step Functions' TimeoutSeconds takes)."""
    return max(int(floor_s), math.ceil(TIME_LIMIT_FACTOR * plan.predicted_wall_s))


def nothing_selected(override: int | None = None) -> Plan:
    """The plan of an attempt that selects no variant (a rerun with nothing left to render): no children, so
    the workflow goes straight to PublishResults."""
    return Plan(0, override or 1, 0, 0.0, "0 children: no variant selected")


def _children(count: int) -> str:
    return "child" if count == 1 else "children"


def _basis(
    variant_count: int, size: int, wall: float, best: float, best_size: int, model: SizingModel
) -> str:
    r, ceiling, start = model.child_variants_per_s, model.storage_puts_per_s, model.child_start_s
    head = f"{size} {_children(size)}"
    if size * r >= ceiling:
        return f"{head}: S3 ceiling {ceiling:g}/s reached at {size} x {r:g}/s"
    if size == best_size:
        if size == variant_count:
            return f"{head}: one per variant"
        if size == MAX_ARRAY_SIZE:
            return f"{head}: AWS Batch's array limit ({size} x {r:g}/s, below the S3 ceiling {ceiling:g}/s)"
        return (
            f"{head}: as many as the compute environments run at once ({size} x {r:g}/s, below the S3 "
            f"ceiling {ceiling:g}/s)"
        )
    if best_size * r >= ceiling:
        how = f"the S3 ceiling {ceiling:g}/s, from {math.ceil(ceiling / r)} children"
    else:
        how = f"{best_size} children at once"
    return (
        f"{head}: {wall:.1f} s at {size} x {r:g}/s is within {TOLERANCE:.0%} of the best {best:.1f} s "
        f"({how}); more would each pay a {start:g} s start-up for less"
    )


def variants_per_child(
    variant_count: int, override: int | None = None, default: int = FALLBACK_VARIANTS_PER_CHILD
) -> int:
    """Slicing without a plan (a worker job that carries no VARIANTS_PER_CHILD): the spec's override if any,
    else `default` per child, more when the array would exceed MAX_ARRAY_SIZE. The workflow never relies on
    it: ValidateInput's `plan` decides, and every child gets the plan's VARIANTS_PER_CHILD."""
    if override is not None:
        return override
    return max(default, math.ceil(variant_count / MAX_ARRAY_SIZE))


def array_size(variant_count: int, per_child: int) -> int:
    return math.ceil(variant_count / per_child)


def child_range(
    index: int | None, per_child: int, variant_count: int, selection: Selection | None = None
) -> Sequence[int]:
    """Flat indexes child `index` renders: the index-th slice of `per_child` of the selected indexes (all
    `variant_count` of them without a selection); a plain job (index None) renders every selected one."""
    if index is not None and index < 0:
        raise ValueError(f"array index {index} is negative")
    if selection is None:
        selection = Selection.everything(variant_count)
    if index is None:
        return selection.part(0, selection.count)
    return selection.part(index * per_child, (index + 1) * per_child)


def child_name(index: int | None) -> str:
    """Names the child's progress file and part record: `child-00042`, or `plain` for a plain job."""
    return "plain" if index is None else f"child-{index:05d}"
