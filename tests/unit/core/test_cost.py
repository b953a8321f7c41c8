"""Cost per run and at rest (render_worker.cost): the sizing model priced, Batch attempts priced, max_cost,
and the price table in config/prices.json."""

from __future__ import annotations

import copy
import json
import math

import pytest

from harness.paths import REPO
from render_worker import cost, sizing
from render_worker.errors import FarmError

PRICES_FILE = REPO / "config" / "prices.json"
# A small table with round numbers, so the hand computations below are readable.
TABLE = {
    "currency": "USD",
    "date": "2026-11-30",
    "source": ["https://aws.amazon.com/fargate/pricing/"],
    "note": "test prices",
    "fargate_minimum_billed_s": 60,
    "hours_per_month": 730,
    "regions": {
        "us-east-1": {
            "fargate": {"vcpu_hour": 0.04, "gb_hour": 0.004},
            "fargate_spot": {"vcpu_hour": 0.012, "gb_hour": 0.0012},
            "kms_key_month": 1.0,
            "interface_endpoint_az_hour": 0.01,
            "nat_gateway_hour": 0.045,
            "efs_standard_gb_month": 0.3,
            "logs_ingest_gb": 0.5,
            "logs_storage_gb_month": 0.03,
            "s3_standard_gb_month": 0.023,
        }
    },
}
PRICES = cost.load_prices(TABLE, "us-east-1")
HALF = cost.Resources(vcpu=0.5, memory_mib=1024)
# 1 variant/s a child, 5 s start-up, a ceiling no three children reach, 8 at once.
SLOW = sizing.SizingModel(
    child_variants_per_s=1, child_start_s=5, storage_puts_per_s=1000, max_parallel_children=8
)
ON_DEMAND_PER_S = (0.5 * 0.04 + 1 * 0.004) / 3600
SPOT_PER_S = (0.5 * 0.012 + 1 * 0.0012) / 3600


def test_estimate_of_three_children_matches_a_hand_computation():
    plan = sizing.plan(250, SLOW, override=100)  # slices of 100, 100 and 50
    assert (plan.children, plan.variants_per_child) == (3, 100)
    estimate = cost.estimate(250, plan, SLOW, HALF, PRICES)
    # 5 + 100/1 = 105 s twice, 5 + 50/1 = 55 s once; the short one is billed the 60 s minimum.
    assert estimate.children == 3
    assert estimate.child_seconds == 105 + 105 + 55
    assert estimate.billed_seconds == 105 + 105 + 60
    assert estimate.on_demand_usd == round(270 * ON_DEMAND_PER_S, 6)
    assert estimate.spot_usd == round(270 * SPOT_PER_S, 6)
    assert estimate.basis == (
        "3 children x ~88.3 s (5 s start + up to 100 variants at 1/s), billed per second with a 60 s minimum "
        "(1 of 3 at the minimum), 0.5 vCPU + 1 GiB, us-east-1 prices of 2026-11-30"
    )


def test_the_minute_minimum_applies_to_short_children_only():
    fast = sizing.SizingModel(200, 0.5, 250, 2)
    short = cost.estimate(100, sizing.plan(100, fast, override=50), fast, HALF, PRICES)
    assert short.child_seconds == pytest.approx(2 * (0.5 + 50 / 125))  # two share the 250/s ceiling
    assert short.billed_seconds == 120
    assert "billed 60 s minimum each" in short.basis
    long = cost.estimate(400, sizing.plan(400, SLOW, override=200), SLOW, HALF, PRICES)
    assert long.billed_seconds == long.child_seconds == 2 * (5 + 200)
    assert "each over the 60 s minimum" in long.basis


def test_children_share_the_storage_ceiling():
    capped = sizing.SizingModel(
        child_variants_per_s=10, child_start_s=0, storage_puts_per_s=12, max_parallel_children=8
    )
    assert cost.child_rate(3, capped) == 4  # 12/s among three, each could do 10/s
    assert cost.child_rate(1, capped) == 10
    assert cost.child_rate(20, capped) == 12 / 8  # only 8 run at once
    estimate = cost.estimate(300, sizing.plan(300, capped, override=100), capped, HALF, PRICES)
    assert estimate.child_seconds == 3 * 100 / 4


