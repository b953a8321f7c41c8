"""CodePipeline executes what Terraform declared: the pipeline moto's backend holds (stages, actions,
runOrder, artifacts, artifact store, role), run stage by stage in a background thread per execution.

- Stages run in order; within a stage, actions by runOrder: the actions of one runOrder in parallel, the
  next runOrder once all of them succeeded. A failed action fails its stage and the execution; later stages
  never start. What an action does (as the pipeline's role) is localcloud/pipeline/pipeline_actions.py.
- Execution mode SUPERSEDED (AWS's default; the others are refused at start): a stage holds one execution at
  a time and is released when its actions end; an execution waits to enter a stage another one holds, and a
  newer execution waiting for the same stage supersedes the older waiting one (it ends Superseded).
- StopPipelineExecution: stop and wait (the running actions finish, nothing more starts, then Stopped) or
  stop and abandon (the running actions end Abandoned at once: their builds are left running, as on AWS).
- The API answers (GetPipelineState, GetPipelineExecution, ListPipelineExecutions, ListActionExecutions)
  are built here in botocore's shapes, timestamps as epoch seconds; localcloud/patches/codepipeline.py
  routes moto's CodePipeline requests to these functions.

Executions live in moto's pipeline object (`executions`), so DeletePipeline forgets them as AWS does. One
condition variable guards every execution's state and wakes the threads that wait on it.
"""

from __future__ import annotations

import base64
import copy
import itertools
import logging
import re
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

from moto.core.exceptions import JsonRESTError

from localcloud import config
from localcloud.pipeline import pipeline_actions
from localcloud.pipeline.pipeline_actions import ActionContext, ActionFailed, Artifact, Outcome

log = logging.getLogger("localcloud.codepipeline")

CODEPIPELINE = "codepipeline.amazonaws.com"
SUPERSEDED_MODE = "SUPERSEDED"

IN_PROGRESS = "InProgress"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
STOPPING = "Stopping"
STOPPED = "Stopped"
SUPERSEDED = "Superseded"
ABANDONED = "Abandoned"

MAX_RESULTS = 100  # the API's default and largest page
_VARIABLE = re.compile(r"#\{([A-Za-z0-9@\-_]+)\.([A-Za-z0-9@\-_]+)\}")

_state = threading.Condition()  # guards every execution, stage run, action run and board below
_entries = itertools.count(1)  # order in which executions entered stages and started


def error(kind: str, message: str) -> JsonRESTError:
    """A CodePipeline API error (400, JSON `__type`), as botocore's model names them."""
    return JsonRESTError(kind, message)


# --- what an execution is made of ---------------------------------------------------------------------


@dataclass
class ActionRun:
    stage: str
    declaration: dict
    configuration: dict[str, str]  # resolved
    inputs: list[Artifact]
    role_arn: str
    action_execution_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    status: str = IN_PROGRESS
    start: float = field(default_factory=time.time)
    last_update: float = field(default_factory=time.time)
    external_id: str | None = None
    external_url: str | None = None
    outcome: Outcome | None = None
    error_details: dict[str, str] | None = None

    @property
    def name(self) -> str:
        return self.declaration["name"]


@dataclass
class StageRun:
    name: str
    entered: int  # _entries order: the stage's latest execution is the one that entered last
    status: str = IN_PROGRESS
    actions: dict[str, ActionRun] = field(default_factory=dict)


@dataclass
class Execution:
    pipeline: str
    pipeline_arn: str
    account_id: str
    region: str
    declaration: dict  # the pipeline as it was when the execution started
    trigger: dict[str, str]
    variables: list[dict[str, str]]
    execution_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    order: int = field(default_factory=lambda: next(_entries))
    start: float = field(default_factory=time.time)
    last_update: float = field(default_factory=time.time)
    status: str = IN_PROGRESS
    status_summary: str | None = None
    stop_mode: str | None = None  # "wait" | "abandon" once StopPipelineExecution was called
    stop_reason: str | None = None
    stages: dict[str, StageRun] = field(default_factory=dict)
    artifacts: dict[str, Artifact] = field(default_factory=dict)
    namespaces: dict[str, dict[str, str]] = field(default_factory=dict)
    sources: list[tuple[str, Artifact]] = field(default_factory=list)  # (source action, its revision)
    _credentials: dict[str, str] | None = None
    _credentials_lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def version(self) -> int:
        return self.declaration.get("version", 1)

    @property
    def role_arn(self) -> str:
        return self.declaration["roleArn"]

    def credentials(self) -> dict[str, str]:
        """The pipeline role's session for this execution, as CodePipeline obtains it (trust checked with
        aws:SourceArn = the pipeline); obtained once."""
        from localcloud import runtime

        with self._credentials_lock:
            if self._credentials is None:
                try:
                    self._credentials = runtime.role_credentials(
                        self.role_arn, self.execution_id, CODEPIPELINE, source_arn=self.pipeline_arn
                    )
                except runtime.RoleNotAssumable as err:
                    raise ActionFailed(
                        f"CodePipeline is not authorized to perform AssumeRole on role {self.role_arn}: "
                        f"{err.reason}",
                        "PermissionError",
                    ) from err
            return dict(self._credentials)


