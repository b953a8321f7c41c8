"""Helpers for patches to moto's JSON-protocol services: fix responses against botocore's output shapes.

moto writes some timestamps as ISO strings where the AWS JSON protocol sends epoch seconds; the Terraform
provider (aws-sdk-go-v2) refuses those. Walking the botocore output shape finds every timestamp member.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import datetime
from functools import cache
from typing import Any

import botocore.session
from botocore.model import ListShape, MapShape, OperationModel, Shape, StructureShape


@cache
def _service_model(service: str):
    return botocore.session.get_session().get_service_model(service)


def operation_model(service: str, action: str) -> OperationModel | None:
    model = _service_model(service)
    return model.operation_model(action) if action in model.operation_names else None


def _to_epoch(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return value
    if isinstance(value, datetime):
        return value.timestamp()
    return value


def epoch_timestamps(value: Any, shape: Shape | None) -> Any:
    if shape is None or value is None:
        return value
    if shape.type_name == "timestamp":
        return _to_epoch(value)
    if isinstance(shape, StructureShape) and isinstance(value, dict):
        return {k: epoch_timestamps(v, shape.members.get(k)) for k, v in value.items()}
    if isinstance(shape, ListShape) and isinstance(value, list):
        return [epoch_timestamps(v, shape.member) for v in value]
    if isinstance(shape, MapShape) and isinstance(value, dict):
        return {k: epoch_timestamps(v, shape.value) for k, v in value.items()}
    return value


def drop_empty_objects(value: Any) -> Any:
    """AWS omits structures that are not configured; moto sends {} and the provider then sees empty blocks."""
    if isinstance(value, dict):
        return {k: drop_empty_objects(v) for k, v in value.items() if v != {}}
    if isinstance(value, list):
        return [drop_empty_objects(v) for v in value]
    return value


def fix_body(
    service: str, action: str, body: Any, postprocess: Callable[[str, Any], Any] | None = None
) -> Any:
    """Rewrite a JSON response body so that every timestamp member is epoch seconds (then `postprocess`)."""
    op = operation_model(service, action)
    if op is None or op.output_shape is None or not body:
        return body
    raw = body.decode() if isinstance(body, bytes) else body
    try:
        doc = json.loads(raw)
    except (TypeError, ValueError):
        return body
    doc = epoch_timestamps(doc, op.output_shape)
    if postprocess is not None:
        doc = postprocess(action, doc)
    fixed = json.dumps(doc)
    return fixed.encode() if isinstance(body, bytes) else fixed


def wrap_call_action(
    response_class: type, service: str, postprocess: Callable[[str, Any], Any] | None = None
) -> None:
    """Make every action of a moto response class return epoch timestamps (and apply `postprocess`)."""
    original = response_class.call_action
    if getattr(original, "_localcloud_wrapped", False):
        return

    def call_action(self):
        status, headers, body = original(self)
        if 200 <= int(status) < 300:
            body = fix_body(service, self._get_action(), body, postprocess)
            if "content-length" in {k.lower() for k in headers}:
                for key in [k for k in headers if k.lower() == "content-length"]:
                    headers[key] = str(len(body.encode() if isinstance(body, str) else body))
        return status, headers, body

    call_action._localcloud_wrapped = True
    response_class.call_action = call_action