def test_one_model_with_sizing_the_estimate_runs_as_long_as_sizing_predicts():
    free = cost.load_prices({**TABLE, "fargate_minimum_billed_s": 0}, "us-east-1")
    for count, model in ((1000, SLOW), (10_000, sizing.SizingModel(320, 45, 3500, 256))):
        plan = sizing.plan(count, model)
        estimate = cost.estimate(count, plan, model, HALF, free)
        if count % plan.variants_per_child == 0:  # equal slices: every child runs the predicted wall time
            assert estimate.child_seconds / plan.children == pytest.approx(plan.predicted_wall_s, abs=1e-3)
        assert estimate.billed_seconds == estimate.child_seconds


def test_a_plain_job_is_one_child_of_every_variant():
    plan = sizing.plan(30, SLOW, override=100)
    assert plan.children == 1
    estimate = cost.estimate(30, plan, SLOW, HALF, PRICES)
    assert (estimate.children, estimate.child_seconds, estimate.billed_seconds) == (1, 35, 60)
    assert estimate.basis.startswith("1 child x ~35.0 s (5 s start + 30 variants at 1/s)")


def test_spot_is_cheaper_than_on_demand():
    estimate = cost.estimate(250, sizing.plan(250, SLOW), SLOW, HALF, PRICES)
    assert 0 < estimate.spot_usd < estimate.on_demand_usd
    real = cost.load_prices(json.loads(PRICES_FILE.read_text()), "us-east-1")
    estimate = cost.estimate(250, sizing.plan(250, SLOW), SLOW, HALF, real)
    assert 0 < estimate.spot_usd < estimate.on_demand_usd


def test_zero_children_cost_nothing():
    estimate = cost.estimate(0, sizing.nothing_selected(), SLOW, HALF, PRICES)
    assert estimate.as_dict() == {
        "children": 0,
        "child_seconds": 0.0,
        "billed_seconds": 0.0,
        "spot_usd": 0.0,
        "on_demand_usd": 0.0,
        "currency": "USD",
        "prices_date": "2026-11-30",
        "basis": "0 children: no variant selected, nothing billed",
    }


def test_as_dict_keys_are_stable():
    estimate = cost.estimate(250, sizing.plan(250, SLOW), SLOW, HALF, PRICES)
    assert list(estimate.as_dict()) == [
        "children", "child_seconds", "billed_seconds", "spot_usd", "on_demand_usd", "currency", "prices_date",
        "basis",
    ]  # fmt: skip
    json.dumps(estimate.as_dict())


def test_actual_prices_the_attempts_that_started():
    attempts = [
        (1_000, 121_000),  # 120 s
        (0, 5_000),  # never started: not billed
        (None, None),  # idem
        (10_000, 5_000),  # stopped "before" it started: 0 s, billed the minimum
        (2_000, 32_000),  # 30 s, billed the minimum
    ]
    actual = cost.actual(attempts, HALF, PRICES)
    assert actual.children == 3
    assert actual.child_seconds == 150
    assert actual.billed_seconds == 120 + 60 + 60
    assert actual.on_demand_usd == round(240 * ON_DEMAND_PER_S, 6)
    assert actual.spot_usd == round(240 * SPOT_PER_S, 6)
    assert actual.basis.startswith("3 Batch attempts, 150.0 s from startedAt to stoppedAt in all")
    assert cost.actual([], HALF, PRICES).on_demand_usd == 0


def test_check_max_cost_refuses_over_and_passes_under():
    estimate = cost.estimate(250, sizing.plan(250, SLOW, override=100), SLOW, HALF, PRICES)
    cost.check_max_cost(estimate, None, "the spec's options.max_cost")
    cost.check_max_cost(estimate, estimate.on_demand_usd, "the spec's options.max_cost")
    cost.check_max_cost(estimate, 1.0, "the spec's options.max_cost")
    with pytest.raises(cost.CostLimitExceeded) as caught:
        cost.check_max_cost(estimate, 0.001, "the execution input's max_cost")
    message = str(caught.value)
    assert message == (
        f"the estimated cost {cost.usd(estimate.on_demand_usd)} (on-demand; {cost.usd(estimate.spot_usd)} on "
        "Fargate Spot) is over max_cost $0.001 (the execution input's max_cost); raise max_cost or render "
        "fewer variants"
    )
    assert "$0.0018 (on-demand; $0.0005 on Fargate Spot)" in message
    assert isinstance(caught.value, FarmError)
    assert type(caught.value).__name__ == "CostLimitExceeded"  # the state machine catches it by this name
    assert caught.value.cost == estimate and caught.value.max_cost == 0.001