@dataclass
class Board:
    """Which execution holds each stage, and which one waits to enter it (at most one: SUPERSEDED)."""

    occupants: dict[str, Execution] = field(default_factory=dict)
    waiting: dict[str, Execution] = field(default_factory=dict)


def _pipeline(name: str, account_id: str, region: str):
    from moto.codepipeline.models import codepipeline_backends

    pipeline = codepipeline_backends[account_id][region].pipelines.get(name)
    if pipeline is None:
        raise error(
            "PipelineNotFoundException", f"Account '{account_id}' does not have a pipeline with name '{name}'"
        )
    return pipeline


def _board(pipeline) -> Board:
    board = getattr(pipeline, "localcloud_board", None)
    if board is None:
        board = pipeline.localcloud_board = Board()
    return board


def _executions(pipeline) -> list[Execution]:
    """Oldest first (moto's dict keeps insertion order)."""
    return [e for e in pipeline.executions.values() if isinstance(e, Execution)]


# --- start, run, stop -----------------------------------------------------------------------------------


def start_execution(
    pipeline_name: str,
    *,
    trigger_type: str,
    trigger_detail: str,
    account_id: str = config.ACCOUNT_ID,
    region: str = config.REGION,
    variables: list[dict[str, str]] | None = None,
) -> str:
    """Start an execution of the pipeline as it is declared now; returns its pipelineExecutionId at once."""
    pipeline = _pipeline(pipeline_name, account_id, region)
    declaration = copy.deepcopy(pipeline.pipeline)
    mode = declaration.get("executionMode") or SUPERSEDED_MODE
    if mode != SUPERSEDED_MODE:
        raise error(
            "ValidationException",
            f"Execution mode {mode} is not executed by the local cloud (only SUPERSEDED): "
            f"pipeline {pipeline_name} was not started",
        )
    execution = Execution(
        pipeline=pipeline_name,
        pipeline_arn=pipeline.metadata["pipelineArn"],
        account_id=account_id,
        region=region,
        declaration=declaration,
        trigger={"triggerType": trigger_type, "triggerDetail": trigger_detail},
        variables=list(variables or []),
    )
    with _state:
        pipeline.executions[execution.execution_id] = execution
        board = _board(pipeline)
    threading.Thread(
        target=_run, args=(execution, board), name=f"codepipeline-{execution.execution_id}", daemon=True
    ).start()
    log.info("%s: execution %s started (%s)", pipeline_name, execution.execution_id, trigger_type)
    return execution.execution_id


def _run(execution: Execution, board: Board) -> None:
    try:
        for stage in execution.declaration["stages"]:
            if not _enter(execution, board, stage["name"]):
                return
            try:
                result = _run_stage(execution, stage)
            finally:
                _leave(execution, board, stage["name"])
            if result != SUCCEEDED:
                _finish(execution, result)
                return
        _finish(execution, SUCCEEDED)
    except Exception as err:  # the server counts an uncaught thread exception as an error
        log.exception("%s: execution %s failed", execution.pipeline, execution.execution_id)
        _finish(execution, FAILED, f"The local cloud could not run the execution: {err!r}")


def _end(execution: Execution, status: str, summary: str | None = None) -> None:
    """Under _state: the execution's final status (a stop requested before wins: Stopped)."""
    if execution.status not in (IN_PROGRESS, STOPPING):
        return
    execution.status = STOPPED if execution.status == STOPPING else status
    execution.status_summary = summary or execution.status_summary
    execution.last_update = time.time()
    _state.notify_all()
    log.info("%s: execution %s %s", execution.pipeline, execution.execution_id, execution.status)


def _finish(execution: Execution, status: str, summary: str | None = None) -> None:
    with _state:
        if execution.status == STOPPING and execution.stop_reason:
            summary = execution.stop_reason
        _end(execution, status, summary)


