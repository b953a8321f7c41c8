"""The CI/CD pipeline executes (issue 16): a git push to the stack's CodeCommit repository starts the
pipeline through the push rule (EventBridge -> CodePipeline), Source zips the commit into the artifact bucket
(SSE-KMS), Build runs deploy/buildspec-test.yml in CodeBuild (lint and the unit tests the stack's test
project selects), and a failure stops the execution before Deploy.

Each test pushes one commit of this checkout (tests/pipeline/pushes.py) and waits for the execution whose
source revision is that commit. The executions, their stages and durations go to build/pipeline/report.md,
which `nox -s pipeline` prints.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from harness.paths import BUILD
from tests.pipeline import pushes

pytestmark = pytest.mark.live

EXECUTION_TIMEOUT_S = 420
REPORT = BUILD / "pipeline" / "report.md"
SELECTED_TEST = Path("tests/unit/core/test_lambdas.py")  # in envs/local's unit_test_selection
_executions: list[tuple[str, float, pushes.Execution]] = []


@pytest.fixture(scope="module")
def pipeline(stack):
    found = stack["pipeline"]
    if not found:
        pytest.skip("this stack has no pipeline (enable_pipeline = false)")
    yield found
    _write_report(stack)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("pipeline-push") / "repo"


def _live_versions(stack) -> dict[str, str]:
    lam = stack.client("lambda")
    return {
        name: lam.get_alias(FunctionName=name, Name="live")["FunctionVersion"]
        for name in stack["lambda_function_names"].values()
    }


def _push_and_wait(stack, pipeline, work: Path, title: str, edit) -> pushes.Execution:
    commit_id = pushes.commit(work, title, edit)
    pushed = pushes.push(work, stack, pipeline["branch"])
    codepipeline = stack.client("codepipeline")
    execution_id = pushes.execution_of(codepipeline, pipeline["name"], commit_id, timeout_s=60)
    execution = pushes.wait(codepipeline, pipeline["name"], execution_id, commit_id, EXECUTION_TIMEOUT_S)
    _executions.append((title, pushed, execution))
    return execution


def _build_of(stack, execution: pushes.Execution, action: str) -> dict:
    details = execution.action(action)
    assert details, f"{action} never ran in {execution.execution_id}"
    build_id = details["output"]["executionResult"]["externalExecutionId"]
    return stack.client("codebuild").batch_get_builds(ids=[build_id])["builds"][0]


def _build_log(stack, build: dict) -> str:
    logs = stack.client("logs")
    group, stream = build["logs"]["groupName"], build["logs"]["streamName"]
    events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)["events"]
    return "\n".join(e["message"] for e in events)


def test_a_push_that_breaks_a_unit_test_fails_at_build_and_deploys_nothing(stack, pipeline, work):
    before = _live_versions(stack)

    def break_a_test(tree: Path) -> None:
        path = tree / SELECTED_TEST
        path.write_text(
            path.read_text() + "\n\ndef test_broken_by_the_pipeline_suite():\n"
            "    assert 1 == 2, 'broken on purpose by tests/pipeline'\n"
        )

    execution = _push_and_wait(stack, pipeline, work, "break a unit test", break_a_test)

    assert execution.status == "Failed"
    assert execution.trigger.get("triggerType") == "CloudWatchEvent", execution.trigger
    results = execution.stage_results()
    assert results["Source"][0] == "Succeeded" and results["Build"][0] == "Failed", results
    assert "Deploy" not in results, "a failed Build must stop the execution before Deploy"

    build = _build_of(stack, execution, "LintAndUnitTests")
    assert build["buildStatus"] == "FAILED"
    phases = {p["phaseType"]: p.get("phaseStatus") for p in build["phases"]}
    assert phases["BUILD"] == "FAILED" and phases["DOWNLOAD_SOURCE"] == "SUCCEEDED", phases
    assert build["sourceVersion"] == execution.commit_id or build.get("resolvedSourceVersion")
    log = _build_log(stack, build)
    assert "test_broken_by_the_pipeline_suite" in log and "broken on purpose" in log, log[-3000:]
    assert _live_versions(stack) == before, "a failed execution must leave the live aliases alone"


def test_a_good_push_passes_source_and_build(stack, pipeline, work):
    def touch_readme(tree: Path) -> None:
        readme = tree / "README.md"
        readme.write_text(readme.read_text() + f"\n<!-- pushed by tests/pipeline at {time.time():.0f} -->\n")

    execution = _push_and_wait(stack, pipeline, work, "a harmless change", touch_readme)

    results = execution.stage_results()
    assert results["Source"][0] == "Succeeded" and results["Build"][0] == "Succeeded", results

    source = execution.action("Source")
    artifact = source["output"]["outputArtifacts"][0]["s3location"]
    head = stack.client("s3").head_object(Bucket=artifact["bucket"], Key=artifact["key"])
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == stack["kms_key_arns"]["storage"], head["SSEKMSKeyId"]
    assert source["output"]["executionResult"]["externalExecutionId"] == execution.commit_id

    build = _build_of(stack, execution, "LintAndUnitTests")
    assert build["buildStatus"] == "SUCCEEDED"
    assert build["initiator"] == f"codepipeline/{pipeline['name']}"
    phases = [p["phaseType"] for p in build["phases"]]
    assert phases[:3] == ["SUBMITTED", "QUEUED", "PROVISIONING"] and phases[-1] == "COMPLETED", phases
    log = _build_log(stack, build)
    assert "passed" in log and "test_lambdas.py" in log, log[-3000:]


def _write_report(stack) -> None:
    if not _executions:
        return
    pipeline = stack["pipeline"]
    lines = [
        "# Pipeline executions (tests/pipeline)",
        "",
        f"Stack: {stack.env}, pipeline `{pipeline['name']}`, branch `{pipeline['branch']}`.",
        "",
        "| push | commit | execution | status | push -> end | stages (status, seconds) |",
        "|---|---|---|---|---|---|",
    ]
    for title, pushed, execution in _executions:
        stages = ", ".join(
            f"{name} {status} {seconds:.1f} s"
            for name, (status, seconds) in execution.stage_results().items()
        )
        lines.append(
            f"| {title} | `{execution.commit_id[:10]}` | `{execution.execution_id}` | {execution.status} "
            f"| {execution.ended - pushed:.1f} s | {stages} |"
        )
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")
