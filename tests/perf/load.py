"""The locust phase: run tests/perf/locustfile.py headless in a subprocess (gevent stays out of the runner),
bounded in users, run time and runs, and read back its per-operation statistics.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.paths import REPO as ROOT
from tests.perf.profiles import Profile

LOCUSTFILE = Path(__file__).with_name("locustfile.py")


@dataclass
class LoadResult:
    wall_s: float
    exit_code: int
    operations: dict[str, dict[str, Any]]
    failures: list[dict[str, Any]] = field(default_factory=list)
    log_path: str = ""


def run_load(
    profile: Profile, *, session: str, outputs_json: Path, ledger: Path, work_dir: Path
) -> LoadResult:
    users = profile.execution_users + profile.batch_users
    config = {
        "session": session,
        "ledger": str(ledger),
        "execution_users": profile.execution_users,
        "batch_users": profile.batch_users,
        "iterations": profile.iterations,
        "run_variants": profile.run_variants,
        "run_variants_per_child": profile.run_variants_per_child,
        "run_timeout_s": profile.run_timeout_s,
    }
    config_path = work_dir / "locust-config.json"
    config_path.write_text(json.dumps(config, indent=2))
    csv_prefix = work_dir / "locust"
    log_path = work_dir / "locust.log"
    cmd = [
        sys.executable, "-m", "locust", "-f", str(LOCUSTFILE), "--headless",
        "-u", str(users), "-r", str(users), "--run-time", f"{profile.run_time_s}s", "--stop-timeout", "5",
        "--csv", str(csv_prefix), "--only-summary", "--exit-code-on-error", "0", "--loglevel", "WARNING",
    ]  # fmt: skip
    env = {
        **os.environ,
        "PERF_CONFIG": str(config_path),
        "FARM_OUTPUTS_JSON": str(outputs_json),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])),
    }
    shape = f"{profile.execution_users} executions + {profile.batch_users} Batch jobs x {profile.iterations}"
    print(f"perf: locust {profile.name}: {shape}, at most {profile.run_time_s} s", flush=True)
    started = time.monotonic()
    with log_path.open("w") as log:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              timeout=profile.run_time_s + 120, check=False)  # fmt: skip
    wall = time.monotonic() - started
    return LoadResult(
        wall_s=wall,
        exit_code=proc.returncode,
        operations=read_stats(Path(f"{csv_prefix}_stats.csv"), wall),
        failures=read_failures(Path(f"{csv_prefix}_failures.csv")),
        log_path=str(log_path),
    )


def _number(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def read_stats(path: Path, wall_s: float) -> dict[str, dict[str, Any]]:
    """Per operation: count, failures, p50/p95/max latency in ms (locust's percentiles), rate per second."""
    if not path.exists():
        return {}
    operations: dict[str, dict[str, Any]] = {}
    with path.open(newline="") as handle:
        for row in csv.DictReader(handle):
            name = f"{row['Type']} {row['Name']}".strip() if row["Name"] != "Aggregated" else "Aggregated"
            count = int(row["Request Count"])
            operations[name] = {
                "count": count,
                "failures": int(row["Failure Count"]),
                "p50_ms": _number(row["50%"]),
                "p95_ms": _number(row["95%"]),
                "max_ms": _number(row["Max Response Time"]),
                "per_s": round(count / wall_s, 3) if wall_s else None,
            }
    return operations


def read_failures(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open(newline="") as handle:
        return [
            {
                "operation": f"{row['Method']} {row['Name']}",
                "error": row["Error"],
                "count": int(row["Occurrences"]),
            }
            for row in csv.DictReader(handle)
        ]
