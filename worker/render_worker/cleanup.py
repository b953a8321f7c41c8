"""`python -m render_worker cleanup`: remove a run's scratch directory once the run has ended.

The workflow submits it as a small Batch job (same queue and job definition, so it mounts the same EFS
scratch) after the run's one message: Lambdas do not mount EFS. By then the render job has ended, so no child
attempt is left to resume from the progress records, and the spec cache has no reader left.

Environment: RUN_ID, FARM_ATTEMPT (the attempt whose scratch goes, default 1: each attempt of a run has its
own, render_worker.scratch), SCRATCH_DIR (the job definition's). Logs one line saying what it removed.
Exit codes: 0 removed, or nothing was there (a repeated clean-up succeeds); 1 the removal failed (retried, as
the job definition retries exit 1); 64 refused: a bad RUN_ID or FARM_ATTEMPT, no SCRATCH_DIR, or a run path
that is a symlink or not a directory (never retried: the job definition's evaluateOnExit fails any other code
at once).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from render_worker import logs, scratch

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_REFUSED = 64  # EX_USAGE
log = logs.get_logger("render_worker.cleanup")


def run(env: Mapping[str, str]) -> int:
    run_id = env.get("RUN_ID", "").strip()
    scratch_dir = env.get("SCRATCH_DIR", "").strip()
    logs.set_run_id(run_id or None)
    if not scratch_dir:  # no default here (the worker falls back to a temp dir): never guess what to delete
        log.error("scratch not removed", extra={"error": "SCRATCH_DIR is not set"})
        return EXIT_REFUSED
    try:
        removed = scratch.remove_run(Path(scratch_dir), run_id, _attempt(env))
    except scratch.UnsafeScratch as exc:
        log.error("scratch not removed", extra={"error": str(exc)})
        return EXIT_REFUSED
    except OSError as exc:
        log.error("scratch not removed", extra={"error": f"{type(exc).__name__}: {exc}"})
        return EXIT_FAILED
    log.info(
        "scratch removed" if removed.existed else "no scratch to remove",
        extra={"path": str(removed.path), "files": removed.files, "bytes": removed.bytes},
    )
    return EXIT_OK


def _attempt(env: Mapping[str, str]) -> int:
    """FARM_ATTEMPT as an integer (default 1); UnsafeScratch naming it when it is not one."""
    raw = env.get("FARM_ATTEMPT", "").strip() or "1"
    try:
        return int(raw)
    except ValueError:
        raise scratch.UnsafeScratch(f"FARM_ATTEMPT={raw!r} is not an integer") from None


def main() -> int:
    try:
        return run(os.environ)
    except Exception:  # anything unforeseen: log it whole, exit 1 (retried)
        log.exception("clean-up failed")
        return EXIT_FAILED
