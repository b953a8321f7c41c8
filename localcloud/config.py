"""Where the local cloud lives: port, state directory, region, account (docs/contracts.md); its credentials
are issued per boot (localcloud/credentials.py)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

DEFAULT_PORT = 4599
HOST = "127.0.0.1"
REGION = "us-east-1"
ACCOUNT_ID = "123456789012"
# The fixed key of old, which the local cloud refuses now: nothing of the harness sends it (credentials.py
# issues a key pair per boot); named here only for the tests and the IAM layer that prove the refusal.
ACCESS_KEY_ID = "test"

REPO_ROOT = Path(__file__).resolve().parent.parent
PID_FILE = "localcloud.pid"
LOG_FILE = "localcloud.log"
BOOT_ID_FILE = "boot_id"
HEALTH_PATH = "/_localcloud/health"
# {"count", "injected", "recent"}: answers >= 500 and unhandled exceptions since boot (localcloud/server.py).
ERRORS_PATH = "/_localcloud/errors"
# A 5xx answer carrying this response header (value "1"), or whose WSGI environ has INJECTED_ENVIRON set
# truthy, was made on purpose (fault injection): it is counted under "injected", not as an error.
INJECTED_HEADER = "x-localcloud-injected"
INJECTED_ENVIRON = "localcloud.injected"
# Every job and Lambda process carries this variable, so `down` can find strays even after a hard crash.
BOOT_ID_ENV = "LOCALCLOUD_BOOT_ID"


def port(value: int | None = None) -> int:
    return int(value if value is not None else os.environ.get("LOCALCLOUD_PORT", DEFAULT_PORT))


def state_dir(value: str | os.PathLike[str] | None = None) -> Path:
    raw = value if value is not None else os.environ.get("LOCALCLOUD_STATE_DIR", REPO_ROOT / ".localcloud")
    return Path(raw).resolve()


def endpoint(port_value: int | None = None) -> str:
    return f"http://{HOST}:{port(port_value)}"


def python_bin_dir() -> Path:
    """The bin directory of the Python running the local cloud (the project's .venv), put first on PATH."""
    return Path(sys.executable).parent


def batch_concurrency() -> int:
    """The host's cap on Batch jobs and array children running at once (LOCALCLOUD_BATCH_CONCURRENCY, default
    the cores), whatever the compute environments allow: within it, batch_runner.SlotPool places each job on
    the first environment of its queue with free vCPUs for it, as AWS does."""
    return max(1, int(os.environ.get("LOCALCLOUD_BATCH_CONCURRENCY") or os.cpu_count() or 1))


def aws_env(endpoint_url: str) -> dict[str, str]:
    """AWS_ENDPOINT_URL, the admin key pair the running boot of the cloud at `endpoint_url` issued, and the
    region: what boto3, the AWS CLI or Terraform need to call it (credentials.NoCredentials when none)."""
    from localcloud import credentials

    return {**credentials.for_endpoint(endpoint_url).env(), "AWS_ENDPOINT_URL": endpoint_url}