def _enter(execution: Execution, board: Board, stage: str) -> bool:
    """Wait until the execution holds the stage (True), or ends waiting: superseded or stopped (False)."""
    with _state:
        while True:
            if board.occupants.get(stage) is execution:
                return True  # handed over by the execution that left it
            if execution.status == SUPERSEDED:
                return False
            if execution.status == STOPPING:
                if board.waiting.get(stage) is execution:
                    del board.waiting[stage]
                _end(execution, STOPPED, execution.stop_reason)
                return False
            waiter = board.waiting.get(stage)
            if stage not in board.occupants and waiter in (None, execution):
                _occupy(board, stage, execution)
                return True
            if waiter is not execution:
                if waiter is not None and waiter.order > execution.order:
                    _end(execution, SUPERSEDED)
                    return False
                if waiter is not None:
                    _end(waiter, SUPERSEDED)
                board.waiting[stage] = execution
                execution.last_update = time.time()
                _state.notify_all()
            _state.wait()


def _occupy(board: Board, stage: str, execution: Execution) -> None:
    board.occupants[stage] = execution
    if board.waiting.get(stage) is execution:
        del board.waiting[stage]
    execution.stages[stage] = StageRun(stage, next(_entries))
    execution.last_update = time.time()


def _leave(execution: Execution, board: Board, stage: str) -> None:
    """Release the stage; the execution waiting for it (if still in progress) enters at once."""
    with _state:
        if board.occupants.get(stage) is execution:
            del board.occupants[stage]
        waiter = board.waiting.get(stage)
        if waiter is not None and waiter.status == IN_PROGRESS and stage not in board.occupants:
            _occupy(board, stage, waiter)
        _state.notify_all()


def _run_stage(execution: Execution, stage: dict) -> str:
    stage_run = execution.stages[stage["name"]]
    for _order, declarations in _run_order_groups(stage["actions"]):
        with _state:
            if execution.stop_mode:
                return _stage_ends(execution, stage_run, STOPPED)
            runs = [_action_run(execution, stage["name"], d) for d in declarations]
            for run in runs:
                stage_run.actions[run.name] = run
        for run in runs:
            threading.Thread(
                target=_act, args=(execution, run), name=f"codepipeline-action-{run.name}", daemon=True
            ).start()
        with _state:
            while execution.stop_mode != "abandon" and any(r.status == IN_PROGRESS for r in runs):
                _state.wait()
            if execution.stop_mode == "abandon":
                for run in runs:
                    if run.status == IN_PROGRESS:
                        run.status, run.last_update = ABANDONED, time.time()
                return _stage_ends(execution, stage_run, STOPPED)
            if any(r.status == FAILED for r in runs):
                failed = next(r for r in runs if r.status == FAILED)
                message = (failed.error_details or {}).get("message", "")
                execution.status_summary = f"Action {failed.name} in stage {stage['name']} failed: {message}"
                return _stage_ends(execution, stage_run, FAILED)
    with _state:
        return _stage_ends(execution, stage_run, SUCCEEDED)


def _stage_ends(execution: Execution, stage_run: StageRun, status: str) -> str:
    stage_run.status = status
    execution.last_update = time.time()
    return status


def _run_order_groups(actions: list[dict]) -> list[tuple[int, list[dict]]]:
    groups: dict[int, list[dict]] = {}
    for action in actions:
        groups.setdefault(int(action.get("runOrder") or 1), []).append(action)
    return sorted(groups.items())


def _action_run(execution: Execution, stage: str, declaration: dict) -> ActionRun:
    """Under _state: a new run of the action, its configuration resolved and its input artifacts found."""
    inputs = []
    for artifact in declaration.get("inputArtifacts") or []:
        found = execution.artifacts.get(artifact["name"])
        if found is not None:
            inputs.append(found)
    configuration = {
        k: _resolve(execution, str(v)) for k, v in (declaration.get("configuration") or {}).items()
    }
    return ActionRun(stage, declaration, configuration, inputs, execution.role_arn)


def _resolve(execution: Execution, value: str) -> str:
    """#{Namespace.Variable} from earlier actions' output variables, #{codepipeline.PipelineExecutionId}."""

    def replace(match: re.Match) -> str:
        namespace, name = match.groups()
        if namespace == "codepipeline" and name == "PipelineExecutionId":
            return execution.execution_id
        if namespace == "variables":
            for variable in execution.variables:
                if variable.get("name") == name:
                    return variable.get("value", "")
        return execution.namespaces.get(namespace, {}).get(name, match.group(0))

    return _VARIABLE.sub(replace, value)


