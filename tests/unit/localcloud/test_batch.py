"""Batch jobs run as local subprocesses: retries, timeouts, dependencies, crashes, events, EFS."""

from __future__ import annotations

import json
import time

from tests.unit.localcloud.conftest import CONCURRENCY, batch_events_queue, unique, wait_for

EXIT_ON_ATTEMPT = """
import os, sys
attempt = int(os.environ["AWS_BATCH_JOB_ATTEMPT"])
print("attempt", attempt)
sys.exit(0 if attempt >= 2 else 7)
"""


def test_retried_job_succeeds_on_attempt_two(batch_setup):
    script = batch_setup.script("retry", EXIT_ON_ATTEMPT)
    definition = batch_setup.job_definition(
        ["python", str(script)],
        retryStrategy={"attempts": 3, "evaluateOnExit": [{"onExitCode": "7", "action": "RETRY"}]},
    )
    job = batch_setup.wait_done(batch_setup.submit(definition))
    assert job["status"] == "SUCCEEDED"
    assert [a["container"]["exitCode"] for a in job["attempts"]] == [7, 0]
    assert job["attempts"][0]["statusReason"] == "Essential container in task exited"


def test_evaluate_on_exit_exit_action_stops_retrying(batch_setup):
    script = batch_setup.script("bad_spec", "import sys; sys.exit(65)")
    definition = batch_setup.job_definition(
        ["python", str(script)],
        retryStrategy={
            "attempts": 3,
            "evaluateOnExit": [{"onExitCode": "65", "action": "EXIT"}, {"onReason": "*", "action": "RETRY"}],
        },
    )
    job = batch_setup.wait_done(batch_setup.submit(definition))
    assert job["status"] == "FAILED"
    assert len(job["attempts"]) == 1


def test_timed_out_job_is_killed_with_its_children(batch_setup, tmp_path):
    marker = tmp_path / "grandchild-survived"
    script = batch_setup.script(
        "sleepy",
        "import subprocess, sys, time\n"
        f"code = 'import time; time.sleep(4); open(%r, \"w\")' % {str(marker)!r}\n"
        "subprocess.Popen([sys.executable, '-c', code])\n"
        "time.sleep(60)\n",
    )
    definition = batch_setup.job_definition(["python", str(script)], timeout={"attemptDurationSeconds": 1})
    started = time.monotonic()
    job = batch_setup.wait_done(batch_setup.submit(definition), timeout=30)
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "Job attempt duration exceeded timeout"
    assert time.monotonic() - started < 15
    assert job["attempts"][0]["container"]["exitCode"] == 137  # SIGKILL
    time.sleep(4.5)
    assert not marker.exists(), "the job's process tree was not killed"


def test_sequential_children_run_in_order(batch_setup, tmp_path):
    record = tmp_path / "order.txt"
    script = batch_setup.script(
        "seq",
        "import os, time\n"
        "i = os.environ['AWS_BATCH_JOB_ARRAY_INDEX']\n"
        f"open({str(record)!r}, 'a').write(i + ' start\\n'); time.sleep(0.2)\n"
        f"open({str(record)!r}, 'a').write(i + ' end\\n')\n",
    )
    definition = batch_setup.job_definition(["python", str(script)])
    job = batch_setup.wait_done(
        batch_setup.submit(definition, arrayProperties={"size": 3}, dependsOn=[{"type": "SEQUENTIAL"}])
    )
    assert job["status"] == "SUCCEEDED"
    assert record.read_text().split("\n")[:-1] == [
        f"{i} {what}" for i in range(3) for what in ("start", "end")
    ]


def test_n_to_n_child_waits_for_its_partner(batch_setup, tmp_path):
    record = tmp_path / "n2n.txt"
    script = batch_setup.script(
        "n2n",
        "import os, sys, time\n"
        "i = int(os.environ['AWS_BATCH_JOB_ARRAY_INDEX'])\n"
        "time.sleep(0.6 if sys.argv[1] == 'a' and i == 0 else 0)\n"
        f"open({str(record)!r}, 'a').write(sys.argv[1] + str(i) + '\\n')\n",
    )
    first = batch_setup.submit(
        batch_setup.job_definition(["python", str(script), "a"]), arrayProperties={"size": 2}
    )
    second = batch_setup.submit(
        batch_setup.job_definition(["python", str(script), "b"]),
        arrayProperties={"size": 2},
        dependsOn=[{"jobId": first, "type": "N_TO_N"}],
    )
    assert batch_setup.wait_done(second)["status"] == "SUCCEEDED"
    lines = record.read_text().split()
    assert lines.index("a0") < lines.index("b0") and lines.index("a1") < lines.index("b1")


