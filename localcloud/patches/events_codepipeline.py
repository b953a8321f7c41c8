"""EventBridge rules start CodePipeline pipelines, as on AWS (moto delivers only to logs, SQS and buses).

A rule target whose ARN is a pipeline (`arn:aws:codepipeline:<region>:<account>:<name>`) is delivered as AWS
delivers it: EventBridge assumes the target's RoleArn as events.amazonaws.com (the trust policy is checked,
with the rule's ARN as aws:SourceArn), the role must allow codepipeline:StartPipelineExecution on the
pipeline, and the pipeline starts an execution triggered by `CloudWatchEvent` with the rule's ARN as its
detail (localcloud/pipeline/codepipeline.py). A refused or failed delivery is dropped and logged (AWS counts
a failed invocation of the target); it never raises into whatever put the event.
"""

from __future__ import annotations

import copy
import logging
import uuid

from moto.events.models import Rule
from moto.utilities.arns import parse_arn

from localcloud import runtime
from localcloud.iam import authorizer
from localcloud.iam.model import Call

log = logging.getLogger("localcloud.events")

EVENTS = "events.amazonaws.com"
ACTION = "codepipeline:StartPipelineExecution"


def deliver(rule: Rule, target: dict) -> str | None:
    """Start the target's pipeline for the rule: the execution id, or None when refused or failed."""
    pipeline_arn = target["Arn"]
    role_arn = target.get("RoleArn")
    where = f"rule {rule.arn} -> {pipeline_arn}"
    if not role_arn:
        log.warning("delivery dropped (%s): a CodePipeline target needs a RoleArn", where)
        return None
    session = f"events-{uuid.uuid4().hex[:16]}"
    try:
        runtime.role_credentials(role_arn, session, EVENTS, source_arn=rule.arn)
    except runtime.RoleNotAssumable as refused:
        log.warning("delivery dropped (%s): %s", where, refused)
        return None
    if authorizer.role_allows(role_arn, [Call(ACTION, pipeline_arn)], session=session) is not None:
        log.warning("delivery dropped (%s): the role %s may not %s", where, role_arn, ACTION)
        return None
    from localcloud.pipeline import codepipeline

    arn = parse_arn(pipeline_arn)
    try:
        execution = codepipeline.start_execution(
            arn.resource_id,
            trigger_type="CloudWatchEvent",
            trigger_detail=rule.arn,
            account_id=arn.account,
            region=arn.region,
        )
    except Exception as failed:  # a deleted pipeline, ...: AWS counts a failed invocation
        log.warning("delivery failed (%s): %s: %s", where, type(failed).__name__, failed)
        return None
    log.info("%s started execution %s", where, execution)
    return execution


def _pipeline_targets(rule: Rule) -> list[dict]:
    return [t for t in rule.targets if str(t.get("Arn", "")).startswith("arn:aws:codepipeline:")]


def _sending_to_pipelines(original):
    def send_to_targets(self, original_event, transform_input=True):
        targets = _pipeline_targets(self)
        if not targets:
            return original(self, original_event, transform_input)
        # moto raises NotImplementedError for a target it does not know: it gets a view without them.
        others = copy.copy(self)
        others.targets = [t for t in self.targets if t not in targets]
        original(others, original_event, transform_input)
        if self.state != "ENABLED" or not self.event_pattern.matches_event(original_event):
            return None
        for target in targets:
            try:
                deliver(self, target)
            except Exception as failed:  # never into the caller (a push, a Batch job's state change)
                log.warning("delivery failed (rule %s): %s: %s", self.arn, type(failed).__name__, failed)
        return None

    send_to_targets._localcloud_pipelines = True
    return send_to_targets


def apply() -> None:
    if not getattr(Rule.send_to_targets, "_localcloud_pipelines", False):
        Rule.send_to_targets = _sending_to_pipelines(Rule.send_to_targets)