def _act(execution: Execution, run: ActionRun) -> None:
    """One action's thread: run it, then record how it ended (unless it was abandoned meanwhile)."""
    try:
        missing = [a["name"] for a in run.declaration.get("inputArtifacts") or []]
        missing = [name for name in missing if name not in {i.name for i in run.inputs}]
        if missing:
            raise ActionFailed(f"Input artifact {missing[0]} was not produced by an earlier action")
        store = execution.declaration.get("artifactStore") or {}
        context = ActionContext(
            pipeline=execution.pipeline,
            pipeline_arn=execution.pipeline_arn,
            execution_id=execution.execution_id,
            role_arn=run.role_arn,
            region=execution.region,
            account_id=execution.account_id,
            store_bucket=store.get("location", ""),
            store_key_id=(store.get("encryptionKey") or {}).get("id"),
            configuration=run.configuration,
            inputs=run.inputs,
            output_names=[a["name"] for a in run.declaration.get("outputArtifacts") or []],
            credentials=execution.credentials,
            report=lambda external_id, url: _report(run, external_id, url),
        )
        outcome = pipeline_actions.run(context, run.declaration.get("actionTypeId") or {})
        _record(execution, run, SUCCEEDED, outcome=outcome)
    except ActionFailed as err:
        _record(execution, run, FAILED, error_details={"code": err.code, "message": err.message})
    except Exception as err:
        log.exception("%s: action %s failed", execution.pipeline, run.name)
        message = f"The local cloud could not run the action: {err!r}"
        _record(execution, run, FAILED, error_details={"code": "JobFailed", "message": message})


def _report(run: ActionRun, external_id: str, url: str | None) -> None:
    with _state:
        run.external_id, run.external_url, run.last_update = external_id, url, time.time()


def _record(
    execution: Execution,
    run: ActionRun,
    status: str,
    *,
    outcome: Outcome | None = None,
    error_details: dict[str, str] | None = None,
) -> None:
    with _state:
        if run.status == IN_PROGRESS:  # an abandoned action's late result is dropped
            run.status, run.outcome, run.error_details = status, outcome, error_details
            run.last_update = time.time()
            if outcome is not None:
                run.external_id = outcome.external_id or run.external_id
                run.external_url = outcome.external_url or run.external_url
                for artifact in outcome.outputs:
                    execution.artifacts[artifact.name] = artifact
                if run.declaration.get("namespace"):
                    execution.namespaces[run.declaration["namespace"]] = dict(outcome.output_variables)
                if outcome.revision is not None:
                    execution.sources.append((run.name, outcome.revision))
            execution.last_update = time.time()
        _state.notify_all()


def stop_execution(
    pipeline_name: str,
    execution_id: str,
    *,
    abandon: bool = False,
    reason: str | None = None,
    account_id: str = config.ACCOUNT_ID,
    region: str = config.REGION,
) -> str:
    pipeline = _pipeline(pipeline_name, account_id, region)
    with _state:
        execution = _execution(pipeline, pipeline_name, execution_id, account_id)
        if execution.status == STOPPING:
            if not abandon or execution.stop_mode == "abandon":
                raise error(
                    "DuplicatedStopRequestException",
                    "The pipeline execution is already in a Stopping state. If you already chose to stop and "
                    "wait, you cannot make that request again. You can choose to stop and abandon now, but "
                    "be aware that this option can lead to failed tasks or out of sequence tasks. If you "
                    "already chose to stop and abandon, you cannot make that request again.",
                )
        elif execution.status != IN_PROGRESS:
            raise error(
                "PipelineExecutionNotStoppableException",
                f"Unable to stop the pipeline execution {execution_id}: it is {execution.status}, not "
                "InProgress.",
            )
        execution.status = STOPPING
        execution.stop_mode = "abandon" if abandon else "wait"
        execution.stop_reason = reason or execution.stop_reason
        execution.last_update = time.time()
        _state.notify_all()
    log.info("%s: execution %s stopping (%s)", pipeline_name, execution_id, execution.stop_mode)
    return execution_id


def _execution(pipeline, pipeline_name: str, execution_id: str, account_id: str) -> Execution:
    execution = pipeline.executions.get(execution_id)
    if not isinstance(execution, Execution):
        raise error(
            "PipelineExecutionNotFoundException",
            f"Account '{account_id}' does not have an execution with id '{execution_id}' for pipeline "
            f"'{pipeline_name}'",
        )
    return execution


