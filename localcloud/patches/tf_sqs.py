"""SQS: attributes set one at a time keep the others, and RedriveAllowPolicy exists, as in AWS.

moto 5.2.5's `Queue._set_attributes` ends with `self.policy = attributes.get("Policy")`, so setting any other
attribute (e.g. `aws_sqs_queue_redrive_policy` setting RedrivePolicy) erases the queue policy, and the
provider's `aws_sqs_queue_policy` waits forever for the policy it set. moto also drops RedriveAllowPolicy
(it is neither returned nor accepted as an attribute name), so `aws_sqs_queue_redrive_allow_policy` waits
forever too.
"""

from __future__ import annotations

from typing import Any

from moto.sqs.models import Queue, SQSBackend

REDRIVE_ALLOW = "RedriveAllowPolicy"

_original_set_attributes = Queue._set_attributes
_original_get_queue_attributes = SQSBackend.get_queue_attributes


def _set_attributes(self: Queue, attributes: dict[str, Any], now: float | None = None) -> None:
    kept_policy = getattr(self, "policy", None)
    _original_set_attributes(self, attributes, now)
    if "Policy" not in attributes:
        self.policy = kept_policy
    elif attributes["Policy"] == "":
        self.policy = None
    if REDRIVE_ALLOW in attributes:
        self.redrive_allow_policy = attributes[REDRIVE_ALLOW] or None


def _get_queue_attributes(self: SQSBackend, queue_name: str, attribute_names: list[str]) -> dict[str, Any]:
    wanted = "All" in attribute_names or REDRIVE_ALLOW in attribute_names
    others = [name for name in attribute_names if name != REDRIVE_ALLOW]
    result = _original_get_queue_attributes(self, queue_name, others) if others else {}
    value = getattr(self.get_queue(queue_name), "redrive_allow_policy", None)
    if wanted and value:
        result[REDRIVE_ALLOW] = value
    return result


def apply() -> None:
    Queue._set_attributes = _set_attributes
    SQSBackend.get_queue_attributes = _get_queue_attributes
