"""The state machine's template (modules/workflow/templates/render.asl.json): every path publishes exactly
one message, through NotifySuccess, NotifyCancelled or NotifyFailure (a walk of the graph), and the paths that
need no Lambda or Batch job run in moto's Step Functions engine, in process: a bad execution input and a
completion message SNS refuses each end in exactly one failure message and no completion message; a render job
terminated with a farm-cancel: reason ends in one CANCELLED message; a rerun's execution name
(`<run_id>.r<N>`) reaches every message as its run id. After the message, a run that got past ValidateInput
submits its attempt's scratch clean-up job; one that did not submits none, and a clean-up that cannot be
submitted changes neither the outcome nor the output."""

from __future__ import annotations

import json
import time

import pytest

from .conftest import ROOT

TEMPLATE = ROOT / "modules" / "workflow" / "templates" / "render.asl.json"
ACCOUNT = "123456789012"
NOTIFY = {"NotifySuccess", "NotifyFailure", "NotifyCancelled"}


def definition(completion_topic: str, failure_topic: str, start_at: str | None = None) -> dict:
    """The template as Terraform renders it (templatefile), with placeholder Lambda and Batch ARNs."""
    text = TEMPLATE.read_text()
    for name, value in {
        "partition": "aws",
        "validate_function_arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:validate-input:live",
        "publish_function_arn": f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:publish-results:live",
        "job_queue_arn": f"arn:aws:batch:us-east-1:{ACCOUNT}:job-queue/queue",
        "job_definition_arn": f"arn:aws:batch:us-east-1:{ACCOUNT}:job-definition/worker:1",
        "completion_topic_arn": completion_topic,
        "failure_topic_arn": failure_topic,
    }.items():
        text = text.replace("${" + name + "}", value)
    assert "${" not in text, "a placeholder of the template is not rendered here"
    document = json.loads(text)
    if start_at:
        document["StartAt"] = start_at
    return document


def _successors(state: dict) -> list[tuple[str, bool]]:
    """(next state, whether this state succeeded on the way): a Catch is the way out of a task that failed."""
    found = [(state["Next"], True)] if "Next" in state else []
    found += [(c["Next"], True) for c in state.get("Choices", [])]
    found += [(state["Default"], True)] if "Default" in state else []
    found += [(c["Next"], False) for c in state.get("Catch", [])]
    return list(dict.fromkeys(found))


def _paths(states: dict, name: str, seen: tuple = ()) -> list[tuple[tuple[str, bool], ...]]:
    """Every path from `name` to an end, as (state, succeeded) steps."""
    assert name not in [n for n, _ in seen], f"a loop through {name}: {seen}"
    following = _successors(states[name])
    if not following:
        return [(*seen, (name, True))]
    return [p for successor, ok in following for p in _paths(states, successor, (*seen, (name, ok)))]


def test_every_path_publishes_exactly_one_message():
    states = definition("arn:aws:sns:us-east-1:1:c", "arn:aws:sns:us-east-1:1:f")
    paths = _paths(states["States"], states["StartAt"])
    assert len(paths) > 10
    for path in paths:
        shown = " -> ".join(n if ok else f"{n} (fails)" for n, ok in path)
        published = [name for name, ok in path if name in NOTIFY and ok]
        assert len(published) == 1, f"{shown} publishes {published}"
        end = states["States"][path[-1][0]]["Type"]
        assert (published[0], end) in (
            ("NotifySuccess", "Succeed"),
            ("NotifyFailure", "Fail"),
            ("NotifyCancelled", "Fail"),
        ), shown
    assert {p[-1][0] for p in paths} == {"Succeeded", "Failed"}
    reached = {name for p in paths for name, _ in p}
    assert reached == set(states["States"]), f"unreachable: {set(states['States']) - reached}"


CLEAN_UPS = {"CleanUpScratch": "Completed", "CleanUpScratchAfterFailure": "Failed"}