# --- the API's answers ----------------------------------------------------------------------------------


def _present(doc: dict[str, Any]) -> dict[str, Any]:
    """AWS omits members without a value."""
    return {k: v for k, v in doc.items() if v is not None}


def pipeline_state(name: str, account_id: str = config.ACCOUNT_ID, region: str = config.REGION) -> dict:
    """GetPipelineState."""
    pipeline = _pipeline(name, account_id, region)
    metadata = pipeline.metadata
    with _state:
        executions = _executions(pipeline)
        board = _board(pipeline)
        stages = []
        for index, stage in enumerate(pipeline.pipeline["stages"]):
            stage_name = stage["name"]
            runs = [(e, e.stages[stage_name]) for e in executions if stage_name in e.stages]
            latest = max(runs, key=lambda pair: pair[1].entered, default=None)
            waiter = board.waiting.get(stage_name)
            state: dict[str, Any] = {"stageName": stage_name}
            if index:  # the first stage has no inbound transition
                state["inboundTransitionState"] = {"enabled": True}
            if waiter is not None:
                state["inboundExecution"] = {
                    "pipelineExecutionId": waiter.execution_id,
                    "status": IN_PROGRESS,
                }
            state["actionStates"] = [_action_state(a, runs, region, account_id) for a in stage["actions"]]
            if latest is not None:
                state["latestExecution"] = {
                    "pipelineExecutionId": latest[0].execution_id,
                    "status": latest[1].status,
                }
            stages.append(state)
        return {
            "pipelineName": name,
            "pipelineVersion": pipeline.pipeline.get("version", 1),
            "stageStates": stages,
            "created": metadata["created"],
            "updated": metadata["updated"],
        }


def _action_state(
    declaration: dict, runs: list[tuple[Execution, StageRun]], region: str, account: str
) -> dict:
    name = declaration["name"]
    action_runs = [s.actions[name] for _e, s in runs if name in s.actions]
    latest = max(action_runs, key=lambda r: r.start, default=None)
    state: dict[str, Any] = {"actionName": name}
    revision = latest.outcome.revision if latest is not None and latest.outcome is not None else None
    if revision is not None:
        state["currentRevision"] = {
            "revisionId": revision.revision_id,
            "revisionChangeId": revision.revision_id,
            "created": revision.created,
        }
    if latest is not None:
        state["latestExecution"] = _present(
            {
                "actionExecutionId": latest.action_execution_id,
                "status": latest.status,
                "summary": latest.outcome.external_summary if latest.outcome else None,
                "lastStatusChange": latest.last_update,
                "externalExecutionId": latest.external_id,
                "externalExecutionUrl": latest.external_url,
                "errorDetails": latest.error_details,
            }
        )
    state["entityUrl"] = pipeline_actions.entity_url(declaration, region, account)
    if revision is not None:
        state["revisionUrl"] = latest.external_url
    return _present(state)


def execution_view(
    pipeline_name: str, execution_id: str, account_id: str = config.ACCOUNT_ID, region: str = config.REGION
) -> dict:
    """GetPipelineExecution's pipelineExecution."""
    pipeline = _pipeline(pipeline_name, account_id, region)
    with _state:
        execution = _execution(pipeline, pipeline_name, execution_id, account_id)
        return _present(
            {
                "pipelineName": pipeline_name,
                "pipelineVersion": execution.version,
                "pipelineExecutionId": execution.execution_id,
                "status": execution.status,
                "statusSummary": execution.status_summary,
                "artifactRevisions": [
                    _present(
                        {
                            "name": artifact.name,
                            "revisionId": artifact.revision_id,
                            "revisionChangeIdentifier": artifact.revision_id,
                            "revisionSummary": artifact.revision_summary,
                            "created": artifact.created,
                            "revisionUrl": _source_url(execution, action),
                        }
                    )
                    for action, artifact in execution.sources
                ],
                "variables": [
                    {"name": v["name"], "resolvedValue": v.get("value", "")} for v in execution.variables
                ],
                "trigger": dict(execution.trigger),
                "executionMode": SUPERSEDED_MODE,
                "executionType": "STANDARD",
            }
        )


def _source_url(execution: Execution, action_name: str) -> str | None:
    for stage in execution.stages.values():
        run = stage.actions.get(action_name)
        if run is not None:
            return run.external_url
    return None


