"""The perf report's per-child start cost (tests/perf): the container child is started with the Batch
runner's own `podman run` flags (batch_runner.podman_run_argv), and the report
shows both runtimes side by side. No container runtime needed."""

from __future__ import annotations

from pathlib import Path

from tests.perf import bench, report

DEFINITION = {
    "jobDefinitionName": "farm-render",
    "containerProperties": {
        "image": "127.0.0.1:5000/farm-worker@sha256:" + "a" * 64,
        "command": ["python", "-m", "render_worker"],
        "environment": [{"name": "SCRATCH_DIR", "value": "/mnt/scratch"}],
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
        "user": "10001:10001",
    },
}


def test_the_container_child_gets_the_batch_runners_flags():
    spec = bench.start_up_spec(DEFINITION)
    assert spec.command == ["python", "-c", bench.START_UP_IMPORTS]
    assert (spec.memory_mib, spec.vcpus, spec.user) == (2048, 1.0, "10001:10001")

    argv, env = bench.container_argv(spec, spec.image, "lc-perf-x", "/localcloud/perf/lc-perf-x")

    assert argv[0] == "podman" and "run" in argv
    joined = " ".join(argv)
    for flags in (
        "--name lc-perf-x",
        "--network host",
        "--memory 2048m --memory-swap 2048m",
        "--cpus 1",
        "--user 10001:10001",
        "--cgroup-parent /localcloud/perf/lc-perf-x",
    ):
        assert flags in joined
    assert argv[-4:] == [spec.image, "python", "-c", bench.START_UP_IMPORTS]
    assert env["SCRATCH_DIR"] == "/mnt/scratch" and "CONTAINERS_CONF" in env


def start_up(**changes):
    found = {
        "runtime": "container",
        "repeats": 3,
        "imports": bench.START_UP_IMPORTS,
        "process_s": 0.412,
        "process_runs": [0.43, 0.412, 0.41],
        "container_s": 1.234,
        "container_runs": [1.5, 1.234, 1.2],
        "container_reason": None,
        "image": DEFINITION["containerProperties"]["image"],
        "memory_mib": 2048,
        "vcpus": 1.0,
    }
    return {**found, **changes}


def test_the_report_puts_both_runtimes_side_by_side():
    lines = report.start_up_lines(start_up())
    assert "| runtime | per-child start s |" in lines
    assert "| process (a host Python) | 0.41 |" in lines
    assert "| container (`podman run` of the job definition's image, 2048 MiB, 1 vCPU) | 1.23 |" in lines


def test_process_mode_says_why_there_is_no_container_number():
    lines = report.start_up_lines(
        start_up(
            runtime="process",
            container_s=None,
            container_runs=[],
            container_reason=bench.NOT_CONTAINER_REASON,
        )
    )
    assert "| container | not measured: process mode: no container runtime |" in lines
    assert report.start_up_lines(None) == []


def test_the_header_names_the_runtime(tmp_path: Path):
    result = {
        "profile": {"name": "seed"},
        "env": "local",
        "session": "perf-x",
        "generated_at": "2026-11-30T08:00:00Z",
        "runs_ok": True,
        "machine": {"cores": 2, "runtime": "container"},
        "wall_s": 1.0,
        "verification": {"runs": {}, "messages": None, "problems": []},
        "benchmarks": {},
    }
    report.write_markdown(result, tmp_path / "perf-report.md")
    assert (
        "Runtime: **container (Batch children and Lambdas run in podman containers"
        in (tmp_path / "perf-report.md").read_text()
    )
