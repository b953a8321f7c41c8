"""SQS: RedrivePolicy as AWS writes it (compact JSON), so the Terraform provider sees no diff on re-plan."""

from __future__ import annotations

import json

from moto.sqs.models import Queue

_original_attributes = Queue.attributes


def _attributes(self) -> dict:
    result = _original_attributes.fget(self)
    if self.redrive_policy:
        result["RedrivePolicy"] = json.dumps(self.redrive_policy, separators=(",", ":"))
    return result


def apply() -> None:
    Queue.attributes = property(_attributes)
