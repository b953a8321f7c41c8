"""An append-only JSON-lines record of every run the suite starts, how it ended and every message received.

The locust process writes it; the runner reads it afterwards to verify, independently, that nothing was lost.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any


class Ledger:
    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._file = path.open("a", buffering=1, encoding="utf-8")  # line-buffered: a crash loses nothing

    def write(self, record_type: str, **fields: Any) -> None:
        self._file.write(json.dumps({"type": record_type, "t": time.time(), **fields}, default=str) + "\n")

    def close(self) -> None:
        self._file.close()


def read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
