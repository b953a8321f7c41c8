"""PublishResults Lambda. Thin: the logic is render_worker.publish_results; RenderIncomplete keeps its class
name, which the state machine catches."""

from __future__ import annotations

import os

from render_worker import aws, logs
from render_worker.publish_results import PART_READERS, publish_results


def handler(event, context):
    logs.set_run_id(event.get("run_id") if isinstance(event, dict) else None)
    return publish_results(
        event, s3=aws.client("s3", pool=PART_READERS), env=os.environ, batch=aws.client("batch")
    )
