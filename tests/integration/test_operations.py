"""The operator's commands on the deployed stack, through the `farm` CLI (farm.remote on farm.client):
rerun only what is missing, cancel, a SKU's log, list, and a fetch that resumes.

The rerun case: one child's slice holds FAILONCE- SKUs (test hook: they fail on a run's first attempt, on
every Batch retry, and render on a rerun), so the first attempt FAILS with those variants missing and
`farm rerun` renders exactly them, as attempt 2, into the same prefix.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections import Counter

import pytest

from tests.conftest import LIVE_TIMEOUT, flat_variants, make_spec
from tests.integration import checks

pytestmark = pytest.mark.live

PRODUCTS, PER_PRODUCT, PER_CHILD = 40, 10, 100  # 400 variants, 4 children
FAIL_ONCE = (205, 250, 299)  # all in child 2's slice [200, 300)
CANCEL_VARIANTS, CANCEL_PER_CHILD = 1000, 10  # 100 children: far more than run at once
ACTIVE = {"SUBMITTED", "PENDING", "RUNNABLE", "STARTING", "RUNNING"}


@pytest.fixture(scope="module")
def rerun_case(farm, stack):
    if not stack.outputs.get("test_hooks_enabled"):
        pytest.skip("the FAILONCE- hook needs a stack with test hooks (envs/local)")
    spec = make_spec(
        "rerun", PRODUCTS, PER_PRODUCT, variants_per_child=PER_CHILD, fail_once_flat_indexes=FAIL_ONCE
    )
    first = farm.run(spec, "rerun")
    return {"spec": spec, "run_id": first.run_id, "first": first.state}


def test_a_failed_run_leaves_only_the_failing_variants_missing(farm, rerun_case):
    first = rerun_case["first"]
    assert first.status == "FAILED", f"{first.status}: {first.error}"
    assert first.children_failed == 1
    missing, total, published = farm.client.missing_variants(
        {**first.validated, "run_id": rerun_case["run_id"]}
    )
    assert total == PRODUCTS * PER_PRODUCT and not published
    assert set(FAIL_ONCE) <= set(missing) and set(missing) <= set(range(200, 300)), missing
    rerun_case["missing"] = missing
    (message,) = farm.failure(rerun_case["run_id"])
    assert message["status"] == "FAILED"


def test_logs_of_a_failed_run_show_the_failed_child(farm, rerun_case):
    shown = farm.cli("logs", rerun_case["run_id"])
    assert shown.returncode == 0, shown.stderr
    assert f":{2} (attempt 1, FAILED)" in shown.stdout, shown.stdout
    assert "FAILONCE-" in shown.stdout  # the hook's failure, as the child logged it


def test_rerun_renders_only_the_missing_variants_as_attempt_2(farm, stack, rerun_case, manifest_validator):
    run_id, missing = rerun_case["run_id"], rerun_case.get("missing")
    assert missing, "the failed first attempt was not checked"
    started = time.monotonic()
    shown = farm.cli("rerun", run_id, "--wait", "--timeout", str(LIVE_TIMEOUT))
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert f"attempt 2 renders the {len(missing)} of {PRODUCTS * PER_PRODUCT} variants that are missing" in (
        shown.stdout
    )
    assert f"run {run_id}.r2: SUCCEEDED" in shown.stdout
    rerun_case["rerun_seconds"] = time.monotonic() - started
    print(f"farm rerun --wait: {len(missing)} variants as attempt 2 in {rerun_case['rerun_seconds']:.1f} s")

    # Every variant present, and each SVG written once: the bucket is versioned, so a re-render of a variant
    # the first attempt had stored would be a second version.
    versions = Counter()
    paginator = stack.client("s3").get_paginator("list_object_versions")
    for page in paginator.paginate(Bucket=stack["renders_bucket"], Prefix=f"{run_id}/"):
        versions.update(v["Key"] for v in page.get("Versions", []) if v["Key"].endswith(".svg"))
    expected = {f"{run_id}/{row['key']}" for row in flat_variants(rerun_case["spec"])}
    assert set(versions) == expected
    assert [key for key, count in versions.items() if count != 1] == []

    # What attempt 2 rendered, by its part records: exactly the missing variants.
    records = [k for k in farm.keys(run_id) if k.startswith("_parts/r2/")]
    rendered = sorted(v["index"] for k in records for v in json.loads(farm.get(run_id, k))["variants"])
    assert rendered == sorted(missing)

    manifest = json.loads(farm.get(run_id, "manifest.json"))
    assert not list(manifest_validator.iter_errors(manifest))
    attempts = {a["attempt"]: a for a in manifest["attempts"]}
    assert attempts[2]["rendered"] == len(missing)
    assert attempts[1]["rendered"] == PRODUCTS * PER_PRODUCT - len(missing)
    assert len(manifest["variants"]) == PRODUCTS * PER_PRODUCT

    # One completion message, naming the attempt; the first attempt's one failure message, no other.
    completions = farm.notifications.wait_for(run_id, quiet=checks.QUIET_SECONDS)
    assert [(m["status"], m.get("attempt"), m.get("rendered")) for m in completions] == [
        ("SUCCEEDED", 2, len(missing))
    ]
    assert len(farm.failures.wait_for(run_id, quiet=checks.QUIET_SECONDS)) == 1


def test_a_rerun_of_a_complete_run_does_nothing(farm, rerun_case):
    assert "rerun_seconds" in rerun_case, "the rerun did not succeed"
    shown = farm.cli("rerun", rerun_case["run_id"])
    assert shown.returncode == 0, shown.stderr
    assert f"run {rerun_case['run_id']} is complete: {PRODUCTS * PER_PRODUCT} variants, nothing to do" in (
        shown.stdout
    )
    assert farm.client.attempts(rerun_case["run_id"]) == 2


def test_logs_of_a_sku_show_the_child_that_rendered_it(farm, rerun_case):
    """A FAILONCE SKU was rendered by attempt 2; any other by the first attempt's child of its slice."""
    rows = flat_variants(rerun_case["spec"])
    for flat, attempt in ((FAIL_ONCE[0], 2), (17, 1)):
        sku = rows[flat]["variant"]["sku"]
        shown = farm.cli("logs", rerun_case["run_id"], "--sku", sku)
        assert shown.returncode == 0, shown.stderr
        assert f"(attempt {attempt}, SUCCEEDED)" in shown.stdout, shown.stdout
        slices = [
            json.loads(line)
            for line in shown.stdout.splitlines()
            if line.startswith("{") and '"rendering slice"' in line
        ]
        assert slices, shown.stdout
        assert any(s["first"] <= flat < s["stop"] for s in slices), slices
    unknown = farm.cli("logs", rerun_case["run_id"], "--sku", "NO-SUCH-SKU")
    assert unknown.returncode == 3 and "NO-SUCH-SKU" in unknown.stderr