def test_every_path_that_rendered_reaches_a_clean_up_after_its_message():
    """Statically: a success goes through CleanUpScratch; every failure (and a cancellation) goes through
    ScratchMayExist, which submits the clean-up only when $.validated is there; nothing before ValidateInput's
    success sets it, and ValidationFailed drops one the execution input forged."""
    states = definition("arn:aws:sns:us-east-1:1:c", "arn:aws:sns:us-east-1:1:f")["States"]
    for path in _paths(states, "CheckExecutionInput"):
        names = [name for name, _ in path]
        shown = " -> ".join(names)
        end = names[-1]
        notify = max(i for i, name in enumerate(names) if name in NOTIFY)  # the one that published
        if end == "Succeeded":
            assert names[notify + 1 :] == ["CleanUpScratch", "Completed", "Succeeded"], shown
        else:
            assert names[notify + 1 : notify + 2] == ["ScratchMayExist"], shown
            assert names[notify + 2 :] in (["CleanUpScratchAfterFailure", "Failed"], ["Failed"]), shown
    choice = states["ScratchMayExist"]
    assert choice["Choices"] == [
        {"Variable": "$.validated.job_name", "IsPresent": True, "Next": "CleanUpScratchAfterFailure"}
    ]
    assert choice["Default"] == "Failed"
    assert states["ValidateInput"]["ResultPath"] == "$.validated"
    for name in ("InputNotAnObject", "InputWithoutSpecUri", "SpecUriNotAString"):  # before ValidateInput
        assert "validated" not in json.dumps(states[name]), name
    assert {c["Next"] for c in states["ValidateInput"]["Catch"]} == {"ValidationFailed"}
    assert states["ValidationFailed"]["Parameters"] == {"spec_uri.$": "$.spec_uri", "failure.$": "$.failure"}
    assert states["CompletionNotPublished"]["Parameters"]["validated.$"] == "$.validated"  # it rendered


