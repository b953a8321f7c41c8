"""SNS -> SQS deliveries are authorised as sns.amazonaws.com, as AWS does them.

moto's Subscription.publish hands the message straight to the SQS backend. On AWS the topic delivers as the
service principal: the queue policy must admit sns.amazonaws.com for sqs:SendMessage (usually bound to the
topic with aws:SourceArn), and an encrypted queue's key policy must let the service use the key
(kms:GenerateDataKey, kms:Decrypt). A delivery they refuse is dropped (AWS gives up after its retries), and
the denial is recorded (GET /_localcloud/iam/calls) and logged.
"""

from __future__ import annotations

from moto.sns.models import Subscription

from localcloud.iam import authorizer, resources
from localcloud.iam.model import Call

SNS = "sns.amazonaws.com"

_original_publish = Subscription.publish


def delivery_calls(queue_arn: str) -> list[Call]:
    """What delivering into a queue takes: SendMessage, and the queue's KMS key when it has one."""
    calls = [Call("sqs:SendMessage", queue_arn)]
    key_id = resources.queue_kms_key(queue_arn)
    key = resources.kms_key_arn(key_id)
    if key and not authorizer.managed_by_aws(key_id):
        calls += [Call("kms:GenerateDataKey", key), Call("kms:Decrypt", key)]
    return calls


def _publish(self, message, message_id, *args, **kwargs):
    if self.protocol == "sqs":
        topic_arn = self.topic.arn
        denied = authorizer.service_allows(
            SNS, delivery_calls(self.endpoint), source_arn=topic_arn, source_account=self.topic.account_id
        )
        if denied is not None:
            return None  # dropped, as AWS drops it after its delivery retries
    return _original_publish(self, message, message_id, *args, **kwargs)


def apply() -> None:
    Subscription.publish = _publish
