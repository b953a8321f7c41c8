"""On paper: what ValidateInput's sizing model (render_worker.sizing, the code the Lambda runs) predicts on
AWS with the `envs/aws` defaults, for catalogs too large to render here. Nothing here is measured on AWS.

Read from envs/aws/variables.tf (the defaults a deploy gets): `sizing`, `batch_max_vcpus`, `worker_vcpu`,
`worker_memory_mib`. Parallel children = 2 compute environments (Fargate Spot, Fargate) x floor(max vCPUs /
job vCPUs), as modules/batch's `max_parallel_jobs`. Cost: each child is billed from its start to its end
(start-up included) at Fargate Spot's price, at least one minute per task; plus the S3 PUT requests.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from harness.paths import REPO as ROOT
from render_worker import sizing

AWS_VARIABLES = ROOT / "envs" / "aws" / "variables.tf"
COMPUTE_ENVIRONMENTS = 2  # modules/batch: FARGATE_SPOT then FARGATE behind one queue
PRICES = {  # us-east-1, Linux/x86; Spot prices move: check the page before relying on a figure
    "source": "aws.amazon.com/fargate/pricing and /s3/pricing, us-east-1: figures as last known (2024), not "
    "re-checked (no network here)",
    "fargate_spot_vcpu_hour": 0.01334053,
    "fargate_spot_gb_hour": 0.00146489,
    "fargate_vcpu_hour": 0.04048,
    "fargate_gb_hour": 0.004445,
    "s3_put_per_1000": 0.005,
}
MINIMUM_BILLED_S = 60  # Fargate bills per second with a one-minute minimum per task
S3_PREFIX_PUTS_PER_S = 3500  # S3's documented request rate per partitioned prefix


def terraform_default(text: str, variable: str) -> Any:
    """The `default` of `variable "<name>"` in a variables.tf: a number, or a flat object of numbers."""
    block = re.search(rf'variable "{re.escape(variable)}" {{(.*?)\n}}', text, re.S)
    if block is None:
        raise ValueError(f"{AWS_VARIABLES.name}: no variable {variable!r}")
    found = re.search(r"\n  default\s*=\s*(\{.*?\n  \}|[^\n]+)", block.group(1), re.S)
    if found is None:
        raise ValueError(f"{AWS_VARIABLES.name}: variable {variable!r} has no default")
    value = found.group(1).strip()
    if value.startswith("{"):
        return {k: float(v) for k, v in re.findall(r"(\w+)\s*=\s*([0-9.]+)", value)}
    return float(value)


def aws_defaults(path: Path = AWS_VARIABLES) -> dict[str, Any]:
    text = path.read_text()
    return {
        "sizing": terraform_default(text, "sizing"),
        "batch_max_vcpus": terraform_default(text, "batch_max_vcpus"),
        "worker_vcpu": terraform_default(text, "worker_vcpu"),
        "worker_memory_mib": terraform_default(text, "worker_memory_mib"),
    }


def model(defaults: dict[str, Any]) -> sizing.SizingModel:
    per_environment = math.floor(defaults["batch_max_vcpus"] / defaults["worker_vcpu"])
    return sizing.SizingModel(
        child_variants_per_s=defaults["sizing"]["child_variants_per_s"],
        child_start_s=defaults["sizing"]["child_start_s"],
        storage_puts_per_s=defaults["sizing"]["storage_puts_per_s"],
        max_parallel_children=COMPUTE_ENVIRONMENTS * per_environment,
    )


def predict(variants: int, defaults: dict[str, Any]) -> dict[str, Any]:
    chosen = model(defaults)
    plan = sizing.plan(variants, chosen)
    running = min(plan.children, chosen.max_parallel_children)
    put_rate = min(running * chosen.child_variants_per_s, chosen.storage_puts_per_s)
    child_s = chosen.child_start_s + plan.variants_per_child / (put_rate / running)
    billed_s = plan.array_size * max(MINIMUM_BILLED_S, child_s)
    vcpu, gb = defaults["worker_vcpu"], defaults["worker_memory_mib"] / 1024
    per_hour_spot = vcpu * PRICES["fargate_spot_vcpu_hour"] + gb * PRICES["fargate_spot_gb_hour"]
    per_hour_on_demand = vcpu * PRICES["fargate_vcpu_hour"] + gb * PRICES["fargate_gb_hour"]
    puts = variants + plan.array_size + 2  # SVGs, part records, manifest and gallery
    return {
        "variants": variants,
        "children": plan.array_size,
        "variants_per_child": plan.variants_per_child,
        "predicted_wall_s": plan.predicted_wall_s,
        "basis": plan.basis,
        "s3_put_per_s": round(put_rate, 1),
        "s3_prefix_limit_per_s": S3_PREFIX_PUTS_PER_S,
        "s3_prefix_share": round(put_rate / S3_PREFIX_PUTS_PER_S, 3),
        "compute_cost_spot_usd": round(billed_s / 3600 * per_hour_spot, 4),
        "compute_cost_on_demand_usd": round(billed_s / 3600 * per_hour_on_demand, 4),
        "s3_put_cost_usd": round(puts / 1000 * PRICES["s3_put_per_1000"], 4),
    }


def paper(variant_counts: tuple[int, ...] = (100_000, 1_000_000)) -> dict[str, Any]:
    defaults = aws_defaults()
    chosen = model(defaults)
    return {
        "defaults": defaults,
        "max_parallel_children": chosen.max_parallel_children,
        "prices": PRICES,
        "predictions": [predict(n, defaults) for n in variant_counts],
        "assumptions": [
            "the sizing defaults of envs/aws/variables.tf (documented, not measured on AWS: see the sizing "
            "variable's description)",
            f"{COMPUTE_ENVIRONMENTS} compute environments x floor(batch_max_vcpus / worker_vcpu) children at "
            "once",
            "every child starts at once (no queue wait beyond child_start_s), on Fargate Spot (no reclaim)",
            f"each child billed start to end, at least {MINIMUM_BILLED_S} s; ValidateInput, PublishResults, "
            "Step Functions transitions, KMS and storage are not counted",
            f"S3 accepts {S3_PREFIX_PUTS_PER_S} PUT/s per partitioned prefix; a run writes under one prefix",
        ],
    }
