"""A run's scratch clean-up (`python -m render_worker cleanup`): removes exactly the run's directory, is
idempotent, and refuses run ids that are not ones, symlinks and anything that is not a run directory."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from render_worker import cleanup, scratch
from render_worker.__main__ import program

from .conftest import ROOT


def run_with_scratch(root: Path, run_id: str) -> Path:
    """A run directory as the children leave it: cached spec, validity stamp, progress records."""
    scratch.cached_spec(root, run_id, lambda: b'{"catalog_id": "x"}')
    scratch.stamp_valid(root, run_id, b'{"catalog_id": "x"}', "validator-1")
    for child in ("child-00000", "child-00001"):
        log = scratch.ProgressLog(root, run_id, child)
        log.append(0, "a" * 64, 123)
        log.close()
    return root / run_id


def sizes(path: Path) -> tuple[int, int]:
    files = [p for p in path.rglob("*") if p.is_file()]
    return len(files), sum(p.stat().st_size for p in files)


def test_removes_the_run_directory_and_leaves_other_runs(tmp_path):
    ours, other = run_with_scratch(tmp_path, "run-1"), run_with_scratch(tmp_path, "run-2")
    before = sizes(ours)
    removed = scratch.remove_run(tmp_path, "run-1")
    assert removed.existed and (removed.files, removed.bytes) == before == (4, before[1])
    assert removed.path == tmp_path.resolve() / "run-1"
    assert not ours.exists()
    assert sizes(other) == before and (other / "progress" / "child-00001.done").is_file()


def test_a_missing_directory_is_nothing_to_do_so_a_retry_succeeds(tmp_path):
    run_with_scratch(tmp_path, "run-1")
    assert scratch.remove_run(tmp_path, "run-1").existed
    again = scratch.remove_run(tmp_path, "run-1")
    assert (again.existed, again.files, again.bytes) == (False, 0, 0)
    assert scratch.remove_run(tmp_path / "never-mounted", "run-1").existed is False


@pytest.mark.parametrize(
    "run_id", ["..", ".", "../run-2", "run-1/../run-2", "/etc", "", "run-1\n", "-x", "a" * 81]
)
def test_refuses_what_is_not_a_run_id(tmp_path, run_id):
    other = run_with_scratch(tmp_path, "run-2")
    with pytest.raises(scratch.UnsafeScratch):
        scratch.remove_run(tmp_path / "run-1", run_id)  # `..` from here would be tmp_path itself
    with pytest.raises(scratch.UnsafeScratch):
        scratch.remove_run(tmp_path, run_id)
    assert sizes(other)[0] == 4


def test_refuses_a_run_directory_that_is_a_symlink(tmp_path):
    victim = run_with_scratch(tmp_path / "elsewhere", "precious")
    root = tmp_path / "scratch"
    root.mkdir()
    (root / "run-1").symlink_to(victim, target_is_directory=True)
    with pytest.raises(scratch.UnsafeScratch, match="symlink"):
        scratch.remove_run(root, "run-1")
    assert sizes(victim)[0] == 4 and (root / "run-1").is_symlink()


def test_refuses_a_run_path_that_is_not_a_directory(tmp_path):
    (tmp_path / "run-1").write_text("not a run directory")
    with pytest.raises(scratch.UnsafeScratch, match="not a directory"):
        scratch.remove_run(tmp_path, "run-1")
    assert (tmp_path / "run-1").read_text() == "not a run directory"


def test_links_inside_the_run_are_removed_never_followed(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    run = run_with_scratch(tmp_path / "scratch", "run-1")
    (run / "link-to-dir").symlink_to(outside, target_is_directory=True)
    (run / "progress" / "link-to-file").symlink_to(outside / "keep.txt")
    removed = scratch.remove_run(tmp_path / "scratch", "run-1")
    assert removed.files == 6 and not run.exists()
    assert (outside / "keep.txt").read_text() == "keep"


def test_a_scratch_root_reached_through_a_symlink_is_fine(tmp_path):
    real = tmp_path / "efs"
    run = run_with_scratch(real, "run-1")
    (tmp_path / "mnt").symlink_to(real, target_is_directory=True)
    assert scratch.remove_run(tmp_path / "mnt", "run-1").existed and not run.exists()


# ---- the program: exit codes and its one log line --------------------------------------------------------


def last_log(capsys) -> dict:
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert len(lines) == 1, lines
    return json.loads(lines[0])


def test_the_program_logs_what_it_removed(tmp_path, capsys):
    run = run_with_scratch(tmp_path, "run-1")
    files, size = sizes(run)
    assert cleanup.run({"RUN_ID": "run-1", "SCRATCH_DIR": str(tmp_path)}) == cleanup.EXIT_OK
    record = last_log(capsys)
    assert (record["message"], record["files"], record["bytes"]) == ("scratch removed", files, size)
    assert record["correlation_id"] == "run-1" and record["path"] == str(tmp_path.resolve() / "run-1")
    assert cleanup.run({"RUN_ID": "run-1", "SCRATCH_DIR": str(tmp_path)}) == cleanup.EXIT_OK
    assert last_log(capsys)["message"] == "no scratch to remove"


@pytest.mark.parametrize(
    "env",
    [
        {"RUN_ID": "../run-2"},
        {"RUN_ID": ""},
        {},
        {"RUN_ID": "run-2", "SCRATCH_DIR": ""},  # never a default location: it would delete blind
    ],
)
def test_the_program_refuses_without_retrying(tmp_path, capsys, env):
    other = run_with_scratch(tmp_path, "run-2")
    assert cleanup.run({"SCRATCH_DIR": str(tmp_path), **env}) == cleanup.EXIT_REFUSED
    assert last_log(capsys)["message"] == "scratch not removed"
    assert sizes(other)[0] == 4


def test_a_failed_removal_exits_1_so_batch_retries(tmp_path, capsys, monkeypatch):
    run_with_scratch(tmp_path, "run-1")

    def fail(path):
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(scratch.shutil, "rmtree", fail)
    assert cleanup.run({"RUN_ID": "run-1", "SCRATCH_DIR": str(tmp_path)}) == cleanup.EXIT_FAILED
    assert "PermissionError" in last_log(capsys)["error"]


# ---- the entry point: the workflow's command, as the local cloud and a container pass it ----------------


@pytest.mark.parametrize(
    ("args", "chosen"),
    [
        ([], "render_worker.worker"),
        (["cleanup"], "render_worker.cleanup"),
        (["clean"], None),
        (["cleanup", "now"], None),
        # no ENTRYPOINT: the command replaces CMD, so a repeated `python -m render_worker` is not ours
        (["python", "-m", "render_worker"], None),
        (["python", "-m", "render_worker", "cleanup"], None),
    ],
)
def test_the_entry_point_picks_the_program(args, chosen):
    found = program(args)
    assert (found and found.__module__) == chosen


def test_the_workflow_command_runs_the_clean_up(tmp_path):
    """`python -m render_worker cleanup` as a process, with the command the state machine submits."""
    template = json.loads((ROOT / "modules" / "workflow" / "templates" / "render.asl.json").read_text())
    command = template["States"]["CleanUpScratch"]["Parameters"]["ContainerOverrides"]["Command"]
    assert command[:3] == ["python", "-m", "render_worker"]
    run = run_with_scratch(tmp_path, "run-1")
    env = {**os.environ, "RUN_ID": "run-1", "SCRATCH_DIR": str(tmp_path), "PYTHONPATH": str(ROOT / "worker")}
    done = subprocess.run([sys.executable, *command[1:]], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stderr)["message"] == "scratch removed" and not run.exists()
    usage = subprocess.run(
        [sys.executable, "-m", "render_worker", "nope"], env=env, capture_output=True, timeout=60
    )
    assert usage.returncode == 2


def test_each_attempt_has_its_own_scratch_and_clean_up(tmp_path, capsys):
    """A rerun (attempt N) works in `<run_id>.r<N>`: the first attempt's late clean-up never touches it."""
    first, rerun = run_with_scratch(tmp_path, "run-1"), run_with_scratch(tmp_path, "run-1.r2")
    env = {"RUN_ID": "run-1", "SCRATCH_DIR": str(tmp_path)}
    assert cleanup.run(env) == cleanup.EXIT_OK and not first.exists() and rerun.exists()
    assert last_log(capsys)["path"] == str(tmp_path.resolve() / "run-1")
    assert cleanup.run({**env, "FARM_ATTEMPT": "2"}) == cleanup.EXIT_OK and not rerun.exists()
    assert last_log(capsys)["path"] == str(tmp_path.resolve() / "run-1.r2")


@pytest.mark.parametrize("attempt", ["0", "x", "10000", "-1"])
def test_a_bad_attempt_is_refused(tmp_path, capsys, attempt):
    run = run_with_scratch(tmp_path, "run-1")
    assert cleanup.run({"RUN_ID": "run-1", "FARM_ATTEMPT": attempt, "SCRATCH_DIR": str(tmp_path)}) == 64
    assert "FARM_ATTEMPT" in last_log(capsys)["error"] and run.exists()
