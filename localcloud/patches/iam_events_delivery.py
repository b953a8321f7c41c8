"""EventBridge deliveries to SQS queues and CloudWatch Logs groups are authorised as events.amazonaws.com.

moto's Rule sends to its targets in process. On AWS the rule delivers as the service principal with the
rule's ARN as aws:SourceArn: a queue needs a queue policy admitting it (and, when encrypted, a key policy
letting the service use the key); a log group needs a CloudWatch Logs resource policy admitting
logs:CreateLogStream and logs:PutLogEvents. A refused delivery is dropped (AWS counts it as a failed
invocation of the target), recorded and logged.
"""

from __future__ import annotations

from moto.events.models import Rule

from localcloud.iam import authorizer
from localcloud.iam.model import Call
from localcloud.patches.iam_sns_delivery import delivery_calls

EVENTS = "events.amazonaws.com"

_original_to_queue = Rule._send_to_sqs_queue
_original_to_log_group = Rule._send_to_cw_log_group


def _allowed(rule: Rule, calls: list[Call]) -> bool:
    return (
        authorizer.service_allows(EVENTS, calls, source_arn=rule.arn, source_account=rule.account_id) is None
    )


def _send_to_sqs_queue(self, resource_id, event, group_id=None):
    queue_arn = f"arn:aws:sqs:{self.region_name}:{self.account_id}:{resource_id}"
    if _allowed(self, delivery_calls(queue_arn)):
        return _original_to_queue(self, resource_id, event, group_id)
    return None


def _send_to_cw_log_group(self, name, event):
    # The stream moto creates has a random name; one placeholder keeps the record aggregated.
    stream = f"arn:aws:logs:{self.region_name}:{self.account_id}:log-group:{name}:log-stream:*"
    if _allowed(self, [Call("logs:CreateLogStream", stream), Call("logs:PutLogEvents", stream)]):
        return _original_to_log_group(self, name, event)
    return None


def apply() -> None:
    Rule._send_to_sqs_queue = _send_to_sqs_queue
    Rule._send_to_cw_log_group = _send_to_cw_log_group
