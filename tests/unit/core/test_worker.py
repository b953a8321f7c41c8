"""The Batch worker: slices, SSE-KMS uploads, part records, exit codes, the crash and drop hooks, the spec
version it is given, and resume after a child is killed (a real subprocess, SIGKILLed mid-slice)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from render_worker import scratch, worker
from render_worker.render import digest

from .conftest import ROOT, generated_spec


def worker_env(tmp_path: Path, **extra) -> dict[str, str]:
    env = {
        "SPEC_URI": "s3://specs/catalog.json",
        "RUN_ID": "run-1",
        "OUTPUT_URI": "s3://renders/run-1/",
        "SCRATCH_DIR": str(tmp_path / "scratch"),
        "UPLOAD_CONCURRENCY": "4",
    }
    env.update({k: str(v) for k, v in extra.items()})
    return env


def put_spec(s3, doc) -> None:
    s3.put_object(Bucket="specs", Key="catalog.json", Body=json.dumps(doc).encode())


def keys(s3, prefix="run-1/") -> list[str]:
    return sorted(o["Key"] for o in s3.list_objects_v2(Bucket="renders", Prefix=prefix).get("Contents", []))


def test_a_child_renders_its_slice_with_sse_kms_and_writes_its_part_record(cloud, tmp_path):
    s3, key_id = cloud
    put_spec(s3, generated_spec(3, 10))
    env = worker_env(tmp_path, VARIANTS_PER_CHILD=12, AWS_BATCH_JOB_ARRAY_INDEX=1, OUTPUT_KMS_KEY_ID=key_id)
    assert worker.run(env) == worker.EXIT_OK

    svgs = [k for k in keys(s3) if k.endswith(".svg")]
    assert len(svgs) == 12  # flat 12..23: product 1 variants 2..9, product 2 variants 0..3
    head = s3.head_object(Bucket="renders", Key=svgs[0])
    assert head["ContentType"] == "image/svg+xml"
    assert head["ServerSideEncryption"] == "aws:kms" and key_id in head["SSEKMSKeyId"]

    part = json.loads(s3.get_object(Bucket="renders", Key="run-1/_parts/child-00001.json")["Body"].read())
    assert part["child"] == "child-00001"
    assert [v["index"] for v in part["variants"]] == list(range(12, 24))
    first = part["variants"][0]
    assert first["key"] == "mug-enamel-0001/P0001-V00002.svg" and first["sku"] == "P0001-V00002"
    body = s3.get_object(Bucket="renders", Key=f"run-1/{first['key']}")["Body"].read()
    assert (first["bytes"], first["sha256"]) == (len(body), digest(body))

    lines = (tmp_path / "scratch/run-1/progress/child-00001.done").read_text().splitlines()
    assert sorted(int(line.split("\t")[0]) for line in lines) == list(range(12, 24))
    assert (tmp_path / "scratch/run-1/spec.json").exists()

    timing = part["timing"]  # the perf report's per-phase split reads it (docs/contracts.md)
    assert set(timing) == {"slice_started_at", "slice_ended_at", "setup_s", "render_s", "upload_wait_s"}
    assert 0 < timing["slice_ended_at"] - timing["slice_started_at"] < 60
    assert abs(time.time() - timing["slice_ended_at"]) < 60
    assert timing["render_s"] > 0 and timing["upload_wait_s"] > 0 and timing["setup_s"] > 0
    assert (
        timing["render_s"] + timing["upload_wait_s"] <= timing["slice_ended_at"] - timing["slice_started_at"]
    )


def test_a_plain_job_renders_everything(cloud, tmp_path, example_doc):
    s3, key_id = cloud
    put_spec(s3, example_doc)
    assert worker.run(worker_env(tmp_path, OUTPUT_KMS_KEY_ID=key_id)) == 0
    assert len([k for k in keys(s3) if k.endswith(".svg")]) == 8
    assert "run-1/_parts/plain.json" in keys(s3)


def test_the_cached_spec_is_used_by_later_children(cloud, tmp_path, example_doc):
    s3, _ = cloud
    put_spec(s3, example_doc)
    assert worker.run(worker_env(tmp_path, VARIANTS_PER_CHILD=4, AWS_BATCH_JOB_ARRAY_INDEX=0)) == 0
    s3.delete_object(Bucket="specs", Key="catalog.json")  # child 1 must not need S3 for the spec
    assert worker.run(worker_env(tmp_path, VARIANTS_PER_CHILD=4, AWS_BATCH_JOB_ARRAY_INDEX=1)) == 0
    assert len([k for k in keys(s3) if k.endswith(".svg")]) == 8


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        (None, "SpecNotFound"),
        (b"{not json", "SpecInvalid"),
        (json.dumps({"schema_version": "1.0"}).encode(), "/catalog_id: required property is missing"),
    ],
)
def test_a_bad_spec_exits_65(cloud, tmp_path, capsys, body, detail):
    s3, _ = cloud
    if body is not None:
        s3.put_object(Bucket="specs", Key="catalog.json", Body=body)
    assert worker.run(worker_env(tmp_path)) == worker.EXIT_BAD_SPEC
    assert detail in capsys.readouterr().err
    assert keys(s3) == []
    assert not (tmp_path / "scratch/run-1/spec.json").exists()  # an invalid spec is not kept


def test_a_spec_over_the_limit_exits_65(cloud, tmp_path, example_doc):
    s3, _ = cloud
    put_spec(s3, example_doc)
    assert worker.run(worker_env(tmp_path, MAX_SPEC_BYTES=100)) == worker.EXIT_BAD_SPEC


@pytest.mark.parametrize(
    "change", [{"RUN_ID": "bad/run"}, {"RUN_ID": ""}, {"OUTPUT_URI": "http://x"}, {"VARIANTS_PER_CHILD": "x"}]
)
def test_a_broken_environment_exits_1(cloud, tmp_path, example_doc, change):
    s3, _ = cloud
    put_spec(s3, example_doc)
    assert worker.run({**worker_env(tmp_path), **change}) == worker.EXIT_FAILED


def test_crash_hook_renders_the_rest_then_exits_1(cloud, tmp_path, example_doc):
    s3, _ = cloud
    example_doc["products"][0]["variants"][1]["sku"] = "CRASH-TEE"
    put_spec(s3, example_doc)
    env = worker_env(tmp_path, FARM_TEST_HOOKS=1)
    assert worker.run(env) == worker.EXIT_FAILED
    svgs = [k for k in keys(s3) if k.endswith(".svg")]
    assert len(svgs) == 7 and not any("CRASH" in k for k in svgs)
    # An incomplete child records what it did and what it could not do: a rerun renders only the rest.
    part = json.loads(s3.get_object(Bucket="renders", Key="run-1/_parts/plain.json")["Body"].read())
    assert [v["index"] for v in part["variants"]] == [0, 2, 3, 4, 5, 6, 7]
    assert (part["attempt"], part["failed"]) == (1, [1])
    # Without the hook the same SKU is an ordinary variant.
    assert worker.run(worker_env(tmp_path)) == worker.EXIT_OK
    part = json.loads(s3.get_object(Bucket="renders", Key="run-1/_parts/plain.json")["Body"].read())
    assert [v["index"] for v in part["variants"]] == list(range(8)) and part["failed"] == []


def test_drop_hook_records_but_does_not_upload_then_exits_0(cloud, tmp_path, example_doc):
    s3, _ = cloud
    example_doc["products"][0]["variants"][1]["sku"] = "DROP-TEE"
    put_spec(s3, example_doc)
    assert worker.run(worker_env(tmp_path, FARM_TEST_HOOKS=1)) == worker.EXIT_OK
    svgs = [k for k in keys(s3) if k.endswith(".svg")]
    assert len(svgs) == 7 and not any("DROP" in k for k in svgs)
    part = json.loads(s3.get_object(Bucket="renders", Key="run-1/_parts/plain.json")["Body"].read())
    assert "DROP-TEE" in [v["sku"] for v in part["variants"]]  # recorded as done: PublishResults must notice
    # Without the hook the same SKU is an ordinary variant (a fresh run: nothing resumed).
    env = worker_env(tmp_path, RUN_ID="run-2", OUTPUT_URI="s3://renders/run-2/")
    assert worker.run(env) == worker.EXIT_OK
    assert any("DROP-TEE" in k for k in keys(s3, "run-2/"))


def test_the_child_reads_the_spec_version_it_is_given(cloud, tmp_path, example_doc):
    s3, _ = cloud
    s3.put_bucket_versioning(Bucket="specs", VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket="specs", Key="catalog.json", Body=json.dumps(example_doc).encode())
    example_doc["products"] = example_doc["products"][:1]  # a later upload with fewer products
    put_spec(s3, example_doc)
    env = worker_env(tmp_path, SPEC_VERSION_ID=first["VersionId"])
    assert worker.run(env) == worker.EXIT_OK
    assert len([k for k in keys(s3) if k.endswith(".svg")]) == 8  # the validated version, not the latest
    env = worker_env(tmp_path, RUN_ID="run-2", OUTPUT_URI="s3://renders/run-2/", SPEC_VERSION_ID="nope")
    assert worker.run(env) in (worker.EXIT_BAD_SPEC, worker.EXIT_FAILED)  # never the latest instead


def test_progress_log_ignores_a_torn_line_and_appends_after_it(tmp_path):
    log = scratch.ProgressLog(tmp_path, "r", "child-00000")
    log.path.parent.mkdir(parents=True)
    sha = "a" * 64
    log.path.write_text(f"3\t{sha}\t10\n4\t{sha}\t1")  # killed while writing index 4
    assert log.read(range(0, 10)) == {3: (sha, 10)}
    assert log.read(range(4, 10)) == {}
    log.append(5, sha, 20)
    log.close()
    assert log.read(range(0, 10)) == {3: (sha, 10), 5: (sha, 20)}


def test_spec_cache_is_atomic_and_first_writer_wins(tmp_path):
    calls = []

    def fetch() -> bytes:
        calls.append(1)
        return b"{}"

    assert scratch.cached_spec(tmp_path, "r", fetch) == b"{}"
    assert scratch.cached_spec(tmp_path, "r", lambda: b"other") == b"{}"
    assert calls == [1]
    assert [p.name for p in (tmp_path / "r").iterdir()] == ["spec.json"]  # no temporary left behind


def _done_indexes(path: Path) -> list[int]:
    if not path.exists():
        return []
    return [int(line.split("\t")[0]) for line in path.read_text().split("\n")[:-1] if line.count("\t") == 2]


def test_a_killed_child_resumes_where_it_stopped(tmp_path, example_path):
    """Child 1 of a 3x30 spec (40 per child) is SIGKILLed mid-slice, then rerun: it skips what it did."""
    spec_path = tmp_path / "spec.json"
    spec_path.write_text(json.dumps(generated_spec(3, 30)))
    out = tmp_path / "out"
    env = {
        **os.environ,
        "SPEC_URI": spec_path.as_uri(),
        "RUN_ID": "resume-1",
        "OUTPUT_URI": (out / "resume-1").as_uri() + "/",
        "SCRATCH_DIR": str(tmp_path / "scratch"),
        "VARIANTS_PER_CHILD": "40",
        "AWS_BATCH_JOB_ARRAY_INDEX": "1",
        "UPLOAD_CONCURRENCY": "4",
        "FARM_TEST_HOOKS": "1",
        "FARM_TEST_RENDER_DELAY": "0.05",
        "PYTHONPATH": str(ROOT / "worker"),
    }
    progress = tmp_path / "scratch/resume-1/progress/child-00001.done"
    child = subprocess.Popen([sys.executable, "-m", "render_worker"], env=env, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while len(_done_indexes(progress)) < 10 and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.02)
    child.send_signal(signal.SIGKILL)
    child.wait(timeout=10)
    first = sorted(set(_done_indexes(progress)))
    assert child.returncode == -signal.SIGKILL
    assert 10 <= len(first) < 40, "the child must die mid-slice"
    assert not (out / "resume-1/_parts/child-00001.json").exists()
    done_files = {}
    for index in first:
        product, variant = divmod(index, 30)
        sku_path = next((out / "resume-1").glob(f"*-{product:04d}/P{product:04d}-V{variant:05d}.svg"))
        done_files[sku_path] = sku_path.stat().st_mtime_ns

    env.pop("FARM_TEST_RENDER_DELAY")
    rerun = subprocess.run([sys.executable, "-m", "render_worker"], env=env, capture_output=True, timeout=60)
    assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
    started = next(
        json.loads(line) for line in rerun.stderr.decode().splitlines() if "rendering slice" in line
    )
    assert started["already_done"] == len(first)
    finished = next(json.loads(line) for line in rerun.stderr.decode().splitlines() if "slice done" in line)
    assert finished["rendered"] == 40 - len(first) and finished["resumed"] == len(first)

    indexes = _done_indexes(progress)
    assert sorted(indexes) == list(range(40, 80)) and len(indexes) == 40  # nothing rendered twice
    for path, mtime in done_files.items():
        assert path.stat().st_mtime_ns == mtime  # finished variants were not rewritten
    part = json.loads((out / "resume-1/_parts/child-00001.json").read_text())
    assert [v["index"] for v in part["variants"]] == list(range(40, 80))
    for record in part["variants"]:
        body = (out / "resume-1" / record["key"]).read_bytes()
        assert digest(body) == record["sha256"] and len(body) == record["bytes"]


def test_later_children_trust_only_a_stamp_of_the_same_bytes(cloud, tmp_path, example_doc, monkeypatch):
    s3, _ = cloud
    put_spec(s3, example_doc)
    assert worker.run(worker_env(tmp_path, VARIANTS_PER_CHILD=3, AWS_BATCH_JOB_ARRAY_INDEX=0)) == 0
    stamp = (tmp_path / "scratch/run-1/spec.valid").read_text().split()
    assert stamp[0] == digest((tmp_path / "scratch/run-1/spec.json").read_bytes())

    from render_worker import spec as spec_module

    def must_not_validate(data):
        raise AssertionError("a stamped spec was validated again")

    with monkeypatch.context() as patch:
        patch.setattr(spec_module, "load_catalog", must_not_validate)
        assert worker.run(worker_env(tmp_path, VARIANTS_PER_CHILD=3, AWS_BATCH_JOB_ARRAY_INDEX=1)) == 0

    # Different bytes on scratch (corrupted, or a stale run directory) are validated afresh.
    (tmp_path / "scratch/run-1/spec.json").write_text('{"schema_version": "1.0"}')
    assert worker.run(worker_env(tmp_path, VARIANTS_PER_CHILD=3, AWS_BATCH_JOB_ARRAY_INDEX=2)) == 65
    assert not (tmp_path / "scratch/run-1/spec.valid").exists()


def test_a_variant_whose_progress_cannot_be_recorded_is_not_done(cloud, tmp_path, example_doc, monkeypatch):
    s3, _ = cloud
    put_spec(s3, example_doc)
    original = scratch.ProgressLog.append

    def flaky(self, index, sha, size):
        if index == 2:
            raise OSError(28, "No space left on device")
        original(self, index, sha, size)

    monkeypatch.setattr(scratch.ProgressLog, "append", flaky)
    assert worker.run(worker_env(tmp_path)) == worker.EXIT_FAILED
    part = json.loads(s3.get_object(Bucket="renders", Key="run-1/_parts/plain.json")["Body"].read())
    assert part["failed"] == [2] and 2 not in [v["index"] for v in part["variants"]]
