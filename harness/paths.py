"""The one notion of where the repository is: everything the harness reads or writes is relative to it."""

from __future__ import annotations

from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
BUILD = REPO / "build"
