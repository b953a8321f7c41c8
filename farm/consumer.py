"""A small consumer of run notifications (the notifications or failure queue).

Each received message is unwrapped (an SNS envelope, or a raw body), validated against
schemas/notification.schema.json and handed to a handler; what was processed is deleted. A message that cannot
be processed (not JSON, not a notification, or the handler raised) is left on the queue: it comes back after
its visibility timeout, and after the queue's maxReceiveCount receives SQS moves it to the dead-letter queue.

`python -m farm.consumer [--queue notifications|failure] [--follow]` prints each notification as a JSON line.
`--queue` may also name a dead-letter queue (`notifications-dlq`, `failure-dlq`, `completion-delivery-dlq`,
`failure-delivery-dlq`): what is in it is shown, one JSON line per message (the notification, or the raw body
and why it is not one), and left there unless `--delete` is given.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from render_worker import schemas

Handler = Callable[[dict[str, Any]], None]


class Unprocessable(ValueError):
    """The message is not a valid notification."""


@dataclass
class Rejected:
    message_id: str
    receive_count: int
    reason: str
    body: str


@dataclass
class Poll:
    processed: list[dict[str, Any]] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)


def unwrap(body: str) -> Any:
    """The JSON document a message carries (SNS wraps it in an envelope unless raw delivery is on)."""
    try:
        document = json.loads(body)
    except json.JSONDecodeError as exc:
        raise Unprocessable(f"body is not JSON: {exc}") from None
    if isinstance(document, dict) and document.get("Type") == "Notification" and "TopicArn" in document:
        try:
            return json.loads(document.get("Message", ""))
        except json.JSONDecodeError as exc:
            raise Unprocessable(f"SNS message is not JSON: {exc}") from None
    return document


def parse(body: str) -> dict[str, Any]:
    """The notification in a message body, validated against its schema; raises Unprocessable."""
    message = unwrap(body)
    errors = sorted(schemas.validator("notification").iter_errors(message), key=lambda e: list(e.path))
    if errors:
        problems = "; ".join(f"/{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5])
        raise Unprocessable(f"not a notification: {problems}")
    return message


class Consumer:
    """Receive, validate, handle, delete. `retry_delay` (s) shortens how long a rejected message hides."""

    def __init__(
        self,
        sqs,
        queue_url: str,
        handler: Handler | None = None,
        *,
        wait_seconds: int = 1,
        visibility_timeout: int | None = None,
        retry_delay: int | None = None,
    ):
        self.sqs = sqs
        self.queue_url = queue_url
        self.handler = handler or (lambda message: None)
        self.wait_seconds = wait_seconds
        self.visibility_timeout = visibility_timeout
        self.retry_delay = retry_delay

    def poll(self, max_messages: int = 10) -> Poll:
        kwargs: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MaxNumberOfMessages": max_messages,
            "WaitTimeSeconds": self.wait_seconds,
            "AttributeNames": ["ApproximateReceiveCount"],
        }
        if self.visibility_timeout is not None:
            kwargs["VisibilityTimeout"] = self.visibility_timeout
        result = Poll()
        for raw in self.sqs.receive_message(**kwargs).get("Messages", []):
            try:
                message = parse(raw["Body"])
                self.handler(message)
            except Exception as exc:  # any failure leaves the message for redrive
                result.rejected.append(
                    Rejected(
                        message_id=raw["MessageId"],
                        receive_count=int(raw.get("Attributes", {}).get("ApproximateReceiveCount", 0)),
                        reason=f"{type(exc).__name__}: {exc}",
                        body=raw["Body"],
                    )
                )
                if self.retry_delay is not None:
                    self.sqs.change_message_visibility(
                        QueueUrl=self.queue_url,
                        ReceiptHandle=raw["ReceiptHandle"],
                        VisibilityTimeout=self.retry_delay,
                    )
                continue
            self.sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=raw["ReceiptHandle"])
            result.processed.append(message)
        return result


# --queue name -> the contract output (docs/contracts.md) holding its URL.
QUEUES = {
    "notifications": "notifications_queue_url",
    "failure": "failure_queue_url",
    "notifications-dlq": "notifications_dlq_url",
    "failure-dlq": "failure_dlq_url",
    "completion-delivery-dlq": "completion_delivery_dlq_url",
    "failure-delivery-dlq": "failure_delivery_dlq_url",
}


def show_dead_letters(
    sqs, queue_url: str, *, delete: bool = False, wait_seconds: int = 1
) -> list[dict[str, Any]]:
    """Every message of a dead-letter queue, each received once (hidden while this runs, visible again at the
    end unless `delete`): {"message_id", "receive_count", "sent", "notification"} or, for a body that is not a
    valid notification, {..., "body", "problem"}."""
    shown: list[dict[str, Any]] = []
    kept: list[str] = []  # receipt handles to make visible again
    try:
        _drain_dead_letters(sqs, queue_url, shown, kept, delete, wait_seconds)
    finally:
        for receipt in kept:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt, VisibilityTimeout=0)
    return shown


def _drain_dead_letters(
    sqs, queue_url: str, shown: list[dict[str, Any]], kept: list[str], delete: bool, wait_seconds: int
) -> None:
    while True:
        messages = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=wait_seconds,
            VisibilityTimeout=300,
            AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
        ).get("Messages", [])
        if not messages:
            return
        for raw in messages:
            attributes = raw.get("Attributes", {})
            entry: dict[str, Any] = {
                "message_id": raw["MessageId"],
                "receive_count": int(attributes.get("ApproximateReceiveCount", 0)),
                "sent": int(attributes.get("SentTimestamp", 0)) / 1000,
            }
            try:
                entry["notification"] = parse(raw["Body"])
            except Unprocessable as exc:
                entry.update(body=raw["Body"], problem=str(exc))
            shown.append(entry)
            if delete:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=raw["ReceiptHandle"])
            else:
                kept.append(raw["ReceiptHandle"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m farm.consumer", description=__doc__.splitlines()[0])
    parser.add_argument("--queue", choices=list(QUEUES), default="notifications")
    parser.add_argument("--follow", action="store_true", help="keep polling until interrupted")
    parser.add_argument("--delete", action="store_true", help="dead-letter queues: delete what was shown")
    parser.add_argument("--wait-seconds", type=int, default=5)
    args = parser.parse_args(argv)

    from farm import stack as stack_module

    stack = stack_module.load()
    url = stack[QUEUES[args.queue]]
    if args.queue.endswith("-dlq"):
        found = show_dead_letters(stack.client("sqs"), url, delete=args.delete, wait_seconds=1)
        for entry in found:
            print(json.dumps(entry, ensure_ascii=False), flush=True)
        print(
            f"{len(found)} message(s) in {args.queue}{' (deleted)' if args.delete and found else ''}",
            file=sys.stderr,
        )
        return 0
    consumer = Consumer(
        stack.client("sqs"),
        url,
        handler=lambda message: print(json.dumps(message, ensure_ascii=False), flush=True),
        wait_seconds=args.wait_seconds,
    )
    try:
        while True:
            poll = consumer.poll()
            for rejected in poll.rejected:
                print(
                    f"left {rejected.message_id} (receive {rejected.receive_count}): {rejected.reason}",
                    file=sys.stderr,
                )
            if not args.follow and not poll.processed and not poll.rejected:
                return 0
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