def test_failed_dependency_fails_the_dependent_job(batch_setup):
    failing = batch_setup.submit(batch_setup.job_definition(["python", "-c", "raise SystemExit(2)"]))
    dependent = batch_setup.submit(
        batch_setup.job_definition(["python", "-c", "pass"]), dependsOn=[{"jobId": failing}]
    )
    job = batch_setup.wait_done(dependent)
    assert job["status"] == "FAILED" and job["statusReason"] == "Dependent Job failed"
    assert job["attempts"] == []


def test_crashed_processes_end_failed(batch_setup):
    missing = batch_setup.wait_done(batch_setup.submit(batch_setup.job_definition(["/nonexistent/program"])))
    assert missing["status"] == "FAILED"
    assert missing["attempts"][0]["container"]["reason"].startswith("CannotStartContainerError")
    segv = batch_setup.job_definition(
        ["python", "-c", "import os, signal; os.kill(os.getpid(), signal.SIGSEGV)"]
    )
    crashed = batch_setup.wait_done(batch_setup.submit(segv))
    assert crashed["status"] == "FAILED"
    assert crashed["container"]["exitCode"] == 139


def test_array_parent_fails_when_one_child_fails(batch_setup):
    script = batch_setup.script(
        "child_fails", "import os, sys; sys.exit(os.environ['AWS_BATCH_JOB_ARRAY_INDEX'] == '1')"
    )
    parent = batch_setup.wait_done(
        batch_setup.submit(batch_setup.job_definition(["python", str(script)]), arrayProperties={"size": 3})
    )
    assert parent["status"] == "FAILED"
    assert parent["arrayProperties"]["statusSummary"]["FAILED"] == 1
    assert parent["arrayProperties"]["statusSummary"]["SUCCEEDED"] == 2


def test_state_changes_reach_an_sqs_target_of_an_eventbridge_rule(cloud, batch_setup):
    sqs = cloud.client("sqs")
    queue_url = batch_events_queue(cloud, batch_setup.queue_name)
    job_id = batch_setup.submit(batch_setup.job_definition(["python", "-c", "print('ok')"]))
    assert batch_setup.wait_done(job_id)["status"] == "SUCCEEDED"

    seen: list[dict] = []

    def drain():
        for message in sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", []):
            seen.append(json.loads(message["Body"]))
        return {"SUCCEEDED"} <= {e["detail"]["status"] for e in seen if e["detail"]["jobId"] == job_id}

    wait_for(drain, timeout=20)
    mine = [e for e in seen if e["detail"]["jobId"] == job_id]
    # no dependencies, so no PENDING (AWS goes SUBMITTED -> RUNNABLE)
    assert [e["detail"]["status"] for e in mine] == [
        "SUBMITTED",
        "RUNNABLE",
        "STARTING",
        "RUNNING",
        "SUCCEEDED",
    ]
    assert all(e["source"] == "aws.batch" and e["resources"] == [e["detail"]["jobArn"]] for e in mine)
    assert mine[-1]["detail-type"] == "Batch Job State Change"


def test_array_children_run_in_parallel_up_to_the_slot_limit(batch_setup, tmp_path):
    script = batch_setup.script(
        "overlap",
        "import os, time\n"
        f"path = {str(tmp_path)!r} + '/' + os.environ['AWS_BATCH_JOB_ARRAY_INDEX']\n"
        "start = time.time(); time.sleep(1.0)\n"
        "open(path, 'w').write(f'{start} {time.time()}')\n",
    )
    job = batch_setup.wait_done(
        batch_setup.submit(batch_setup.job_definition(["python", str(script)]), arrayProperties={"size": 4})
    )
    assert job["status"] == "SUCCEEDED"
    spans = [tuple(map(float, p.read_text().split())) for p in tmp_path.iterdir()]
    moments = sorted({t for span in spans for t in span})
    overlap = max(sum(1 for s, e in spans if s <= m < e) for m in moments)
    assert overlap == CONCURRENCY