@pytest.fixture(scope="module")
def cancelled(farm, stack):
    """A 1,000-variant run of 100 children, cancelled once two children have finished."""
    spec = make_spec("cancel", 100, 10, variants_per_child=CANCEL_PER_CHILD)
    run_id = farm.new_run_id("cancel")
    farm.start(farm.upload(run_id, spec), run_id)
    deadline = time.monotonic() + LIVE_TIMEOUT
    while True:
        state = farm.client.status(run_id)
        if state.finished or state.children_done >= 2:
            break
        assert time.monotonic() < deadline, f"run {run_id} never got going: {state}"
        time.sleep(0.5)
    assert not state.finished, "the run ended before it could be cancelled: make it longer"
    asked = time.time()
    shown = farm.cli("cancel", run_id)  # returns once the execution has ended
    answered = time.time() - asked
    # Every child has stopped (SUCCEEDED before the cancel, or FAILED: terminated or never started).
    children = [f"{state.job_id}:{i}" for i in range(CANCEL_VARIANTS // CANCEL_PER_CHILD)]
    batch = stack.client("batch")
    while True:
        jobs = [j for first in range(0, len(children), 100)
                for j in batch.describe_jobs(jobs=children[first : first + 100])["jobs"]]  # fmt: skip
        active = [j["jobId"] for j in jobs if j["status"] in ACTIVE]
        if not active:
            break
        assert time.time() - asked < 60, f"{len(active)} children still active after 60 s: {active[:5]}"
        time.sleep(0.2)
    last_stop = max(j["stoppedAt"] / 1000 for j in jobs if j.get("stoppedAt"))
    stopped_s = last_stop - asked
    print(f"farm cancel: the last child of {run_id} stopped {stopped_s:.1f} s after the command started; "
          f"the command returned after {answered:.1f} s (the execution had ended)")  # fmt: skip
    return {"run_id": run_id, "shown": shown, "stopped_s": stopped_s, "jobs": jobs}


def test_cancel_stops_every_child_within_seconds(cancelled):
    shown = cancelled["shown"]
    assert shown.returncode == 0, shown.stdout + shown.stderr
    assert f"run {cancelled['run_id']}: CANCELLED" in shown.stdout
    assert cancelled["stopped_s"] < 10, f"children ran on for {cancelled['stopped_s']:.1f} s after the cancel"
    statuses = Counter(j["status"] for j in cancelled["jobs"])
    assert statuses["FAILED"] > 0 and statuses["SUCCEEDED"] >= 2, statuses


def test_cancel_ends_in_one_cancelled_message_and_no_manifest(farm, cancelled, notification_validator):
    run_id = cancelled["run_id"]
    state = farm.client.status(run_id)
    assert (state.shown_status, state.error) == ("CANCELLED", "RenderFailed.Cancelled")
    found = farm.failures.wait_for(run_id, quiet=checks.QUIET_SECONDS)
    assert [m["status"] for m in found] == ["CANCELLED"], found
    assert not list(notification_validator.iter_errors(found[0]))
    assert farm.notifications.wait_for(run_id, until=lambda _: True, quiet=checks.QUIET_SECONDS) == []
    assert "manifest.json" not in farm.keys(run_id) and "index.html" not in farm.keys(run_id)
    again = farm.cli("cancel", run_id)
    assert (
        again.returncode == 0
        and f"run {run_id} had already ended CANCELLED: nothing to cancel" in again.stdout
    )


def test_ls_shows_both_runs(farm, rerun_case, cancelled):
    shown = farm.cli("ls", "--limit", "200")
    assert shown.returncode == 0, shown.stderr
    lines = {line.split()[0]: line.split() for line in shown.stdout.splitlines()[1:]}
    run, cancel = rerun_case["run_id"], cancelled["run_id"]
    assert lines[run][1:4] == ["rerun", str(PRODUCTS * PER_PRODUCT), "FAILED"], lines[run]
    rerun = lines[f"{run}.r2"]  # the rerun's own line: the variants it rendered
    assert rerun[1:4] == ["rerun", str(len(rerun_case["missing"])), "SUCCEEDED"], rerun
    assert lines[cancel][1:4] == ["cancel", str(CANCEL_VARIANTS), "CANCELLED"], lines[cancel]


def test_fetch_interrupted_and_restarted_downloads_each_object_once(farm, rerun_case, tmp_path):
    run_id, out = rerun_case["run_id"], tmp_path / "fetched"
    journal = out / ".farm-fetch.jsonl"
    objects = [k for k in farm.keys(run_id) if not k.startswith(("_parts/", "_progress/"))]
    interrupted = subprocess.Popen(
        [sys.executable, "-m", "farm.cli", "fetch", run_id, "--out", str(out), "--workers", "1"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=farm.cli_env,
    )
    deadline = time.monotonic() + 60
    while not (journal.is_file() and len(journal.read_text().splitlines()) >= 20):
        assert interrupted.poll() is None, "fetch ended before it could be interrupted"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    interrupted.send_signal(signal.SIGINT)
    _out, err = interrupted.communicate(timeout=60)
    assert interrupted.returncode == 130, err
    assert "run the same command again to resume" in err
    first = len(journal.read_text().splitlines())
    assert 20 <= first < len(objects)

    resumed = farm.cli("fetch", run_id, "--out", str(out))
    assert resumed.returncode == 0, resumed.stderr
    assert f"(downloaded {len(objects) - first}, already there {first})" in resumed.stdout
    logged = [json.loads(line)["key"] for line in journal.read_text().splitlines()]
    assert sorted(logged) == sorted(objects)  # each object downloaded (and logged) exactly once
    assert not list(out.rglob("*.part"))
    for key in objects:
        assert (out / key).read_bytes() == farm.get(run_id, key), key


def test_fetch_shows_progress_lines_in_a_log(farm, rerun_case, tmp_path):
    shown = farm.cli("fetch", rerun_case["run_id"], "--out", str(tmp_path / "again"))
    assert shown.returncode == 0, shown.stderr
    progress = [line for line in shown.stdout.splitlines() if f"fetch {rerun_case['run_id']}" in line]
    total = PRODUCTS * PER_PRODUCT + 2  # the SVGs, manifest.json and index.html
    assert progress and progress[-1].endswith(f"{total}/{total} objects"), progress
