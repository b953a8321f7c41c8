"""A message the consumer cannot process is left on its queue (notifications or failure) and SQS moves it to
that queue's DLQ after maxReceiveCount receives; messages it can process are deleted. What SNS cannot deliver
to a queue goes to its subscription's delivery DLQ (redrive policy); farm.consumer shows a DLQ."""

from __future__ import annotations

import json
import os
import time
import uuid

import pytest

from farm import consumer as consumer_module
from farm.consumer import Consumer

pytestmark = pytest.mark.live


def _max_receive_count(sqs, queue_url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["RedrivePolicy"])["Attributes"]
    return int(json.loads(attributes["RedrivePolicy"])["maxReceiveCount"])


def _dlq_holds(sqs, dlq_url: str, marker: str) -> dict | None:
    """Our poison message on the DLQ (deleted once seen); other messages there are left untouched."""
    response = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    found = None
    for message in response.get("Messages", []):
        if marker in message["Body"]:
            found = message
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
        else:
            sqs.change_message_visibility(
                QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
            )
    return found


@pytest.mark.parametrize(
    ("queue", "dlq", "mailbox"),
    [
        ("notifications_queue_url", "notifications_dlq_url", "notifications"),
        ("failure_queue_url", "failure_dlq_url", "failures"),
    ],
    ids=["notifications", "failure"],
)
def test_unprocessable_message_moves_to_dlq_after_max_receives(farm, stack, queue, dlq, mailbox):
    sqs = stack.client("sqs")
    queue_url, dlq_url = stack[queue], stack[dlq]
    max_receives = _max_receive_count(sqs, queue_url)
    marker = f"poison-{uuid.uuid4().hex}"
    # Looks like a completion for a run but misses required fields: schema-invalid, so never processable.
    poison = json.dumps({"schema_version": "1.0", "status": "SUCCEEDED", "run_id": marker})
    sqs.send_message(QueueUrl=queue_url, MessageBody=poison)

    # Valid notifications of other runs go to the shared mailbox, as the tests' own collector would do.
    def keep_for_other_tests(message: dict) -> None:
        getattr(farm, mailbox).store(message["run_id"], uuid.uuid4().hex, message)

    consumer = Consumer(sqs, queue_url, keep_for_other_tests, wait_seconds=1, retry_delay=0)
    receive_counts: list[int] = []
    deadline = time.monotonic() + 120
    in_dlq = None
    while in_dlq is None:
        assert time.monotonic() < deadline, f"poison not in the DLQ after 120 s; receives {receive_counts}"
        poll = consumer.poll()
        receive_counts += [r.receive_count for r in poll.rejected if marker in r.body]
        assert marker not in json.dumps(poll.processed), "the consumer processed an invalid message"
        if not poll.rejected:
            in_dlq = _dlq_holds(sqs, dlq_url, marker)

    assert json.loads(in_dlq["Body"]) == json.loads(poison)
    assert receive_counts, "the consumer never received the poison message"
    assert max(receive_counts) <= max_receives
    if not os.environ.get("PYTEST_XDIST_WORKER"):  # serial run: no other collector received it
        assert receive_counts == list(range(1, max_receives + 1))
    # Gone from the source queue: a last receive does not see it.
    assert not [r for r in consumer.poll().rejected if marker in r.body]


def test_consumer_deletes_what_it_processed(farm, stack):
    sqs = stack.client("sqs")
    run_id = farm.new_run_id("consumer")
    message = {
        "schema_version": "1.0",
        "status": "FAILED",
        "run_id": run_id,
        "spec_uri": f"s3://{stack['specs_bucket']}/{run_id}/catalog.json",
        "error": "SpecInvalid",
        "cause": "/products: probe",
    }
    sqs.send_message(QueueUrl=stack["notifications_queue_url"], MessageBody=json.dumps(message))
    handled: list[dict] = []

    def handle(received: dict) -> None:
        if received["run_id"] == run_id:
            handled.append(received)
        else:
            farm.notifications.store(received["run_id"], uuid.uuid4().hex, received)

    consumer = Consumer(sqs, stack["notifications_queue_url"], handle, wait_seconds=1, retry_delay=0)
    deadline = time.monotonic() + 60
    while not handled:
        assert time.monotonic() < deadline, "the consumer never received the valid message"
        consumer.poll()
    assert handled == [message]
    # Deleted: it neither comes back nor reaches the DLQ.
    time.sleep(1)
    consumer.poll()
    assert handled == [message]


def test_each_subscription_redrives_to_its_own_encrypted_delivery_dlq(stack):
    sns, sqs = stack.client("sns"), stack.client("sqs")
    expected = {
        stack["completion_topic_arn"]: (
            stack["notifications_queue_url"],
            stack["completion_delivery_dlq_url"],
        ),
        stack["failure_topic_arn"]: (stack["failure_queue_url"], stack["failure_delivery_dlq_url"]),
    }

    def arn(url: str) -> str:
        return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]

    for topic, (queue_url, dlq_url) in expected.items():
        (subscription,) = sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]
        assert subscription["Endpoint"] == arn(queue_url)
        attributes = sns.get_subscription_attributes(SubscriptionArn=subscription["SubscriptionArn"])[
            "Attributes"
        ]
        assert json.loads(attributes["RedrivePolicy"]) == {"deadLetterTargetArn": arn(dlq_url)}, topic
        dlq = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["All"])["Attributes"]
        assert dlq["KmsMasterKeyId"] == stack["kms_key_arns"]["messaging"]
        statements = {s["Sid"]: s for s in json.loads(dlq["Policy"])["Statement"]}
        assert set(statements) == {"TopicRedrivesUndeliverable", "DenyInsecureTransport"}
        redrive = statements["TopicRedrivesUndeliverable"]
        assert redrive["Condition"] == {"ArnEquals": {"aws:SourceArn": topic}}


def test_consumer_shows_what_a_dlq_holds_and_leaves_it(stack):
    sqs = stack.client("sqs")
    dlq_url = stack["failure_delivery_dlq_url"]
    marker = f"dead-{uuid.uuid4().hex}"
    sqs.send_message(QueueUrl=dlq_url, MessageBody=json.dumps({"status": "FAILED", "run_id": marker}))
    shown = consumer_module.show_dead_letters(sqs, dlq_url)
    (ours,) = [m for m in shown if marker in m.get("body", "")]
    assert ours["problem"].startswith("not a notification"), ours
    assert _dlq_holds(sqs, dlq_url, marker), "showing a dead letter must leave it there"  # (and removes ours)
