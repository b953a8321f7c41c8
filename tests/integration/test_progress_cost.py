"""Watching and paying, on the deployed stack: the children's progress objects give a rate and an ETA that
hold halfway through a run; a run's actual cost (from its Batch attempts) matches an estimate whose
parameters were measured on another run; max_cost refuses a run before anything renders.

The long runs use SLOW- SKUs (test hook of envs/local: 15 ms longer each), so one child renders 2,000 of them
in about 40 s: long enough to look at halfway.
"""

from __future__ import annotations

import json
import time

import pytest

from render_worker import cost, sizing
from tests.conftest import LIVE_TIMEOUT, make_spec

pytestmark = pytest.mark.live

SLOW_VARIANTS = 2000  # 20 products x 100
ETA_TOLERANCE = 0.30  # the target: the ETA halfway is within 30% of the real end
COST_TOLERANCE = 0.25


@pytest.fixture(scope="module")
def slow_stack(stack):
    if not stack.outputs.get("test_hooks_enabled"):
        pytest.skip("the SLOW- hook needs a stack with test hooks (envs/local)")
    return stack


@pytest.fixture(scope="module")
def watched_run(farm, slow_stack):
    """A 2,000-variant SLOW run, looked at every 0.25 s until it ends: (time, RunState) of every look."""
    spec = make_spec("eta", 20, 100, sku_prefix="SLOW")
    run_id = farm.new_run_id("eta")
    farm.start(farm.upload(run_id, spec), run_id)
    looks = []
    deadline = time.monotonic() + LIVE_TIMEOUT
    while time.monotonic() < deadline:
        state = farm.client.status(run_id)
        looks.append((time.time(), state))
        if state.finished:
            break
        time.sleep(0.25)
    return {"run_id": run_id, "spec": spec, "looks": looks, "state": looks[-1][1]}


def test_progress_advances_and_the_eta_halfway_is_within_30_percent(farm, watched_run):
    state, looks = watched_run["state"], watched_run["looks"]
    assert state.status == "SUCCEEDED", f"{state.status}: {state.error} {state.cause}"
    shown = [(t, s.progress) for t, s in looks if s.progress is not None and s.progress.rate_per_s]
    done = [p.done for _, p in shown]
    assert len(set(done)) >= 5, f"progress should advance during the run, saw {sorted(set(done))}"
    assert done == sorted(done), "variants done never goes back"
    assert all(p.total == SLOW_VARIANTS for _, p in shown)

    halfway_at, halfway = next((t, p) for t, p in shown if p.done >= SLOW_VARIANTS / 2)
    assert halfway.done < SLOW_VARIANTS, "the run was not looked at before it ended"
    # The real end: the last variant stored, by the children's own final progress writes.
    bodies = [
        json.loads(farm.get(watched_run["run_id"], key))
        for key in farm.keys(watched_run["run_id"])
        if key.startswith("_progress/")
    ]
    assert bodies and all(b["finished"] and b["done"] == b["total"] for b in bodies), bodies
    real_end = max(b["updated_at"] for b in bodies)
    remaining = real_end - halfway_at
    error = abs(halfway.eta_s - remaining) / remaining
    print(
        f"ETA at {halfway.done}/{SLOW_VARIANTS} ({halfway.rate_per_s:.1f}/s): {halfway.eta_s:.1f} s; the run "
        f"ended {remaining:.1f} s later: error {error:.0%}"
    )
    assert error <= ETA_TOLERANCE, f"ETA {halfway.eta_s:.1f} s vs {remaining:.1f} s: {error:.0%} off"