def test_check_max_cost_compares_the_on_demand_figure():
    estimate = cost.estimate(250, sizing.plan(250, SLOW, override=100), SLOW, HALF, PRICES)
    between = (estimate.spot_usd + estimate.on_demand_usd) / 2  # Spot fits, on-demand does not
    with pytest.raises(cost.CostLimitExceeded, match="over max_cost"):
        cost.check_max_cost(estimate, between, "--max-cost")


def test_a_max_cost_given_with_the_run_wins_over_the_spec_s():
    estimate = cost.estimate(250, sizing.plan(250, SLOW, override=100), SLOW, HALF, PRICES)
    cost.check_run_cost(estimate, 1.0, "--max-cost", 0.001)  # the given limit passes: the spec's is not read
    with pytest.raises(cost.CostLimitExceeded, match=r"over max_cost \$0\.001 \(--max-cost\)"):
        cost.check_run_cost(estimate, 0.001, "--max-cost", 1.0)
    with pytest.raises(cost.CostLimitExceeded, match=r"\(the spec's options\.max_cost\)"):
        cost.check_run_cost(estimate, None, "--max-cost", 0.001)
    cost.check_run_cost(estimate, None, "--max-cost", None)  # no limit at all


@pytest.mark.parametrize(
    ("value", "expected"), [(None, None), (1, 1.0), (0.5, 0.5), ("0.50", 0.5), (" 2 ", 2.0), (".25", 0.25)]
)
def test_parse_max_cost_accepts_positive_amounts(value, expected):
    assert cost.parse_max_cost(value, "options.max_cost") == expected


@pytest.mark.parametrize(
    "value", ["abc", -1, 0, 0.0, "0", True, False, math.nan, math.inf, "nan", "1e3", "-0.5", "", [1], {}]
)
def test_parse_max_cost_refuses_the_rest_naming_where(value):
    with pytest.raises(
        cost.InvalidMaxCost, match=r"^the spec's options\.max_cost .* is not a positive amount"
    ):
        cost.parse_max_cost(value, "the spec's options.max_cost")
    with pytest.raises(ValueError):  # callers that rewrap ValueErrors catch it too
        cost.parse_max_cost(value, "max_cost")


def test_load_prices_names_a_missing_region_or_field():
    with pytest.raises(
        ValueError, match=r"^config/prices\.json has no region 'ap-south-9' \(it lists us-east-1\)"
    ):
        cost.load_prices(TABLE, "ap-south-9")
    broken = copy.deepcopy(TABLE)
    del broken["regions"]["us-east-1"]["fargate"]["gb_hour"]
    with pytest.raises(ValueError, match=r"regions\.us-east-1\.fargate\.gb_hour is missing"):
        cost.load_prices(broken, "us-east-1")
    broken = copy.deepcopy(TABLE)
    broken["regions"]["us-east-1"]["kms_key_month"] = -1
    with pytest.raises(ValueError, match=r"regions\.us-east-1\.kms_key_month=-1 is not a positive number"):
        cost.load_prices(broken, "us-east-1")
    with pytest.raises(ValueError, match="date 'last week' is not a YYYY-MM-DD date"):
        cost.load_prices({**TABLE, "date": "last week"}, "us-east-1")
    with pytest.raises(ValueError, match="source is not a non-empty list"):
        cost.load_prices({**TABLE, "source": []}, "us-east-1")


def test_region_prices_round_trip_through_the_lambda_environment():
    env = {cost.PRICES_ENV: PRICES.to_json()}
    assert cost.RegionPrices.from_env(env) == PRICES
    assert cost.RegionPrices.from_json(json.dumps(PRICES.as_dict())) == PRICES
    assert PRICES.as_dict()["fargate"] == {"vcpu_hour": 0.04, "gb_hour": 0.004}
    with pytest.raises(ValueError, match="^COST_PRICES is not set"):
        cost.RegionPrices.from_env({})
    with pytest.raises(ValueError, match="^COST_PRICES is not JSON"):
        cost.RegionPrices.from_env({"COST_PRICES": "{"})
    row = PRICES.as_dict()
    del row["fargate_spot"]
    with pytest.raises(ValueError, match=r"^COST_PRICES: fargate_spot\.vcpu_hour is missing"):
        cost.RegionPrices.from_env({"COST_PRICES": json.dumps(row)})