def execution_summaries(
    pipeline_name: str,
    *,
    max_results: int | None = None,
    next_token: str | None = None,
    succeeded_in_stage: str | None = None,
    account_id: str = config.ACCOUNT_ID,
    region: str = config.REGION,
) -> dict:
    """ListPipelineExecutions: newest first, paged."""
    pipeline = _pipeline(pipeline_name, account_id, region)
    with _state:
        executions = list(reversed(_executions(pipeline)))
        if succeeded_in_stage:
            executions = [
                e
                for e in executions
                if getattr(e.stages.get(succeeded_in_stage), "status", None) == SUCCEEDED
            ]
        page, token = _page(executions, max_results, next_token)
        summaries = [
            _present(
                {
                    "pipelineExecutionId": e.execution_id,
                    "status": e.status,
                    "statusSummary": e.status_summary,
                    "startTime": e.start,
                    "lastUpdateTime": e.last_update,
                    "sourceRevisions": [
                        _present(
                            {
                                "actionName": action,
                                "revisionId": artifact.revision_id,
                                "revisionSummary": artifact.revision_summary,
                                "revisionUrl": _source_url(e, action),
                            }
                        )
                        for action, artifact in e.sources
                    ],
                    "trigger": dict(e.trigger),
                    "stopTrigger": {"reason": e.stop_reason} if e.stop_mode and e.stop_reason else None,
                    "executionMode": SUPERSEDED_MODE,
                    "executionType": "STANDARD",
                }
            )
            for e in page
        ]
    return _present({"pipelineExecutionSummaries": summaries, "nextToken": token})


def action_executions(
    pipeline_name: str,
    *,
    execution_id: str | None = None,
    max_results: int | None = None,
    next_token: str | None = None,
    account_id: str = config.ACCOUNT_ID,
    region: str = config.REGION,
) -> dict:
    """ListActionExecutions: the runs of every action, newest first, of one execution if filtered."""
    pipeline = _pipeline(pipeline_name, account_id, region)
    with _state:
        if execution_id:
            executions = [_execution(pipeline, pipeline_name, execution_id, account_id)]
        else:
            executions = _executions(pipeline)
        runs = [(e, r) for e in executions for s in e.stages.values() for r in s.actions.values()]
        runs.sort(key=lambda pair: pair[1].start, reverse=True)
        page, token = _page(runs, max_results, next_token)
        details = [_action_detail(e, r) for e, r in page]
    return _present({"actionExecutionDetails": details, "nextToken": token})


def _action_detail(execution: Execution, run: ActionRun) -> dict:
    outcome = run.outcome
    declaration = run.declaration
    result = _present(
        {
            "externalExecutionId": run.external_id,
            "externalExecutionSummary": outcome.external_summary if outcome else None,
            "externalExecutionUrl": run.external_url,
            "errorDetails": run.error_details,
        }
    )
    return {
        "pipelineExecutionId": execution.execution_id,
        "actionExecutionId": run.action_execution_id,
        "pipelineVersion": execution.version,
        "stageName": run.stage,
        "actionName": run.name,
        "startTime": run.start,
        "lastUpdateTime": run.last_update,
        "status": run.status,
        "input": _present(
            {
                "actionTypeId": declaration.get("actionTypeId"),
                "configuration": dict(declaration.get("configuration") or {}),
                "resolvedConfiguration": dict(run.configuration),
                "roleArn": run.role_arn,
                "region": execution.region,
                "inputArtifacts": [a.detail() for a in run.inputs],
                "namespace": declaration.get("namespace"),
            }
        ),
        "output": {
            "outputArtifacts": [a.detail() for a in outcome.outputs] if outcome else [],
            "executionResult": result,
            "outputVariables": dict(outcome.output_variables) if outcome else {},
        },
    }


def _page(items: list, max_results: int | None, next_token: str | None) -> tuple[list, str | None]:
    size = MAX_RESULTS if max_results is None else int(max_results)
    if not 1 <= size <= MAX_RESULTS:
        raise error(
            "ValidationException",
            f"1 validation error detected: Value '{size}' at 'maxResults' failed to satisfy constraint: "
            f"Member must have value between 1 and {MAX_RESULTS}",
        )
    start = 0
    if next_token:
        try:
            start = int(base64.urlsafe_b64decode(next_token.encode()).decode().removeprefix("offset:"))
        except ValueError as err:
            raise error("InvalidNextTokenException", "The next token is not valid.") from err
        if not 0 <= start <= len(items):
            raise error("InvalidNextTokenException", "The next token is not valid.")
    end = start + size
    token = base64.urlsafe_b64encode(f"offset:{end}".encode()).decode() if end < len(items) else None
    return items[start:end], token
