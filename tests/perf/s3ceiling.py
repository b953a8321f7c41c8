"""The local S3 ceiling (issue 13): the bare-PUT rate with the local cloud's speed-ups of moto on and off in
the same run, and the same PUTs against stock moto, for the report's "local S3 vs stock moto" ratio.

Both measure with `bench.bare_puts` (the worker's headers, concurrency 16), so the numbers compare with the
suite's bare-PUT rate. Each function returns a JSON-able dict; the perf harness calls them.
"""

from __future__ import annotations

import os
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

from tests.perf import bench

STOCK_BUCKET = "stock-moto-renders"
STOCK_START_TIMEOUT_S = 60.0
WARM_UP_PUTS = 16  # one round of the pool: connections open before the first timed run

# Stock moto as a server, in its own process, with the werkzeug access log quiet as the local cloud runs it
# (LOCALCLOUD_ACCESS_LOG unset). It stops when its stdin closes.
_STOCK_SERVER = """
import logging, sys
logging.getLogger("werkzeug").setLevel(logging.WARNING)
from moto.moto_server.threaded_moto_server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
print("ready", flush=True)
sys.stdin.read()
server.stop()
"""


def _rate(bodies: list[tuple[str, bytes]], seconds: float) -> float:
    return round(len(bodies) / seconds, 1)


def _warm_up(s3, bucket: str, prefix: str, bodies: list[tuple[str, bytes]], kms_key: str | None) -> None:
    bench.bare_puts(s3, bucket, prefix, bodies[:WARM_UP_PUTS], kms_key)


def _server_pid(endpoint: str) -> int | None:
    """The local cloud's process id (its health document), when its CPU time is readable from here."""
    import json
    import urllib.request

    from localcloud import config

    with urllib.request.urlopen(endpoint.rstrip("/") + config.HEALTH_PATH, timeout=10) as answer:  # noqa: S310
        pid = json.load(answer).get("pid")
    return pid if pid and os.path.exists(f"/proc/{pid}/stat") else None


def _cpu_seconds(pid: int | None) -> float | None:
    """utime + stime of a process (Linux /proc), or None."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def speedup_ab(stack, bodies: list[tuple[str, bytes]], repeats: int = 3) -> dict[str, Any]:
    """Bare PUT rates on the stack's renders bucket with the speed-ups on and off, interleaved (on, off, on,
    off, ...) so drift and noise fall on both alike; the switch is left on whatever happens. Beside the
    rates, the server's CPU ms per PUT each way (when the local cloud's process is readable from here): the
    client shares the machine, so the rate moves less than the server's cost does."""
    from localcloud import speedups

    endpoint = stack["endpoint_url"]
    pid = _server_pid(endpoint)
    cpu: dict[bool, list[float]] = {True: [], False: []}
    s3 = stack.client("s3")
    bucket = stack["renders_bucket"]
    kms_key = (stack.outputs.get("kms_key_arns") or {}).get("storage")
    run = f"perf-speedups-{uuid.uuid4().hex[:8]}"
    on_runs: list[float] = []
    off_runs: list[float] = []
    try:
        _warm_up(s3, bucket, f"{run}/warm-up/", bodies, kms_key)
        for n in range(repeats):
            for enabled, runs in ((True, on_runs), (False, off_runs)):
                speedups.set(endpoint, enabled)
                label = "on" if enabled else "off"
                before = _cpu_seconds(pid)
                seconds = bench.bare_puts(s3, bucket, f"{run}/{label}-{n}/", bodies, kms_key)
                after = _cpu_seconds(pid)
                runs.append(_rate(bodies, seconds))
                if before is not None and after is not None:
                    cpu[enabled].append(round((after - before) * 1000 / len(bodies), 3))
    finally:
        speedups.set(endpoint, True)
    on_per_s, off_per_s = statistics.median(on_runs), statistics.median(off_runs)
    return {
        "on_runs": on_runs,
        "off_runs": off_runs,
        "on_per_s": on_per_s,
        "off_per_s": off_per_s,
        "ratio": round(on_per_s / off_per_s, 3),
        "server_cpu_ms_per_put": (
            {"on": statistics.median(cpu[True]), "off": statistics.median(cpu[False])} if cpu[True] else None
        ),
        "puts_per_run": len(bodies),
        "concurrency": bench.UPLOAD_CONCURRENCY,
        "order": "interleaved: on, off, on, off, ... (median of each)",
    }


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_ready(proc: subprocess.Popen, port: int) -> None:
    """The server printed "ready" and its port takes connections (or it died: say so with its output)."""
    line = proc.stdout.readline() if proc.stdout else ""
    deadline = time.monotonic() + STOCK_START_TIMEOUT_S
    while line.strip() == "ready" and time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.1)
    proc.kill()
    _, err = proc.communicate(timeout=10)
    raise RuntimeError(f"stock moto did not start on port {port} (said {line.strip()!r}): {err[-800:]}")


