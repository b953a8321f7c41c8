"""EventBridge: events reach SQS and log-group targets with `account`, as AWS sends them.

moto's default target template drops `account`. (`time` stays an epoch number in the template: moto turns it
into the ISO string AWS sends when it delivers to SQS or CloudWatch Logs.)
"""

from __future__ import annotations

from moto.events.utils import EventTemplateParser

TEMPLATE = (
    '{"version": "0", "id": "<id>", "detail-type": "<detail-type>", "source": "<source>", '
    '"account": "<account>", "time": <time>, "region": "<region>", "resources": <resources>, '
    '"detail": <detail>}'
)


def apply() -> None:
    EventTemplateParser.DEFAULT_EVENT_INPUT_TEMPLATE = TEMPLATE