def test_resources_from_the_environment_name_the_variable():
    assert cost.Resources.from_env({"JOB_VCPU": "0.5", "JOB_MEMORY_MIB": "2048"}) == cost.Resources(0.5, 2048)
    with pytest.raises(ValueError, match="^JOB_VCPU is not set"):
        cost.Resources.from_env({"JOB_MEMORY_MIB": "1024"})
    with pytest.raises(ValueError, match="^JOB_VCPU='-1' is not positive"):
        cost.Resources.from_env({"JOB_VCPU": "-1", "JOB_MEMORY_MIB": "1024"})
    with pytest.raises(ValueError, match="^JOB_MEMORY_MIB='1.5' is not a positive whole number"):
        cost.Resources.from_env({"JOB_VCPU": "1", "JOB_MEMORY_MIB": "1.5"})
    with pytest.raises(ValueError, match="^JOB_MEMORY_MIB='lots' is not a number"):
        cost.Resources.from_env({"JOB_VCPU": "1", "JOB_MEMORY_MIB": "lots"})


def test_monthly_fixed_prices_the_items_at_rest():
    fixed = cost.monthly_fixed({"kms_keys": 6, "interface_endpoint_azs": 8, "s3_buckets": 3}, PRICES)
    assert fixed["total_usd"] == 6 * 1.0 + 8 * 0.01 * 730  # buckets are empty at rest: $0
    items = {item["item"]: item for item in fixed["items"]}
    assert items["s3_buckets"] == {
        "item": "s3_buckets", "label": "S3 buckets", "count": 3, "unit": "per GB-month stored (Standard)",
        "unit_usd": 0.023, "unit_month_usd": 0.023, "monthly_usd": 0.0,
    }  # fmt: skip
    assert items["interface_endpoint_azs"]["unit_month_usd"] == 7.3
    assert list(items) == list(cost.FIXED_ITEMS)
    with pytest.raises(ValueError, match="unknown item"):
        cost.monthly_fixed({"lambdas": 1}, PRICES)


# ---- config/prices.json ------------------------------------------------------------------------------------


def test_the_repository_price_table_loads_for_every_region_it_lists():
    document = json.loads(PRICES_FILE.read_text())
    table = cost.PriceTable.from_document(document)
    assert {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1"} <= set(table.regions)
    for region in document["regions"]:
        prices = cost.load_prices(document, region)
        assert prices.region == region and prices.currency == "USD"
        assert prices.minimum_billed_s == 60
        assert (
            prices.spot_vcpu_hour < prices.fargate_vcpu_hour and prices.spot_gb_hour < prices.fargate_gb_hour
        )
        assert len(prices.to_json()) < 1500  # one Lambda environment variable (all of them share 4 KB)
    assert cost.load_prices(document, "us-east-1").fargate_vcpu_hour == 0.04048


def test_the_repository_price_table_states_its_date_and_source_and_every_number_is_positive():
    document = json.loads(PRICES_FILE.read_text())
    assert document["date"] == "2026-11-30"
    assert all(url.startswith("https://aws.amazon.com/") for url in document["source"])
    assert "not fetched live" in document["note"] or "nothing here is fetched live" in document["note"]

    def numbers(value):
        if isinstance(value, dict):
            for item in value.values():
                yield from numbers(item)
        elif isinstance(value, list):
            for item in value:
                yield from numbers(item)
        elif isinstance(value, int | float) and not isinstance(value, bool):
            yield value

    found = list(numbers(document))
    assert len(found) > 40
    assert all(math.isfinite(n) and n > 0 for n in found)


def test_usd_formatting():
    assert cost.usd(2) == "$2.00"
    assert cost.usd(0.0213) == "$0.0213"
    assert cost.usd(1234.5) == "$1,234.50"
    assert cost.usd(0.000041) == "$0.000041"
    assert cost.price(0.045) == "$0.045"
    assert cost.price(1) == "$1.00"
    assert cost.price(0.0324) == "$0.0324"