def _stop(proc: subprocess.Popen) -> None:
    try:
        if proc.stdin:
            proc.stdin.close()  # the server's signal to stop
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=10)


def _stock_client(service: str, port: int):
    import boto3
    from botocore.config import Config

    return boto3.client(
        service,
        endpoint_url=f"http://127.0.0.1:{port}",
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - stock moto takes any keys
        config=Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=32),
    )


def stock_moto_rate(bodies: list[tuple[str, bytes]], repeats: int = 3, kms: bool = True) -> dict[str, Any]:
    """The same bare PUTs against stock moto (the pinned version's ThreadedMotoServer in a subprocess on a
    free loopback port, access log quiet): median PUT/s of `repeats` runs, and the median of the server's CPU
    ms per PUT. The server is always stopped."""
    import moto

    port = _free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_ENDPOINT_URL", "MOTO_"))}
    proc = subprocess.Popen(
        [sys.executable, "-c", _STOCK_SERVER, str(port)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        _wait_ready(proc, port)
        s3 = _stock_client("s3", port)
        s3.create_bucket(Bucket=STOCK_BUCKET)
        s3.put_bucket_versioning(Bucket=STOCK_BUCKET, VersioningConfiguration={"Status": "Enabled"})
        kms_key = None
        if kms:
            kms_key = _stock_client("kms", port).create_key(Description="stock moto renders")["KeyMetadata"][
                "Arn"
            ]
            rule = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": kms_key}
            s3.put_bucket_encryption(
                Bucket=STOCK_BUCKET,
                ServerSideEncryptionConfiguration={
                    "Rules": [{"ApplyServerSideEncryptionByDefault": rule, "BucketKeyEnabled": True}]
                },
            )
        _warm_up(s3, STOCK_BUCKET, "warm-up/", bodies, kms_key)
        runs, cpu = [], []
        for n in range(repeats):
            before = _cpu_seconds(proc.pid)
            runs.append(_rate(bodies, bench.bare_puts(s3, STOCK_BUCKET, f"run-{n}/", bodies, kms_key)))
            after = _cpu_seconds(proc.pid)
            if before is not None and after is not None:
                cpu.append(round((after - before) * 1000 / len(bodies), 3))
    finally:
        _stop(proc)
    encryption = (
        "default SSE aws:kms with a customer key (BucketKeyEnabled), the PUTs naming that key"
        if kms
        else "no default encryption, the PUTs asking for aws:kms without a key id"
    )
    return {
        "per_s": statistics.median(runs),
        "runs": runs,
        "server_cpu_ms_per_put": statistics.median(cpu) if cpu else None,
        "puts_per_run": len(bodies),
        "concurrency": bench.UPLOAD_CONCURRENCY,
        "moto": moto.__version__,
        "setup": (
            f"stock moto {moto.__version__} (ThreadedMotoServer, access log quiet) with one bucket: "
            f"versioning Enabled, {encryption}; no bucket policy (stock moto cannot evaluate its conditions)."
        ),
    }
