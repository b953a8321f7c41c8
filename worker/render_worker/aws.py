"""boto3 clients, created once per process and shared by threads (boto3 clients are thread-safe).

No endpoint is set here: boto3 reads AWS_ENDPOINT_URL itself, which is how the local cloud is reached.

Response timestamps in S3's own form (`2026-11-30T12:00:00.000Z`, every LastModified of a listing) are parsed
with `datetime.fromisoformat` instead of botocore's general dateutil parser: the same aware UTC datetime, and
most of the client's CPU when PublishResults lists a run of 10,000 renders. Any other form goes to botocore's
parser, as before.
"""

from __future__ import annotations

import re
import threading
from datetime import datetime
from typing import Any

import boto3
from botocore.config import Config
from botocore.utils import parse_timestamp
from dateutil.tz import tzutc

_S3_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3}|\.\d{6})?Z\Z")
_UTC = tzutc()  # what botocore's parser gives a "Z" timestamp

_lock = threading.Lock()
_clients: dict[tuple[str, int], Any] = {}


def parse_response_timestamp(value: str) -> datetime:
    """botocore's timestamp parser, with a fast path for the ISO 8601 form S3 answers with."""
    if isinstance(value, str) and _S3_TIMESTAMP.match(value):
        return datetime.fromisoformat(value[:-1]).replace(tzinfo=_UTC)
    return parse_timestamp(value)


def client(service: str, pool: int = 10) -> Any:
    """One client per (service, connection pool size); the pool should match the threads that share it."""
    key = (service, pool)
    with _lock:
        if key not in _clients:
            config = Config(max_pool_connections=pool, retries={"mode": "standard", "max_attempts": 5})
            session = boto3.session.Session()
            parsers = session._session.get_component("response_parser_factory")  # this session's only
            parsers.set_parser_defaults(timestamp_parser=parse_response_timestamp)
            _clients[key] = session.client(service, config=config)
        return _clients[key]


def reset() -> None:
    """Forget every client (tests switch between moto contexts)."""
    with _lock:
        _clients.clear()
