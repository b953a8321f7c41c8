"""What a run costs, before (from the sizing model) and after (from Batch's attempt times), and what the stack
costs each month at rest; priced from the table in `config/prices.json`.

The price table states its currency, its date and the pricing pages it was recorded from; it is read, never
fetched live. The CLI and the harness read the file; a Lambda gets its region's row (with the date, source,
currency and Fargate's minimum billed seconds) as one JSON environment variable, `COST_PRICES`
(`RegionPrices.to_json()` writes it, `RegionPrices.from_env` reads it). The worker image and the Lambda zips
carry this module: it is pure (no boto3, no file reads).

One model for sizing and for cost. `render_worker.sizing` predicts a run's wall time: C children, P of which
run at once, each paying a start-up of `child_start_s` and rendering at `child_variants_per_s`, all of them
together capped by the store's `storage_puts_per_s`. The same parameters give each child's running time:

    rate     = min(child_variants_per_s, storage_puts_per_s / min(C, P))    (`child_rate`)
    seconds  = child_start_s + variants of the child / rate
    billed   = max(seconds, fargate_minimum_billed_s)    (Fargate bills per second, one minute at least)
    cost     = sum of billed x (vCPU x vcpu_hour + memory GiB x gb_hour) / 3600

The children's slices are sizing's (`sizing.child_range`: equal slices of `variants_per_child`, the last one
shorter; one plain job when the plan has one child). The estimate is priced twice: on Fargate Spot (the first
compute environment) and on on-demand Fargate (the overflow), so the run costs somewhere between the two; the
on-demand figure is the most it can cost, and `max_cost` is checked against it. `child_start_s` counts from
submission, part of which (placement) Fargate does not bill: on its own model the estimate leans high.

After the run, `actual` prices the Batch attempts' own `startedAt`/`stoppedAt` (retries included: each attempt
is a task Fargate bills) on the same two price rows: which capacity each task ran on is not in the attempt
record, so the real bill lies between the two figures.

The fixed monthly cost at rest (`monthly_fixed`) is what the stack costs with no run going: customer-managed
KMS keys, interface VPC endpoints per Availability Zone, NAT gateways, and storage that is empty at rest (EFS,
log groups, buckets: priced per GB-month, $0 when empty). Fargate compute is per run and never part of it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from render_worker.errors import FarmError, shown
from render_worker.sizing import Plan, SizingModel, child_range

PRICES_ENV = "COST_PRICES"
VCPU_ENV = "JOB_VCPU"
MEMORY_ENV = "JOB_MEMORY_MIB"
PRICES_FILE = "config/prices.json"  # how messages name the table read from the repository
ROUND_USD = 6
MIB_PER_GIB = 1024  # Fargate's "GB" of memory is the GiB of the job definition's MiB

# Per-region prices: (dotted path in the region's row, RegionPrices field).
_REGION_FIELDS = (
    ("fargate.vcpu_hour", "fargate_vcpu_hour"),
    ("fargate.gb_hour", "fargate_gb_hour"),
    ("fargate_spot.vcpu_hour", "spot_vcpu_hour"),
    ("fargate_spot.gb_hour", "spot_gb_hour"),
    ("kms_key_month", "kms_key_month"),
    ("interface_endpoint_az_hour", "interface_endpoint_az_hour"),
    ("nat_gateway_hour", "nat_gateway_hour"),
    ("efs_standard_gb_month", "efs_standard_gb_month"),
    ("logs_ingest_gb", "logs_ingest_gb"),
    ("logs_storage_gb_month", "logs_storage_gb_month"),
    ("s3_standard_gb_month", "s3_standard_gb_month"),
)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_DECIMAL = re.compile(r"^\s*(\d{1,12}(\.\d{1,12})?|\.\d{1,12})\s*$")


class CostLimitExceeded(FarmError):
    """A run whose estimated cost is over its `max_cost` (the spec's `options.max_cost` or the execution
    input's `max_cost`): refused before any child starts. The state machine catches it by name."""

    def __init__(self, message: str, cost: Cost | None = None, max_cost: float | None = None):
        self.cost, self.max_cost = cost, max_cost
        super().__init__(message)


class InvalidMaxCost(FarmError, ValueError):
    """A `max_cost` that is not a positive amount: a ValueError too, so a caller that turns ValueErrors into
    its own named error (ValidateInput's InvalidExecutionInput, the CLI's usage error) does so unchanged."""


# ---- prices ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegionPrices:
    """One region's row of the price table, with the table's currency, date, source and billing rules."""

    region: str
    currency: str
    date: str
    source: tuple[str, ...]
    minimum_billed_s: float  # Fargate bills a task for at least this long
    hours_per_month: float
    fargate_vcpu_hour: float
    fargate_gb_hour: float
    spot_vcpu_hour: float
    spot_gb_hour: float
    kms_key_month: float
    interface_endpoint_az_hour: float
    nat_gateway_hour: float
    efs_standard_gb_month: float
    logs_ingest_gb: float
    logs_storage_gb_month: float
    s3_standard_gb_month: float

    def as_dict(self) -> dict[str, Any]:
        """The row in the table's own shape, with the table-wide fields beside it (what `from_json` reads)."""
        row: dict[str, Any] = {
            "region": self.region,
            "currency": self.currency,
            "date": self.date,
            "source": list(self.source),
            "fargate_minimum_billed_s": self.minimum_billed_s,
            "hours_per_month": self.hours_per_month,
        }
        for path, field in _REGION_FIELDS:
            head, _, tail = path.partition(".")
            if tail:
                row.setdefault(head, {})[tail] = getattr(self, field)
            else:
                row[head] = getattr(self, field)
        return row

    def to_json(self) -> str:
        """The compact JSON of `as_dict()`: the value of a Lambda's COST_PRICES variable."""
        return json.dumps(self.as_dict(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str, where: str = PRICES_ENV) -> RegionPrices:
        """The row `to_json` wrote. ValueError naming `where` when it is not JSON or lacks a field."""
        try:
            document = json.loads(text)
        except (TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"{where} is not JSON ({exc})") from None
        if not isinstance(document, dict):
            raise ValueError(f"{where} is not a JSON object")
        region = document.get("region")
        if not isinstance(region, str) or not region:
            raise ValueError(f"{where}: region is missing or not a string")
        return _region_prices(document, document, region, where, "")

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> RegionPrices:
        """The prices of a Lambda's COST_PRICES variable (modules/functions sets it from the table).
        ValueError naming the variable when it is missing or malformed."""
        raw = env.get(PRICES_ENV)
        if raw is None or not str(raw).strip():
            raise ValueError(f"{PRICES_ENV} is not set (the region's row of {PRICES_FILE}, as JSON)")
        return cls.from_json(raw, PRICES_ENV)

    def usd_per_second(self, resources: Resources, spot: bool) -> float:
        """What one task of `resources` costs per second on Fargate Spot or on-demand Fargate."""
        vcpu_hour = self.spot_vcpu_hour if spot else self.fargate_vcpu_hour
        gb_hour = self.spot_gb_hour if spot else self.fargate_gb_hour
        return (resources.vcpu * vcpu_hour + resources.memory_gib * gb_hour) / 3600

    @property
    def label(self) -> str:
        """`us-east-1 prices of 2026-11-30`."""
        return f"{self.region} prices of {self.date}"


@dataclass(frozen=True)
class PriceTable:
    """The whole of config/prices.json, every region checked."""

    currency: str
    date: str
    source: tuple[str, ...]
    note: str
    regions: Mapping[str, RegionPrices]

    @classmethod
    def from_document(cls, document: Any, where: str = PRICES_FILE) -> PriceTable:
        """The table from its parsed JSON: ValueError naming `where` and the field missing or wrong."""
        if not isinstance(document, dict):
            raise ValueError(f"{where} is not a JSON object")
        rows = document.get("regions")
        if not isinstance(rows, dict) or not rows:
            raise ValueError(f"{where}: regions is missing or empty")
        regions = {
            name: _region_prices(document, row, name, where, f"regions.{name}.") for name, row in rows.items()
        }
        first = next(iter(regions.values()))
        note = document.get("note", "")
        return cls(first.currency, first.date, first.source, note if isinstance(note, str) else "", regions)

    def region(self, name: str, where: str = PRICES_FILE) -> RegionPrices:
        try:
            return self.regions[name]
        except KeyError:
            listed = ", ".join(sorted(self.regions))
            raise ValueError(f"{where} has no region {name!r} (it lists {listed})") from None


def load_prices(document: Any, region: str, where: str = PRICES_FILE) -> RegionPrices:
    """`region`'s prices from the parsed price table: ValueError naming the region or field that is missing
    (`config/prices.json has no region 'ap-south-9' (it lists ...)`)."""
    return PriceTable.from_document(document, where).region(region, where)


def _region_prices(meta: Mapping[str, Any], row: Any, region: str, where: str, prefix: str) -> RegionPrices:
    """A RegionPrices from the table-wide fields of `meta` and the prices of `row` (the same mapping for the
    COST_PRICES form)."""
    if not isinstance(row, dict):
        raise ValueError(f"{where}: {prefix.rstrip('.')} is not an object")
    currency = meta.get("currency")
    if not isinstance(currency, str) or not _CURRENCY.match(currency):
        raise ValueError(f"{where}: currency {shown(currency)} is not an ISO 4217 code such as 'USD'")
    date = meta.get("date")
    if not isinstance(date, str) or not _DATE.match(date):
        raise ValueError(
            f"{where}: date {shown(date)} is not a YYYY-MM-DD date (when the prices were recorded)"
        )
    source = meta.get("source")
    if not isinstance(source, list) or not source or not all(isinstance(s, str) and s for s in source):
        raise ValueError(f"{where}: source is not a non-empty list of the pricing pages' URLs")
    values: dict[str, float] = {
        "minimum_billed_s": _number(meta, "fargate_minimum_billed_s", where, "", allow_zero=True),
        "hours_per_month": _number(meta, "hours_per_month", where, ""),
    }
    for path, field in _REGION_FIELDS:
        values[field] = _number(row, path, where, prefix)
    return RegionPrices(region=region, currency=currency, date=date, source=tuple(source), **values)


def _number(row: Mapping[str, Any], path: str, where: str, prefix: str, allow_zero: bool = False) -> float:
    value: Any = row
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            raise ValueError(f"{where}: {prefix}{path} is missing")
        value = value[part]
    bad = isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
    if bad or value < 0 or (value == 0 and not allow_zero):
        wanted = "a number >= 0" if allow_zero else "a positive number"
        raise ValueError(f"{where}: {prefix}{path}={shown(value)} is not {wanted}")
    return float(value)


# ---- a run -------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Resources:
    """What the job definition gives each child: vCPU and memory (MiB)."""

    vcpu: float
    memory_mib: int

    def __post_init__(self) -> None:
        if (
            isinstance(self.vcpu, bool)
            or not isinstance(self.vcpu, int | float)
            or not math.isfinite(self.vcpu)
        ):
            raise ValueError(f"vcpu={self.vcpu!r} is not a finite number")
        if self.vcpu <= 0:
            raise ValueError(f"vcpu={self.vcpu!r} is not positive")
        if isinstance(self.memory_mib, bool) or not isinstance(self.memory_mib, int) or self.memory_mib <= 0:
            raise ValueError(f"memory_mib={self.memory_mib!r} is not a positive integer (MiB)")

    @property
    def memory_gib(self) -> float:
        return self.memory_mib / MIB_PER_GIB

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Resources:
        """JOB_VCPU and JOB_MEMORY_MIB (the job definition's, set beside it by Terraform). ValueError naming
        the variable that is missing or not a valid value."""
        vcpu = _env_number(env, VCPU_ENV, "the vCPU of each child, e.g. 0.5")
        memory = _env_number(env, MEMORY_ENV, "the memory of each child in MiB, e.g. 1024")
        if vcpu <= 0:
            raise ValueError(f"{VCPU_ENV}={env[VCPU_ENV]!r} is not positive")
        if memory <= 0 or memory != int(memory):
            raise ValueError(f"{MEMORY_ENV}={env[MEMORY_ENV]!r} is not a positive whole number of MiB")
        return cls(vcpu, int(memory))

    def as_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def label(self) -> str:
        """`0.5 vCPU + 1 GiB`."""
        return f"{self.vcpu:g} vCPU + {self.memory_gib:g} GiB"


def _env_number(env: Mapping[str, str], name: str, what: str) -> float:
    raw = env.get(name)
    if raw is None or not str(raw).strip():
        raise ValueError(f"{name} is not set ({what})")
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{name}={raw!r} is not a number ({what})") from None
    if not math.isfinite(value):
        raise ValueError(f"{name}={raw!r} is not a finite number ({what})")
    return value


@dataclass(frozen=True)
class Cost:
    """A run's compute cost on Fargate: estimated from the plan, or actual from Batch's attempts."""

    children: int  # tasks Fargate bills (children of the plan, or attempts counted)
    child_seconds: float  # their running time, summed
    billed_seconds: float  # the same with Fargate's per-task minimum
    spot_usd: float  # all of it on Fargate Spot
    on_demand_usd: float  # all of it on on-demand Fargate: the most the run costs
    currency: str
    prices_date: str
    basis: str  # how it was computed, in one sentence

    def as_dict(self) -> dict[str, Any]:
        return {
            "children": self.children,
            "child_seconds": self.child_seconds,
            "billed_seconds": self.billed_seconds,
            "spot_usd": self.spot_usd,
            "on_demand_usd": self.on_demand_usd,
            "currency": self.currency,
            "prices_date": self.prices_date,
            "basis": self.basis,
        }


def child_rate(children: int, model: SizingModel) -> float:
    """Variants per second of one of `children` children: its own rate, or its share of the store's ceiling
    among the children that run at once (sizing's `min(at_once x rate, ceiling)`, per child)."""
    if children < 1:
        raise ValueError(f"children {children} is not at least 1")
    at_once = min(children, model.max_parallel_children)
    return min(model.child_variants_per_s, model.storage_puts_per_s / at_once)


def child_slices(selected_count: int, plan: Plan) -> Counter[int]:
    """How many children render how many variants: {variants: children}, from sizing's own slicing."""
    slices: Counter[int] = Counter()
    if plan.children == 1:
        slices[len(child_range(None, plan.variants_per_child, selected_count))] += 1
        return slices
    for index in range(plan.children):
        slices[len(child_range(index, plan.variants_per_child, selected_count))] += 1
    return slices


def estimate(
    selected_count: int, plan: Plan, model: SizingModel, resources: Resources, prices: RegionPrices
) -> Cost:
    """The cost of rendering `selected_count` variants as `plan` says under `model` (the module's formula)."""
    if selected_count < 0:
        raise ValueError(f"selected_count {selected_count} is negative")
    if plan.children < 1 or selected_count == 0:
        return _cost(0, 0.0, 0.0, resources, prices, "0 children: no variant selected, nothing billed")
    rate = child_rate(plan.children, model)
    slices = child_slices(selected_count, plan)
    run = billed = 0.0
    at_minimum = 0
    for variants, count in slices.items():
        seconds = model.child_start_s + variants / rate
        run += count * seconds
        billed += count * max(seconds, prices.minimum_billed_s)
        at_minimum += count if seconds < prices.minimum_billed_s else 0
    widest = max(slices)
    shape = f"{widest} variants" if len(slices) == 1 else f"up to {widest} variants"
    basis = (
        f"{plan.children} {'child' if plan.children == 1 else 'children'} x ~{run / plan.children:.1f} s "
        f"({model.child_start_s:g} s start + {shape} at {rate:.3g}/s), "
        f"{_billed_text(at_minimum, plan.children, prices)}, {resources.label}, {prices.label}"
    )
    return _cost(plan.children, run, billed, resources, prices, basis)


def actual(
    attempts: Iterable[tuple[int | None, int | None]], resources: Resources, prices: RegionPrices
) -> Cost:
    """The cost of the Batch attempts that ran: (startedAt, stoppedAt) in epoch milliseconds, one per
    attempt of every child. An attempt that never started (no or zero startedAt) is not billed; a stop before
    the start (or none) counts as zero seconds, billed the minimum."""
    run = billed = 0.0
    counted = at_minimum = 0
    for started, stopped in attempts:
        if not started:
            continue
        seconds = max(0.0, (stopped - started) / 1000) if stopped else 0.0
        counted += 1
        run += seconds
        billed += max(seconds, prices.minimum_billed_s)
        at_minimum += seconds < prices.minimum_billed_s
    if not counted:
        return _cost(0, 0.0, 0.0, resources, prices, "0 attempts started: nothing billed")
    basis = (
        f"{counted} Batch {'attempt' if counted == 1 else 'attempts'}, {run:.1f} s from startedAt to "
        f"stoppedAt in all, {_billed_text(at_minimum, counted, prices)}, {resources.label}, {prices.label}"
    )
    return _cost(counted, run, billed, resources, prices, basis)


def _billed_text(at_minimum: int, tasks: int, prices: RegionPrices) -> str:
    minimum = f"{prices.minimum_billed_s:g} s minimum"
    if not prices.minimum_billed_s or not at_minimum:
        return (
            f"billed per second (each over the {minimum})" if prices.minimum_billed_s else "billed per second"
        )
    if at_minimum == tasks:
        return f"billed {minimum} each"
    return f"billed per second with a {minimum} ({at_minimum} of {tasks} at the minimum)"


def _cost(
    children: int, run: float, billed: float, resources: Resources, prices: RegionPrices, basis: str
) -> Cost:
    return Cost(
        children=children,
        child_seconds=round(run, 3),
        billed_seconds=round(billed, 3),
        spot_usd=round(billed * prices.usd_per_second(resources, spot=True), ROUND_USD),
        on_demand_usd=round(billed * prices.usd_per_second(resources, spot=False), ROUND_USD),
        currency=prices.currency,
        prices_date=prices.date,
        basis=basis,
    )


# ---- max_cost ----------------------------------------------------------------------------------------------


def parse_max_cost(value: Any, where: str) -> float | None:
    """A `max_cost` as given (a spec option, an execution input field, a CLI flag): None when absent, else a
    positive finite number (int or float, not bool) or a decimal string such as "0.50". InvalidMaxCost (a
    ValueError) naming `where` otherwise."""
    if value is None:
        return None
    wanted = 'is not a positive amount in USD (a number or a decimal string such as "0.50")'
    if isinstance(value, bool):
        raise InvalidMaxCost(f"{where} {shown(value)} {wanted}")
    if isinstance(value, int | float) or (isinstance(value, str) and _DECIMAL.match(value)):
        number = float(value)
    else:
        raise InvalidMaxCost(f"{where} {shown(value)} {wanted}")
    if not math.isfinite(number) or number <= 0:
        raise InvalidMaxCost(f"{where} {shown(value)} {wanted}")
    return number


def check_max_cost(cost: Cost, max_cost: float | None, where: str) -> None:
    """Refuse (CostLimitExceeded) a run whose estimate is over `max_cost`. The on-demand figure is compared:
    Spot capacity overflows to on-demand, so it is the most the run can cost. `where` says which max_cost
    ("the spec's options.max_cost", "the execution input's max_cost", "--max-cost")."""
    if max_cost is None or cost.on_demand_usd <= max_cost:
        return
    raise CostLimitExceeded(
        f"the estimated cost {usd(cost.on_demand_usd)} (on-demand; {usd(cost.spot_usd)} on Fargate Spot) is "
        f"over max_cost {price(max_cost)} ({where}); raise max_cost or render fewer variants",
        cost,
        max_cost,
    )


SPEC_MAX_COST = "the spec's options.max_cost"


def check_run_cost(cost: Cost, given: float | None, given_where: str, spec_max_cost: float | None) -> None:
    """The run's limit: a max_cost given with the run (`given_where`: the execution input's, --max-cost) wins
    over the spec's options.max_cost; refuse (CostLimitExceeded) an estimate over it."""
    if given is not None:
        check_max_cost(cost, given, given_where)
    else:
        check_max_cost(cost, spec_max_cost, SPEC_MAX_COST)


def price(amount: float) -> str:
    """A unit price or a limit as written, to at most six decimals: `$1.00`, `$0.045`, `$0.001`."""
    return f"${amount:,.2f}" if amount == round(amount, 2) else "$" + f"{amount:,.6f}".rstrip("0")


def usd(amount: float) -> str:
    """`$0.0213`, `$2.00`, `$1,234.50`: cents for whole-cent amounts, else four decimals (a run often costs
    less than a cent), six below a hundredth of a cent."""
    if amount == round(amount, 2):
        return f"${amount:,.2f}"
    if abs(amount) >= 0.0001:
        return f"${amount:,.4f}"
    return f"${amount:,.6f}"


# ---- the stack at rest -------------------------------------------------------------------------------------

# counts key -> (label, unit text, RegionPrices field, billed per hour (x hours_per_month) or per GB-month)
FIXED_ITEMS: dict[str, tuple[str, str, str, bool]] = {
    "kms_keys": ("customer-managed KMS keys", "per key-month", "kms_key_month", False),
    "interface_endpoint_azs": (
        "interface VPC endpoints (per endpoint per AZ)", "per endpoint-AZ-hour", "interface_endpoint_az_hour",
        True,
    ),
    "nat_gateways": ("NAT gateways", "per gateway-hour, plus data processed", "nat_gateway_hour", True),
    "efs_file_systems": ("EFS file systems", "per GB-month stored", "efs_standard_gb_month", False),
    "log_groups": ("CloudWatch log groups", "per GB-month stored", "logs_storage_gb_month", False),
    "s3_buckets": ("S3 buckets", "per GB-month stored (Standard)", "s3_standard_gb_month", False),
}  # fmt: skip
STORED_ITEMS = frozenset({"efs_file_systems", "log_groups", "s3_buckets"})  # priced by the GB: $0 when empty


def monthly_fixed(counts: Mapping[str, float], prices: RegionPrices) -> dict[str, Any]:
    """The stack's monthly cost at rest from how many of each item it holds (keys of FIXED_ITEMS; a missing
    key counts 0). Keys, endpoints and NAT gateways cost by the month or the hour; storage items cost by the
    GB stored and are empty at rest, so they count $0 (their unit price is stated).

    {"region", "currency", "prices_date", "hours_per_month", "total_usd",
     "items": [{"item", "label", "count", "unit", "unit_usd", "unit_month_usd", "monthly_usd"}, ...]}
    in FIXED_ITEMS order; unit_month_usd is the unit price over a month (hourly items) or the unit price."""
    unknown = sorted(set(counts) - set(FIXED_ITEMS))
    if unknown:
        raise ValueError(
            f"monthly_fixed: unknown item(s) {', '.join(unknown)} (known: {', '.join(FIXED_ITEMS)})"
        )
    items = []
    total = 0.0
    for key, (label, unit, field, hourly) in FIXED_ITEMS.items():
        count = counts.get(key, 0)
        if isinstance(count, bool) or not isinstance(count, int | float) or count < 0:
            raise ValueError(f"monthly_fixed: {key}={count!r} is not a count")
        price = getattr(prices, field)
        per_month = price * prices.hours_per_month if hourly else price
        monthly = 0.0 if key in STORED_ITEMS else count * per_month
        total += monthly
        items.append(
            {
                "item": key,
                "label": label,
                "count": count,
                "unit": unit,
                "unit_usd": price,
                "unit_month_usd": round(per_month, ROUND_USD),
                "monthly_usd": round(monthly, ROUND_USD),
            }
        )
    return {
        "region": prices.region,
        "currency": prices.currency,
        "prices_date": prices.date,
        "hours_per_month": prices.hours_per_month,
        "total_usd": round(total, ROUND_USD),
        "items": items,
    }
