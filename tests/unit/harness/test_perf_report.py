"""The perf harness's own logic: the per-phase split from an execution's history, the AWS paper model read
from envs/aws, the enforced targets, and the report rendering every section."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import pytest

from tests.perf import aws_model, phases, report, run

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _event(kind: str, seconds: float, **details) -> dict:
    return {"type": kind, "timestamp": T0 + timedelta(seconds=seconds), **details}


def _history(validated: dict) -> list[dict]:
    output = json.dumps({"validated": validated})
    return [
        _event("ExecutionStarted", 0.0),
        _event("TaskStateEntered", 0.01, stateEnteredEventDetails={"name": "ValidateInput"}),
        _event("TaskStateExited", 0.31, stateExitedEventDetails={"name": "ValidateInput", "output": output}),
        _event("TaskStateEntered", 0.32, stateEnteredEventDetails={"name": "RenderPlain"}),
        _event(
            "TaskSubmitted",
            0.35,
            taskSubmittedEventDetails={
                "resourceType": "batch",
                "resource": "submitJob.sync",
                "output": json.dumps({"JobId": "job-1"}),
            },
        ),
        _event("TaskStateExited", 1.40, stateExitedEventDetails={"name": "RenderPlain", "output": "{}"}),
        _event("TaskStateEntered", 1.40, stateEnteredEventDetails={"name": "PublishResults"}),
        _event("TaskStateExited", 1.60, stateExitedEventDetails={"name": "PublishResults", "output": "{}"}),
        _event("ExecutionSucceeded", 1.70),
    ]


class _Client:
    def __init__(self, events, jobs, part):
        self.events, self.jobs, self.part = events, jobs, part

        class _NoSuchKey(Exception):
            pass

        self.exceptions = type("E", (), {"NoSuchKey": _NoSuchKey})

    def get_execution_history(self, **_):
        return {"events": self.events}

    def describe_jobs(self, jobs):
        return {"jobs": [self.jobs[j] for j in jobs]}

    def get_object(self, Bucket, Key):  # noqa: N803 - boto3's names
        import io

        return {"Body": io.BytesIO(json.dumps(self.part[Key]).encode())}


class _Stack(dict):
    def __init__(self, client):
        super().__init__(renders_bucket="renders", state_machine_arn="arn:aws:states:r:1:stateMachine:m")
        self._client = client

    def client(self, _name):
        return self._client


def test_phases_split_one_execution_on_one_clock():
    validated = {"run_id": "r1", "array_size": 1, "variants_per_child": 1, "predicted_wall_s": 0.5,
                 "sizing": {"basis": "1 child"}}  # fmt: skip
    start = (T0 + timedelta(seconds=0.45)).timestamp()
    job = {"jobId": "job-1", "attempts": [{"startedAt": start * 1000, "stoppedAt": (start + 0.8) * 1000}]}
    timing = {"slice_started_at": start + 0.5, "slice_ended_at": start + 0.7, "setup_s": 0.1,
              "render_s": 0.05, "upload_wait_s": 0.12}  # fmt: skip
    client = _Client(_history(validated), {"job-1": job}, {"r1/_parts/plain.json": {"timing": timing}})
    split = phases.execution_phases(_Stack(client), "arn:aws:states:r:1:execution:m:r1")
    got = split["phases"]
    assert split["total_s"] == pytest.approx(1.7)
    assert split["children"] == 1 and split["predicted_wall_s"] == 0.5
    assert got["validate"] == pytest.approx(0.30)
    assert got["queue_wait"] == pytest.approx(0.45 - 0.32, abs=0.002)  # from RenderPlain's entry
    assert got["children"] == pytest.approx(0.8, abs=0.002)
    assert got["batch_to_workflow"] == pytest.approx(1.40 - 1.25, abs=0.002)
    assert got["child_start_up"]["median"] == pytest.approx(0.5, abs=0.002)
    assert got["upload_wait"] == {"median": 0.12, "max": 0.12}
    assert got["publish"] == pytest.approx(0.2)
    line = phases.phase_line(split)
    assert "validate 0.30 s" in line and "child start up 0.50 s (max 0.50)" in line


def test_queue_wait_is_not_negative_when_the_child_starts_before_task_submitted_is_written():
    # The local cloud can start the child before SubmitJob returns (TaskSubmitted at 0.35, child at 0.33).
    validated = {"run_id": "r1", "array_size": 1, "variants_per_child": 1}
    start = (T0 + timedelta(seconds=0.33)).timestamp()
    job = {"jobId": "job-1", "attempts": [{"startedAt": start * 1000, "stoppedAt": (start + 0.5) * 1000}]}
    client = _Client(_history(validated), {"job-1": job}, {"r1/_parts/plain.json": {"timing": None}})
    got = phases.execution_phases(_Stack(client), "arn:aws:states:r:1:execution:m:r1")["phases"]
    assert got["queue_wait"] == pytest.approx(0.01, abs=0.002)


def test_validated_is_none_before_validate_input_exited():
    assert phases.validated_from_history(_history({"run_id": "r"})[:2]) is None
    assert phases.validated_from_history(_history({"run_id": "r", "array_size": 3}))["array_size"] == 3


def test_terraform_default_reads_numbers_and_objects():
    text = (
        'variable "a" {\n  type = number\n  default = 256\n}\n'
        'variable "s" {\n  type = object({ x = number })\n  default = {\n    x = 320\n    y = 0.5\n  }\n\n'
        "  validation {\n    condition = true\n  }\n}\n"
    )
    assert aws_model.terraform_default(text, "a") == 256
    assert aws_model.terraform_default(text, "s") == {"x": 320, "y": 0.5}
    with pytest.raises(ValueError, match="no variable 'missing'"):
        aws_model.terraform_default(text, "missing")


def test_aws_paper_uses_the_envs_aws_defaults_and_the_lambdas_model():
    paper = aws_model.paper()
    defaults = paper["defaults"]
    assert set(defaults["sizing"]) == {"child_variants_per_s", "child_start_s", "storage_puts_per_s"}
    assert paper["max_parallel_children"] == 2 * int(defaults["batch_max_vcpus"] // defaults["worker_vcpu"])
    hundred_k, million = paper["predictions"]
    assert hundred_k["variants"] == 100_000 and million["variants"] == 1_000_000
    for p in (hundred_k, million):
        assert 1 <= p["children"] <= paper["max_parallel_children"]
        assert p["children"] * p["variants_per_child"] >= p["variants"]
        assert p["s3_put_per_s"] <= defaults["sizing"]["storage_puts_per_s"]
        assert 0 < p["compute_cost_spot_usd"] < p["compute_cost_on_demand_usd"]
    assert million["predicted_wall_s"] > hundred_k["predicted_wall_s"]


def _bench(overhead: float, score: float, ratio: float) -> dict:
    execution = {"run_id": "perf-1-e2e-big-0", "variants": 10_000, "children": 2, "variants_per_child": 5000,
                 "predicted_wall_s": 40.5, "wall_s": 45.0, "status": "SUCCEEDED",
                 "phases": {"validate": 0.2, "children": {"median": 44.0, "max": 44.0}}}  # fmt: skip
    one = {**execution, "run_id": "perf-1-e2e-1-0", "variants": 1, "children": 1, "wall_s": overhead}
    rounds = [{**execution, "bare_put_s": 40.0, "ratio": 1.1, "limit_s": 57.0, "score": score}]
    return {
        "worker": {"variants": 1500, "upload_concurrency": 16, "worker_per_s": 200.0, "bare_put_per_s": 210.0,
                   "ratio": ratio, "target": ">= 0.9 (median of 3)", "pass": ratio >= 0.9,
                   "rounds": [{"batch_child": {"per_s": 200.0}, "process_child": {"per_s": 180.0},
                               "bare_per_s": 210.0, "ratio": ratio}]},
        "end_to_end": {"one_variant": [one], "fixed_overhead_s": overhead,
                       "fixed_overhead_target": "<= 2.0 s", "fixed_overhead_pass": overhead <= 2.0,
                       "rounds": rounds, "large": rounds[0],
                       "target": "wall <= 1.3 x ...", "score": score, "pass": score <= 1.0},
        "s3": {"speedups": {"on_per_s": 300.0, "off_per_s": 220.0, "on_runs": [300.0], "off_runs": [220.0],
                            "ratio": 1.36},
               "stock_moto": {"per_s": 230.0, "runs": [230.0], "setup": "versioned"}, "vs_stock_moto": 1.3},
        "teardown": {"counts": [10_000, 20_000], "off_s": {"10000": 5.0, "20000": 20.0},
                     "on_s": {"10000": 1.0, "20000": 2.0}, "growth_off": 4.0, "growth_on": 2.0, "versions": 2,
                     "method": "m"},
        "aws_model": aws_model.paper(),
    }  # fmt: skip


def test_targets_are_enforced_and_a_miss_is_explained_with_measured_phases():
    good = _bench(overhead=1.5, score=0.8, ratio=0.95)
    assert run.targets(good) == {"worker": True, "end_to_end": True, "fixed_overhead": True}
    assert run.explain(good) == []
    bad = _bench(overhead=2.5, score=1.2, ratio=0.85)
    assert run.targets(bad) == {"worker": False, "end_to_end": False, "fixed_overhead": False}
    notes = run.explain(bad)
    assert len(notes) == 3
    assert "validate 0.20 s" in notes[1] and "children 44.00 s" in notes[2]


def test_report_renders_every_section(tmp_path):
    result = {
        "session": "perf-1", "generated_at": "now", "env": "local", "profile": {"name": "seed"},
        "machine": {"runtime": "container"}, "wall_s": 1.0, "runs_ok": True, "load": None,
        "verification": {"runs": {}, "messages": {}, "problems": []},
        "benchmarks": _bench(overhead=1.5, score=0.8, ratio=0.95), "notes": [], "stack_source": "x",
    }  # fmt: skip
    path = tmp_path / "perf-report.md"
    report.write_markdown(result, path)
    text = path.read_text()
    for heading in ("## Targets", "## Executions: model vs measured", "## The local S3 ceiling",
                    "## Tear-down", "## On paper"):  # fmt: skip
        assert heading in text
    assert "Speed-ups on vs off: **1.36x**" in text and "| 1,000,000 |" in text