def test_the_clean_up_jobs_are_fire_and_forget_and_per_attempt():
    states = definition("arn:aws:sns:us-east-1:1:c", "arn:aws:sns:us-east-1:1:f")["States"]
    render = states["RenderPlain"]
    for name, end in CLEAN_UPS.items():
        state = states[name]
        assert state["Resource"] == "arn:aws:states:::batch:submitJob", "no .sync: nobody waits for it"
        parameters = state["Parameters"]
        assert parameters["JobName.$"] == "States.Format('{}-scratch-cleanup', $.validated.job_name)"
        # The bulk queue (the one job queue the template names), the render's job definition.
        assert (parameters["JobQueue"], parameters["JobDefinition"]) == (
            f"arn:aws:batch:us-east-1:{ACCOUNT}:job-queue/queue",
            render["Parameters"]["JobDefinition"],
        )
        assert parameters["ContainerOverrides"] == {
            "Command": ["python", "-m", "render_worker", "cleanup"],
            "Environment": [
                {"Name": "RUN_ID", "Value.$": "$.validated.run_id"},
                {"Name": "FARM_ATTEMPT", "Value.$": "States.Format('{}', $.validated.attempt)"},
            ],
        }
        assert state["ResultPath"] is None and state["Next"] == end
        assert state["Catch"] == [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": end}]
        assert state["Retry"] == render["Retry"]
    # Batch job names: at most 128 letters, digits, '-' and '_'; run ids are at most 80 of them
    assert len("a" * 80 + "-r9999" + "-scratch-cleanup") <= 128


# ---- in moto's engine -------------------------------------------------------------------------------------


class Engine:
    def __init__(self):
        import boto3

        self.sfn, self.sns, self.sqs = (
            boto3.client(s, region_name="us-east-1") for s in ("stepfunctions", "sns", "sqs")
        )
        self.completion_topic, self.completion_queue = self._topic_with_queue("completion")
        self.failure_topic, self.failure_queue = self._topic_with_queue("failure")
        self.role = f"arn:aws:iam::{ACCOUNT}:role/render-workflow"

    def _topic_with_queue(self, name: str) -> tuple[str, str]:
        topic = self.sns.create_topic(Name=name)["TopicArn"]
        url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        self.sns.subscribe(
            TopicArn=topic, Protocol="sqs", Endpoint=arn, Attributes={"RawMessageDelivery": "true"}
        )
        return topic, url

    def machine(self, completion_topic: str | None = None, start_at: str | None = None) -> str:
        document = definition(completion_topic or self.completion_topic, self.failure_topic, start_at)
        name = f"render-{len(self.sfn.list_state_machines()['stateMachines'])}"
        return self.sfn.create_state_machine(name=name, roleArn=self.role, definition=json.dumps(document))[
            "stateMachineArn"
        ]

    def run(self, machine: str, name: str, execution_input: str) -> dict:
        arn = self.sfn.start_execution(stateMachineArn=machine, name=name, input=execution_input)[
            "executionArn"
        ]
        deadline = time.monotonic() + 30
        while (described := self.sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
            assert time.monotonic() < deadline, f"{name} still running"
            time.sleep(0.05)
        return described

    def entered(self, execution: dict, names) -> list[str]:
        """The states of `names` the execution entered, in order."""
        events = self.sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
        entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
        return [name for name in entered if name in names]

    def submitted(self, execution: dict, state: str) -> dict:
        """The parameters the task state `state` called its service with."""
        events = self.sfn.get_execution_history(executionArn=execution["executionArn"])["events"]
        current = None
        for event in events:
            if "stateEnteredEventDetails" in event:
                current = event["stateEnteredEventDetails"]["name"]
            elif event["type"] == "TaskScheduled" and current == state:
                return json.loads(event["taskScheduledEventDetails"]["parameters"])
        raise AssertionError(f"{state} scheduled no task")

    def messages(self, queue_url: str) -> list[dict]:
        """Everything on the queue (the publishes happen before the execution ends, in process)."""
        found = []
        while batch := self.sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get(
            "Messages", []
        ):
            for message in batch:
                found.append(json.loads(message["Body"]))
                self.sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
        return found


@pytest.fixture
def engine(aws_env):
    from moto import mock_aws

    with mock_aws(config={"stepfunctions": {"execute_state_machine": True}}):
        yield Engine()


@pytest.mark.parametrize(
    ("execution_input", "cause"),
    [
        ("{}", "the execution input has no spec_uri"),
        ('{"spec_url": "s3://specs/catalog.json"}', "the execution input has no spec_uri"),
        ('["s3://specs/catalog.json"]', "the execution input has no spec_uri"),
        ('"s3://specs/catalog.json"', "the execution input is not a JSON object"),
        ("42", "the execution input is not a JSON object"),
        ("null", "the execution input is not a JSON object"),
        ('{"spec_uri": 7}', "the execution input's spec_uri is not a string"),
        ('{"spec_uri": null}', "the execution input's spec_uri is not a string"),
        ('{"spec_uri": {"bucket": "specs"}}', "the execution input's spec_uri is not a string"),
    ],
)
def test_a_bad_execution_input_ends_in_one_failure_message(engine, execution_input, cause):
    from render_worker import schemas

    execution = engine.run(engine.machine(), "bad-input", execution_input)
    assert execution["status"] == "FAILED"
    assert execution["error"] == "RenderFailed.InvalidExecutionInput"
    (message,) = engine.messages(engine.failure_queue)
    assert not list(schemas.validator("notification").iter_errors(message)), message
    assert message["error"] == "InvalidExecutionInput" and message["cause"].startswith(cause)
    assert (message["run_id"], message["spec_uri"]) == ("bad-input", None)
    assert engine.messages(engine.completion_queue) == []
    assert not engine.entered(execution, CLEAN_UPS), "a run refused before validation has no scratch"


COMPLETED = {
    "spec_uri": "s3://specs/run-1/catalog.json",
    "validated": {
        "run_id": "run-1",
        "attempt": 1,
        "execution": "run-1",
        "job_name": "run-1",
        "spec_uri": "s3://specs/run-1/catalog.json",
    },
    "completion": {
        "message": {
            "schema_version": "1.0",
            "status": "SUCCEEDED",
            "run_id": "run-1",
            "catalog_id": "spring",
            "spec_uri": "s3://specs/run-1/catalog.json",
            "variant_count": 8,
            "manifest_uri": "s3://renders/run-1/manifest.json",
            "gallery_uri": "s3://renders/run-1/index.html",
        }
    },
}


def test_a_published_completion_is_the_one_message(engine):
    execution = engine.run(engine.machine(start_at="NotifySuccess"), "run-1", json.dumps(COMPLETED))
    assert execution["status"] == "SUCCEEDED"
    assert engine.messages(engine.completion_queue) == [COMPLETED["completion"]["message"]]
    assert engine.messages(engine.failure_queue) == []
    # Then the clean-up job. In-process moto cannot submit it (no queue, none of the local cloud's parameter
    # conversion): caught, and the execution's output is still the completion message.
    assert engine.entered(execution, CLEAN_UPS) == ["CleanUpScratch"]
    assert engine.submitted(execution, "CleanUpScratch") == {
        "JobName": "run-1-scratch-cleanup",
        "JobQueue": f"arn:aws:batch:us-east-1:{ACCOUNT}:job-queue/queue",
        "JobDefinition": f"arn:aws:batch:us-east-1:{ACCOUNT}:job-definition/worker:1",
        "ContainerOverrides": {
            "Command": ["python", "-m", "render_worker", "cleanup"],
            "Environment": [{"Name": "RUN_ID", "Value": "run-1"}, {"Name": "FARM_ATTEMPT", "Value": "1"}],
        },
    }
    assert json.loads(execution["output"]) == COMPLETED["completion"]["message"]


def test_a_completion_sns_refuses_becomes_one_failure_message(engine):
    from render_worker import schemas

    missing_topic = f"arn:aws:sns:us-east-1:{ACCOUNT}:no-such-topic"  # SNS.NotFoundException: not retried
    machine = engine.machine(completion_topic=missing_topic, start_at="NotifySuccess")
    execution = engine.run(machine, "run-1", json.dumps(COMPLETED))
    assert execution["status"] == "FAILED" and execution["error"] == "RenderFailed.CompletionNotPublished"
    (message,) = engine.messages(engine.failure_queue)
    assert not list(schemas.validator("notification").iter_errors(message)), message
    assert (message["run_id"], message["spec_uri"], message["error"]) == (
        "run-1",
        COMPLETED["spec_uri"],
        "CompletionNotPublished",
    )
    assert message["cause"].startswith(
        "the run rendered everything and published s3://renders/run-1/manifest.json but its completion "
        "message could not be published (SNS.NotFoundException): "
    ), message["cause"]
    assert engine.messages(engine.completion_queue) == []
    assert engine.entered(execution, CLEAN_UPS) == ["CleanUpScratchAfterFailure"], "it rendered: clean up"


VALIDATED = COMPLETED["validated"]


@pytest.mark.parametrize(
    ("state", "cleaned"),
    [
        (
            {"validated": VALIDATED, "failure": {"Error": "RenderIncomplete", "Cause": "no a.svg"}},
            True,
        ),
        ({"validated": VALIDATED, "failure": {"Error": "States.TaskFailed", "Cause": "{}"}}, True),
        ({"failure": {"Error": "SpecInvalid", "Cause": "/products: too short"}}, False),
        ({"failure": {"Error": "SpecNotFound", "Cause": "no such key"}}, False),
    ],
)
def test_a_failure_cleans_up_only_after_validation_and_keeps_its_error(engine, state, cleaned):
    from render_worker import schemas

    execution = engine.run(
        engine.machine(start_at="NotifyFailure"),
        "run-1",
        json.dumps({"spec_uri": "s3://specs/c.json", **state}),
    )
    failure = state["failure"]
    assert (execution["status"], execution["error"], execution["cause"]) == (
        "FAILED",
        f"RenderFailed.{failure['Error']}",
        failure["Cause"],
    ), "a clean-up (failed to submit, here) never changes the outcome"
    (message,) = engine.messages(engine.failure_queue)
    assert not list(schemas.validator("notification").iter_errors(message)), message
    assert (message["error"], message["cause"]) == (failure["Error"], failure["Cause"])
    assert engine.messages(engine.completion_queue) == []
    assert engine.entered(execution, CLEAN_UPS) == (["CleanUpScratchAfterFailure"] if cleaned else [])
    if cleaned:
        submitted = engine.submitted(execution, "CleanUpScratchAfterFailure")
        assert submitted["JobName"] == "run-1-scratch-cleanup"
        assert submitted["ContainerOverrides"]["Environment"] == [
            {"Name": "RUN_ID", "Value": "run-1"},
            {"Name": "FARM_ATTEMPT", "Value": "1"},
        ]


# ---- attempts, cancellation, nothing to render ----------------------------------------------------------


RERUN = {
    "run_id": "run-1",
    "attempt": 2,
    "execution": "run-1.r2",
    "job_name": "run-1-r2",
    "spec_uri": "s3://specs/c.json",
    "spec_version_id": "v1",
    "output_uri": "s3://renders/run-1/",
    "variant_count": 9,
    "selection": "3,7-8",
    "selected_count": 3,
    "variants_per_child": 2,
    "array_size": 2,
    "priority": "urgent",
    "job_queue": f"arn:aws:batch:us-east-1:{ACCOUNT}:job-queue/urgent-queue",
    "render_timeout_s": 900,
}


def test_a_rerun_execution_name_reaches_the_failure_message_as_its_run_id(engine):
    """Before ValidateInput there is no $.validated: NotifyFailure takes the run id from the execution
    name."""
    from render_worker import schemas

    execution = engine.run(engine.machine(), "run-1.r2", "{}")
    assert execution["error"] == "RenderFailed.InvalidExecutionInput"
    (message,) = engine.messages(engine.failure_queue)
    assert not list(schemas.validator("notification").iter_errors(message)), message
    assert message["run_id"] == "run-1"


def test_validate_input_gets_the_execution_name_and_a_forged_validated_never_cleans_up(engine):
    forged = {"run_id": "victim", "attempt": 1, "job_name": "victim"}
    execution = engine.run(
        engine.machine(), "run-1.r3", json.dumps({"spec_uri": "s3://specs/c.json", "validated": forged})
    )
    payload = engine.submitted(execution, "ValidateInput")["Payload"]
    assert payload["execution"] == "run-1.r3" and "run_id" not in payload
    # No Lambda in process: ValidateInput fails, and the failure path drops the forged state.
    assert engine.entered(execution, {"ValidationFailed", "NotifyFailure"}) == [
        "ValidationFailed",
        "NotifyFailure",
    ]
    (message,) = engine.messages(engine.failure_queue)
    assert message["run_id"] == "run-1"
    assert not engine.entered(execution, CLEAN_UPS)


def test_a_rerun_submits_its_selection_and_attempt_to_the_children(engine):
    state = {"spec_uri": "s3://specs/c.json", "validated": RERUN}
    execution = engine.run(engine.machine(start_at="ChooseJobShape"), "run-1.r2", json.dumps(state))
    submitted = engine.submitted(execution, "RenderArray")
    assert submitted["JobName"] == "run-1-r2" and submitted["ArrayProperties"] == {"Size": 2}
    assert submitted["JobQueue"] == RERUN["job_queue"], "the queue ValidateInput chose by priority"
    overrides = submitted["ContainerOverrides"]["Environment"]
    environment = {e["Name"]: e["Value"] for e in overrides if "Name" in e}  # moto adds its own entry
    assert environment == {
        "SPEC_URI": "s3://specs/c.json",
        "SPEC_VERSION_ID": "v1",
        "RUN_ID": "run-1",
        "OUTPUT_URI": "s3://renders/run-1/",
        "VARIANTS_PER_CHILD": "2",
        "VARIANT_SELECTION": "3,7-8",
        "FARM_ATTEMPT": "2",
    }
    # In process the job cannot be submitted: an ordinary failure, then the attempt's own clean-up.
    (message,) = engine.messages(engine.failure_queue)
    assert (message["status"], message["run_id"]) == ("FAILED", "run-1")
    cleanup = engine.submitted(execution, "CleanUpScratchAfterFailure")
    assert cleanup["JobName"] == "run-1-r2-scratch-cleanup"
    assert cleanup["ContainerOverrides"]["Environment"] == [
        {"Name": "RUN_ID", "Value": "run-1"},
        {"Name": "FARM_ATTEMPT", "Value": "2"},
    ]


def test_nothing_selected_goes_straight_to_publish_results(engine):
    state = {"spec_uri": "s3://specs/c.json", "validated": {**RERUN, "selection": "", "selected_count": 0}}
    state["validated"]["array_size"] = 0
    execution = engine.run(engine.machine(start_at="ChooseJobShape"), "run-1.r2", json.dumps(state))
    entered = engine.entered(execution, {"RenderPlain", "RenderArray", "PublishResults"})
    assert entered == ["PublishResults"]
    assert engine.submitted(execution, "PublishResults")["Payload"] == state["validated"]


def _cancelled_job(reason: str) -> str:
    """The cause of a failed batch:submitJob.sync task: the job's description, as Step Functions gives it."""
    return json.dumps({"JobName": "run-1-r2", "JobId": "j-1", "Status": "FAILED", "StatusReason": reason})


def test_a_cancelled_render_ends_in_one_cancelled_message_and_no_publish(engine):
    from render_worker import schemas

    cause = _cancelled_job("farm-cancel: requested by farm cancel")
    state = {
        "spec_uri": "s3://specs/c.json",
        "validated": RERUN,
        "failure": {"Error": "States.TaskFailed", "Cause": cause},
    }
    execution = engine.run(engine.machine(start_at="RenderStopped"), "run-1.r2", json.dumps(state))
    assert (execution["status"], execution["error"], execution["cause"]) == (
        "FAILED",
        "RenderFailed.Cancelled",
        cause,
    )
    (message,) = engine.messages(engine.failure_queue)
    assert not list(schemas.validator("notification").iter_errors(message)), message
    assert message == {
        "schema_version": "1.0",
        "status": "CANCELLED",
        "run_id": "run-1",
        "attempt": 2,
        "spec_uri": "s3://specs/c.json",
        "error": "Cancelled",
        "cause": cause,
    }
    assert engine.messages(engine.completion_queue) == []
    names = {"PublishResults", "NotifyFailure", "NotifyCancelled", *CLEAN_UPS}
    assert engine.entered(execution, names) == ["NotifyCancelled", "CleanUpScratchAfterFailure"]


@pytest.mark.parametrize(
    "failure",
    [
        {"Error": "States.TaskFailed", "Cause": _cancelled_job("Essential container in task exited")},
        {"Error": "States.TaskFailed", "Cause": _cancelled_job("cancelled by someone")},
    ],
)
def test_any_other_render_failure_is_a_failure(engine, failure):
    state = {"spec_uri": "s3://specs/c.json", "validated": RERUN, "failure": failure}
    execution = engine.run(engine.machine(start_at="RenderStopped"), "run-1.r2", json.dumps(state))
    assert execution["error"] == f"RenderFailed.{failure['Error']}"
    (message,) = engine.messages(engine.failure_queue)
    assert (message["status"], message["error"], message["run_id"]) == ("FAILED", failure["Error"], "run-1")
    assert engine.entered(execution, {"NotifyCancelled", "NotifyFailure"}) == ["NotifyFailure"]


def test_a_render_past_its_time_limit_ends_in_one_failure_message_that_says_so(engine):
    """The Render task's own TimeoutSecondsPath (ValidateInput's render_timeout_s): States.Timeout is caught,
    renamed RenderTimedOut with a cause naming the job and the limit, and notified once."""
    state = {"spec_uri": "s3://specs/c.json", "validated": RERUN, "failure": {"Error": "States.Timeout"}}
    execution = engine.run(engine.machine(start_at="RenderStopped"), "run-1.r2", json.dumps(state))
    assert execution["error"] == "RenderFailed.RenderTimedOut"
    (message,) = engine.messages(engine.failure_queue)
    assert (message["status"], message["error"], message["run_id"]) == ("FAILED", "RenderTimedOut", "run-1")
    assert "run-1-r2 did not end within the time limit of 900 s" in message["cause"]
    assert "RUNNABLE" in message["cause"]
    assert engine.entered(execution, {"NotifyCancelled", "NotifyFailure"}) == ["NotifyFailure"]


def test_the_render_states_take_the_time_limit_and_queue_validate_input_chose():
    states = definition("arn:aws:sns:us-east-1:1:c", "arn:aws:sns:us-east-1:1:f")["States"]
    for name in ("RenderPlain", "RenderArray"):
        assert states[name]["TimeoutSecondsPath"] == "$.validated.render_timeout_s", name
        assert states[name]["Parameters"]["JobQueue.$"] == "$.validated.job_queue", name
        # The job id rides along in $.validated, for PublishResults' actual cost.
        assert (states[name]["ResultSelector"], states[name]["ResultPath"]) == (
            {"job_id.$": "$.JobId"},
            "$.validated.render",
        )


def test_children_cancelled_in_runnable_end_in_one_failure_message_that_names_it(engine):
    """A job queue's jobStateTimeLimitActions cancelled the blocked children: RenderStuckInRunnable, with the
    job's description (its status reason names RUNNABLE) as the cause."""
    reason = (
        "Array Child Job failed: 2 of 2 (Canceled by JobStateTimeLimit action due to reason: "
        "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE after 600 s in RUNNABLE)"
    )
    failure = {"Error": "States.TaskFailed", "Cause": _cancelled_job(reason)}
    state = {"spec_uri": "s3://specs/c.json", "validated": RERUN, "failure": failure}
    execution = engine.run(engine.machine(start_at="RenderStopped"), "run-1.r2", json.dumps(state))
    assert execution["error"] == "RenderFailed.RenderStuckInRunnable"
    (message,) = engine.messages(engine.failure_queue)
    assert (message["status"], message["error"]) == ("FAILED", "RenderStuckInRunnable")
    assert "after 600 s in RUNNABLE" in message["cause"]