def test_farm_status_shows_variants_rate_and_eta(farm, watched_run):
    from farm.remote import describe

    text = describe(watched_run["looks"][len(watched_run["looks"]) // 2][1])
    assert "variants:" in text and "/s" in text, text
    final = describe(watched_run["state"])
    assert f"{SLOW_VARIANTS:,}/{SLOW_VARIANTS:,}" in final, final


def measured_model(farm, run_id: str, stack_model: sizing.SizingModel) -> sizing.SizingModel:
    """The sizing model's child parameters as one run showed them: its child's start-up (Batch startedAt to
    its first variant) and render rate (its part record's slice timing)."""
    (record_key,) = [k for k in farm.keys(run_id) if k.startswith("_parts/") and k.endswith(".json")]
    record = json.loads(farm.get(run_id, record_key))
    timing = record["timing"]
    state = farm.client.status(run_id)
    (job,) = farm.client.client("batch").describe_jobs(jobs=[state.job_id])["jobs"]
    started = job["attempts"][-1]["startedAt"] / 1000
    rate = len(record["variants"]) / (timing["slice_ended_at"] - timing["slice_started_at"])
    return sizing.SizingModel(
        child_variants_per_s=rate,
        child_start_s=max(0.0, timing["slice_started_at"] - started),
        storage_puts_per_s=stack_model.storage_puts_per_s,
        max_parallel_children=stack_model.max_parallel_children,
    )


def test_the_actual_cost_is_within_25_percent_of_an_estimate_measured_on_another_run(
    farm, slow_stack, watched_run, manifest_validator, notification_validator
):
    model = measured_model(farm, watched_run["run_id"], slow_stack.sizing_model())
    spec = make_spec("cost", 10, 100, sku_prefix="SLOW", variants_per_child=250)  # 4 children, 2 at once
    run = farm.run(spec, "cost")
    assert run.state.status == "SUCCEEDED", f"{run.state.status}: {run.state.error}"

    plan = sizing.plan(1000, model, 250)
    estimate = cost.estimate(1000, plan, model, slow_stack.job_resources(), slow_stack.prices())

    manifest = json.loads(farm.get(run.run_id, "manifest.json"))
    assert not list(manifest_validator.iter_errors(manifest))
    actual = manifest["cost"]["actual"]
    assert actual["children"] == 4, actual  # one Batch attempt per child
    seconds_error = abs(actual["child_seconds"] - estimate.child_seconds) / estimate.child_seconds
    cost_error = abs(actual["on_demand_usd"] - estimate.on_demand_usd) / estimate.on_demand_usd
    print(
        f"measured model: {model.child_variants_per_s:.1f} variants/s, {model.child_start_s:.2f} s start-up; "
        f"estimate {estimate.child_seconds:.1f} task-s ({cost.usd(estimate.on_demand_usd)}), actual "
        f"{actual['child_seconds']:.1f} task-s ({cost.usd(actual['on_demand_usd'])}): "
        f"{seconds_error:.0%} and {cost_error:.0%} off"
    )
    assert seconds_error <= COST_TOLERANCE, (estimate.basis, actual["basis"])
    assert cost_error <= COST_TOLERANCE

    # The stack's own estimate (ValidateInput's) and the actual ride in the manifest and the message.
    assert manifest["cost"]["estimate"]["children"] == 4 and manifest["cost"]["attempt"] == 1
    (message,) = farm.completion(run.run_id)
    assert not list(notification_validator.iter_errors(message))
    assert message["cost"] == manifest["cost"]


def test_submit_estimate_prints_the_plan_and_its_cost(farm, tmp_path):
    spec = tmp_path / "estimate.json"
    spec.write_text(json.dumps(make_spec("estimate", 10, 100)))
    shown = farm.cli("submit", str(spec), "--estimate")
    assert shown.returncode == 0, shown.stderr
    assert "estimate for" in shown.stdout and "1,000 variants" in shown.stdout
    assert "on Fargate Spot" in shown.stdout and "on-demand" in shown.stdout, shown.stdout
    assert "submitted" not in shown.stdout


def test_max_cost_refuses_before_anything_runs(farm, tmp_path):
    spec = tmp_path / "dear.json"
    spec.write_text(json.dumps(make_spec("dear", 10, 100)))
    shown = farm.cli("submit", str(spec), "--max-cost", "0.000001")
    assert shown.returncode == 1, shown.stdout + shown.stderr
    assert (
        "refused: the estimated cost" in shown.stderr
        and "over max_cost $0.000001 (--max-cost)" in shown.stderr
    )
    assert "submitted" not in shown.stdout

    # The workflow refuses too (a client that skips the CLI's check): the execution input's max_cost, and the
    # spec's options.max_cost, each end in one failure message naming it, with nothing rendered.
    for label, spec_doc, extra, where in (
        (
            "maxcost-input",
            make_spec("dear", 10, 100),
            {"max_cost": 0.000001},
            "the execution input's max_cost",
        ),
        ("maxcost-spec", make_spec("dear", 10, 100, max_cost=0.000001), {}, "the spec's options.max_cost"),
    ):
        run_id = farm.new_run_id(label)
        farm.client.start(farm.upload(run_id, spec_doc), run_id, **extra)
        state = farm.wait(run_id)
        assert state.status == "FAILED" and state.job_id is None, (state.status, state.job_id)
        (message,) = farm.failure(run_id)
        assert message["error"] == "CostLimitExceeded", message
        assert where in message["cause"] and "over max_cost $0.000001" in message["cause"], message["cause"]
        assert not [k for k in farm.keys(run_id) if k.endswith(".svg")]
