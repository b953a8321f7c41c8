"""The CI/CD pipeline executes (issue 16): a git push to the stack's CodeCommit repository starts the
pipeline through the push rule (EventBridge -> CodePipeline), Source zips the commit into the artifact bucket
(SSE-KMS), Build runs deploy/buildspec-test.yml in CodeBuild (lint and the unit tests the stack's test
project selects), Deploy runs deploy/buildspec-deploy.yml (`nox -s deploy` of the stack's env, with its state
in S3, then CodeDeploy moving the `live` aliases). A failure stops the execution where it happened.

Each test pushes one commit of this checkout (tests/pipeline/pushes.py) and waits for the execution whose
source revision is that commit. The executions, their stages and durations go to build/pipeline/report.md,
which `nox -s pipeline` prints.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

import pytest

from harness.paths import BUILD
from tests.conftest import make_spec
from tests.pipeline import pushes

pytestmark = pytest.mark.live

EXECUTION_TIMEOUT_S = 420
REPORT = BUILD / "pipeline" / "report.md"
SELECTED_TEST = Path("tests/unit/core/test_lambdas.py")  # in envs/local's unit_test_selection
_executions: list[tuple[str, float, pushes.Execution]] = []
_timings: list[tuple[str, float]] = []


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


def _push_and_wait(stack, pipeline, work: Path, title: str, edit, watch_alias: str | None = None):
    """Push one commit and wait for its execution to end; with `watch_alias`, also the seconds from the push
    to that function's `live` alias moving (None if it never did)."""
    commit_id = pushes.commit(work, title, edit)
    watched = _live_versions(stack).get(watch_alias) if watch_alias else None
    pushed = pushes.push(work, stack, pipeline["branch"])
    codepipeline = stack.client("codepipeline")
    execution_id = pushes.execution_of(codepipeline, pipeline["name"], commit_id, timeout_s=60)
    moved = []

    def look() -> None:
        if watch_alias and not moved and _live_versions(stack)[watch_alias] != watched:
            moved.append(time.time() - pushed)

    execution = pushes.wait(
        codepipeline, pipeline["name"], execution_id, commit_id, EXECUTION_TIMEOUT_S, look
    )
    _executions.append((title, pushed, execution))
    if watch_alias:
        return execution, (moved[0] if moved else None)
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


def test_a_push_that_changes_a_lambda_goes_live(stack, pipeline, work, farm):
    """ValidateInput's handler returns one more field (and its unit test says so): Source, Build and Deploy
    succeed, CodeDeploy moves its `live` alias to the new version, and the next workflow run invokes it."""
    marker = f"pushed-{uuid.uuid4().hex[:12]}"
    function = stack["lambda_function_names"]["validate_input"]
    before = _live_versions(stack)

    def change_validate_input(tree: Path) -> None:
        handler = tree / "lambdas" / "validate_input" / "handler.py"
        handler.write_text(
            handler.read_text() + f"\n\n_validate = handler\n\n\ndef handler(event, context):\n"
            f'    return {{**_validate(event, context), "pipeline_marker": "{marker}"}}\n'
        )
        test = tree / SELECTED_TEST
        text = test.read_text()
        old = '    result = validate({"spec_uri": uri, "run_id": "run-42"}, None)\n'
        assert old in text, f"{SELECTED_TEST} changed: update the pipeline suite's edit"
        new = old + f'    assert result.pop("pipeline_marker") == "{marker}"\n'
        test.write_text(text.replace(old, new))

    execution, alias_live_s = _push_and_wait(
        stack,
        pipeline,
        work,
        "change what ValidateInput returns",
        change_validate_input,
        watch_alias=function,
    )

    results = execution.stage_results()
    assert execution.status == "Succeeded", results
    assert [results[s][0] for s in ("Source", "Build", "Deploy")] == ["Succeeded"] * 3, results
    source = execution.action("Source")
    artifact = source["output"]["outputArtifacts"][0]["s3location"]
    head = stack.client("s3").head_object(Bucket=artifact["bucket"], Key=artifact["key"])
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == stack["kms_key_arns"]["storage"], head["SSEKMSKeyId"]
    assert source["output"]["executionResult"]["externalExecutionId"] == execution.commit_id
    for action in ("LintAndUnitTests", "ApplyAndShiftAliases"):
        build = _build_of(stack, execution, action)
        assert (
            build["buildStatus"] == "SUCCEEDED" and build["initiator"] == f"codepipeline/{pipeline['name']}"
        )
        assert [p["phaseType"] for p in build["phases"]][-1] == "COMPLETED"

    after = _live_versions(stack)
    assert int(after[function]) > int(before[function]), (before, after)
    assert alias_live_s is not None, "the alias never moved while the execution ran"
    deployments = stack.client("codedeploy").list_deployments(
        applicationName=pipeline["codedeploy_application"],
        deploymentGroupName=pipeline["codedeploy_group"],
        includeOnlyStatuses=["Succeeded"],
    )["deployments"]
    assert deployments, "the alias must have moved through a CodeDeploy deployment"

    run = farm.run(make_spec("pipeline-live", 1, 2), "pipeline")
    assert run.state.status == "SUCCEEDED", run.state
    history = stack.client("stepfunctions").get_execution_history(
        executionArn=run.state.execution_arn, maxResults=1000
    )["events"]
    outputs = [e["taskSucceededEventDetails"]["output"] for e in history if e["type"] == "TaskSucceeded"]
    assert any(marker in output for output in outputs), "the next run must invoke the new ValidateInput"
    _timings.append(("push -> `live` alias of ValidateInput at the new version", alias_live_s))


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
    lines += ["", *(f"- {what}: {seconds:.1f} s" for what, seconds in _timings)]
    REPORT.parent.mkdir(parents=True, exist_ok=True)
    REPORT.write_text("\n".join(lines) + "\n")