def test_terminate_kills_a_running_job(cloud, batch_setup):
    job_id = batch_setup.submit(batch_setup.job_definition(["python", "-c", "import time; time.sleep(120)"]))
    wait_for(lambda: batch_setup.describe(job_id)["status"] == "RUNNING", timeout=30)
    cloud.client("batch").terminate_job(jobId=job_id, reason="operator said so")
    job = batch_setup.wait_done(job_id, timeout=15)
    assert job["status"] == "FAILED" and job["statusReason"] == "operator said so"


def test_terminating_an_array_parent_stops_every_child_and_keeps_its_reason(cloud, batch_setup):
    """`farm cancel` terminates the parent: running children are killed, waiting ones never start, and the
    parent's statusReason is the reason given (the workflow routes a `farm-cancel:` reason to CANCELLED)."""
    definition = batch_setup.job_definition(["python", "-c", "import time; time.sleep(120)"])
    parent = batch_setup.submit(definition, arrayProperties={"size": CONCURRENCY + 3})
    wait_for(lambda: batch_setup.describe(f"{parent}:0")["status"] == "RUNNING", timeout=30)
    asked = time.monotonic()
    cloud.client("batch").terminate_job(jobId=parent, reason="farm-cancel: requested by farm cancel")
    job = batch_setup.wait_done(parent, timeout=20)
    assert time.monotonic() - asked < 10
    assert (job["status"], job["statusReason"]) == ("FAILED", "farm-cancel: requested by farm cancel")
    children = [batch_setup.describe(f"{parent}:{i}") for i in range(CONCURRENCY + 3)]
    assert {c["status"] for c in children} == {"FAILED"}
    assert [c for c in children if c.get("attempts") and c["attempts"][-1].get("exitCode") == 0] == []


def test_output_goes_to_cloudwatch_logs_with_aws_stream_names(cloud, batch_setup):
    logs = cloud.client("logs")
    plain = batch_setup.job_definition(
        ["python", "-c", "import sys; print('to stdout'); print('to stderr', file=sys.stderr)"]
    )
    job = batch_setup.wait_done(batch_setup.submit(plain))
    stream = job["container"]["logStreamName"]
    name = cloud.client("batch").describe_job_definitions(jobDefinitions=[plain])["jobDefinitions"][0][
        "jobDefinitionName"
    ]
    assert (
        stream.startswith(f"{name}/default/") and stream == job["attempts"][0]["container"]["logStreamName"]
    )
    events = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=stream)["events"]
    assert sorted(e["message"] for e in events) == ["to stderr", "to stdout"]

    group = unique("/aws/batch/custom")
    logs.create_log_group(logGroupName=group)
    custom = batch_setup.job_definition(
        ["python", "-c", "print('custom')"],
        container={
            "logConfiguration": {
                "logDriver": "awslogs",
                "options": {"awslogs-group": group, "awslogs-stream-prefix": "worker"},
            }
        },
    )
    stream = batch_setup.wait_done(batch_setup.submit(custom))["container"]["logStreamName"]
    assert stream.startswith("worker/default/")
    assert [
        e["message"] for e in logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
    ] == ["custom"]


def test_output_of_a_running_job_is_in_cloudwatch_before_it_ends(cloud, batch_setup):
    definition = batch_setup.job_definition(
        ["python", "-c", "import time; print('early', flush=True); time.sleep(5)"]
    )
    job_id = batch_setup.submit(definition)
    logs = cloud.client("logs")

    def early_line_visible():
        job = batch_setup.describe(job_id)
        stream = job["container"].get("logStreamName")
        if job["status"] != "RUNNING" or not stream:
            return False
        try:
            events = logs.get_log_events(logGroupName="/aws/batch/job", logStreamName=stream)["events"]
        except logs.exceptions.ResourceNotFoundException:
            return False
        return [e["message"] for e in events] == ["early"]

    wait_for(early_line_visible, timeout=20)
    assert batch_setup.wait_done(job_id)["status"] == "SUCCEEDED"
