"""ValidateInput Lambda. Thin: the logic is render_worker.validate_input; errors keep their class names
(InvalidExecutionInput, SpecNotFound, SpecTooLarge, SpecInvalid), which the state machine catches."""

from __future__ import annotations

import os

from render_worker import aws, logs
from render_worker.validate_input import validate_input


def handler(event, context):
    # The execution name until ValidateInput has parsed it into the run id (a rerun's ends in .r<N>).
    logs.set_run_id((event.get("run_id") or event.get("execution")) if isinstance(event, dict) else None)
    return validate_input(event, s3=aws.client("s3"), env=os.environ)
