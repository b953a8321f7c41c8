"""Pushing this checkout to the stack's CodeCommit repository, and following the pipeline execution it starts.

A push is one commit holding the checkout's files as they are (tracked and untracked-but-not-ignored, so a
developer's uncommitted change is what gets built, and CI's clean clone is HEAD), plus the test's own edit,
force-pushed to the pipeline's branch: every session starts from the same tree whatever an earlier session
pushed. Git authenticates as the local cloud's admin with HTTP basic auth (access key id, secret) through a
credential helper reading the environment, so the secret never appears on a command line; on aws, the AWS
CLI's CodeCommit credential helper signs instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.paths import REPO

TERMINAL = {"Succeeded", "Failed", "Stopped", "Superseded"}
_HELPER_LOCAL = (
    '!f() { test "$1" = get && echo "username=$FARM_GIT_USER" && echo "password=$FARM_GIT_SECRET"; }; f'
)
_HELPER_AWS = "!aws codecommit credential-helper $@"


def snapshot(dest: Path) -> Path:
    """Copy the checkout's files (what `git ls-files -co --exclude-standard` lists and exists) into dest."""
    listed = subprocess.run(
        ["git", "-C", str(REPO), "ls-files", "-co", "--exclude-standard", "-z"],
        check=True,
        capture_output=True,
    ).stdout.decode()
    for name in filter(None, listed.split("\0")):
        source = REPO / name
        if not source.is_file() or source.is_symlink():
            continue
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
    return dest


def _git(work: Path, *args: str, env: dict[str, str] | None = None) -> str:
    proc = subprocess.run(
        ["git", "-C", str(work), *args], capture_output=True, text=True, env=env, check=False, timeout=300
    )
    if proc.returncode != 0:
        raise RuntimeError(f"git {args[0]} failed (exit {proc.returncode}): {proc.stderr.strip()[-2000:]}")
    return proc.stdout.strip()


def commit(work: Path, message: str, edit: Callable[[Path], None]) -> str:
    """A repository in `work` (made once) whose one new commit is the checkout's snapshot after `edit`."""
    if not (work / ".git").is_dir():
        work.mkdir(parents=True, exist_ok=True)
        _git(work, "init", "-q", "-b", "pipeline-test")
        _git(work, "config", "user.name", "tests/pipeline")
        _git(work, "config", "user.email", "pipeline@render-farm.invalid")
    for child in work.iterdir():
        if child.name != ".git":
            shutil.rmtree(child) if child.is_dir() else child.unlink()
    edit(snapshot(work))
    _git(work, "add", "-A")
    _git(work, "commit", "-q", "--allow-empty", "-m", message)
    return _git(work, "rev-parse", "HEAD")


def push(work: Path, stack, branch: str) -> float:
    """Force-push HEAD to `branch` of the stack's repository; returns time.time() when git returned."""
    pipeline = stack["pipeline"]
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0"}
    if stack.is_local:
        keys = stack.local_credentials()
        env.update(FARM_GIT_USER=keys["aws_access_key_id"], FARM_GIT_SECRET=keys["aws_secret_access_key"])
        helper = _HELPER_LOCAL
    else:
        helper = _HELPER_AWS
    url = pipeline["repository_clone_url"]
    args = [
        "-c",
        "credential.helper=",
        "-c",
        f"credential.helper={helper}",
        "-c",
        "credential.UseHttpPath=true",
    ]
    _git(work, *args, "push", "-q", url, f"+HEAD:refs/heads/{branch}", env=env)
    return time.time()


@dataclass
class Execution:
    """One pipeline execution, as the CodePipeline API reports it once it ended."""

    execution_id: str
    commit_id: str
    status: str
    trigger: dict[str, Any]
    started: float
    ended: float
    actions: list[dict[str, Any]] = field(default_factory=list)  # ListActionExecutions, oldest first

    def action(self, name: str) -> dict[str, Any] | None:
        found = [a for a in self.actions if a["actionName"] == name]
        return found[-1] if found else None

    def stage_results(self) -> dict[str, tuple[str, float]]:
        """Stage -> (status of its last action, seconds from its first action's start to its last's end)."""
        stages: dict[str, list[dict[str, Any]]] = {}
        for action in self.actions:
            stages.setdefault(action["stageName"], []).append(action)
        results = {}
        for stage, actions in stages.items():
            start = min(_epoch(a["startTime"]) for a in actions)
            end = max(_epoch(a["lastUpdateTime"]) for a in actions)
            results[stage] = (actions[-1]["status"], end - start)
        return results


def _epoch(value: Any) -> float:
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


def execution_of(codepipeline, pipeline_name: str, commit_id: str, timeout_s: float) -> str:
    """The id of the execution whose source revision is `commit_id` (started by the push's event)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for summary in codepipeline.list_pipeline_executions(pipelineName=pipeline_name)[
            "pipelineExecutionSummaries"
        ]:
            if any(r.get("revisionId") == commit_id for r in summary.get("sourceRevisions", [])):
                return summary["pipelineExecutionId"]
        time.sleep(1)
    raise TimeoutError(f"no execution of {pipeline_name} for commit {commit_id} after {timeout_s:.0f} s")


def wait(
    codepipeline,
    pipeline_name: str,
    execution_id: str,
    commit_id: str,
    timeout_s: float,
    each_poll: Callable[[], None] = lambda: None,
) -> Execution:
    """The execution once it ended; `each_poll` runs at every look (a test watching something meanwhile)."""
    deadline = time.monotonic() + timeout_s
    while True:
        each_poll()
        found = codepipeline.get_pipeline_execution(
            pipelineName=pipeline_name, pipelineExecutionId=execution_id
        )["pipelineExecution"]
        if found["status"] in TERMINAL:
            break
        if time.monotonic() > deadline:
            raise TimeoutError(f"execution {execution_id} still {found['status']} after {timeout_s:.0f} s")
        time.sleep(1)
    details = codepipeline.list_action_executions(
        pipelineName=pipeline_name, filter={"pipelineExecutionId": execution_id}
    )["actionExecutionDetails"]
    details.sort(key=lambda a: _epoch(a["startTime"]))
    summary = next(
        s
        for s in codepipeline.list_pipeline_executions(pipelineName=pipeline_name)[
            "pipelineExecutionSummaries"
        ]
        if s["pipelineExecutionId"] == execution_id
    )
    return Execution(
        execution_id=execution_id,
        commit_id=commit_id,
        status=found["status"],
        trigger=found.get("trigger", {}),
        started=_epoch(summary["startTime"]),
        ended=_epoch(summary["lastUpdateTime"]),
        actions=details,
    )
