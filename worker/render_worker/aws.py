"""boto3 clients, created once per process and shared by threads (boto3 clients are thread-safe).

No endpoint is set here: boto3 reads AWS_ENDPOINT_URL itself, which is how the local cloud is reached.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
from botocore.config import Config

_lock = threading.Lock()
_clients: dict[tuple[str, int], Any] = {}


def client(service: str, pool: int = 10) -> Any:
    """One client per (service, connection pool size); the pool should match the threads that share it."""
    key = (service, pool)
    with _lock:
        if key not in _clients:
            config = Config(max_pool_connections=pool, retries={"mode": "standard", "max_attempts": 5})
            _clients[key] = boto3.client(service, config=config)
        return _clients[key]


def reset() -> None:
    """Forget every client (tests switch between moto contexts)."""
    with _lock:
        _clients.clear()
