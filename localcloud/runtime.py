"""How a workload (a Batch job, a Lambda invocation, a Step Functions execution) reaches AWS: the one layer
every executor goes through, so that role credentials (and, later, process-or-container and limits) are
written once.

`role_credentials(role_arn, session_name, service)` does what the service does on AWS before the workload
runs: it checks that the role's trust policy admits the service (with aws:SourceAccount = this account, the
confused-deputy guard every trust policy of the stack carries), then assumes the role through moto's STS
backend (in process) and returns the credentials as environment variables. A role the service may not
assume raises RoleNotAssumable, whose message names the role.

`workload_env(credentials)` is what a workload process gets to call back into the local cloud: the endpoint
and region, and the role's credentials (or none: a job definition without jobRoleArn gets none, as on AWS,
and boto3 must not find the host's own files or the instance metadata service instead).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time

from localcloud import config
from localcloud.iam.model import SERVICE, Call, Decision, PolicySource, Principal

log = logging.getLogger("localcloud.runtime")

ECS_TASKS = "ecs-tasks.amazonaws.com"  # Batch jobs (the ECS agent assumes the job role)
LAMBDA = "lambda.amazonaws.com"
STATES = "states.amazonaws.com"

SESSION_SECONDS = 12 * 3600  # long enough for any local run: sessions are not refreshed
_REUSE_SECONDS = 15 * 60  # Lambda and Step Functions reuse one session per role and name this long
_SESSION_NAME = re.compile(r"[^\w+=,.@-]")


class RoleNotAssumable(Exception):
    """The service may not assume the role (trust policy), or the role does not exist."""

    def __init__(self, role_arn: str, service: str, reason: str):
        self.role_arn = role_arn
        self.service = service
        self.reason = reason
        super().__init__(f"{service} is not authorized to assume the role {role_arn}: {reason}")


def mode() -> str:
    """LOCALCLOUD_IAM: enforce (default) | record (decide and record, never refuse) | off."""
    value = (os.environ.get("LOCALCLOUD_IAM") or "enforce").strip().lower()
    return value if value in ("enforce", "record", "off") else "enforce"


def session_name(value: str) -> str:
    """An STS RoleSessionName (2-64 of [\\w+=,.@-]) made from a job id, function or execution name."""
    cleaned = _SESSION_NAME.sub("-", value)[:64]
    return cleaned if len(cleaned) >= 2 else f"{cleaned}--"[:2]


_cache: dict[tuple[str, str, str], tuple[float, dict[str, str]]] = {}
_cache_lock = threading.Lock()


def role_credentials(
    role_arn: str, session: str, service: str, *, source_arn: str | None = None, reuse: bool = False
) -> dict[str, str]:
    """AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN of a fresh session of the role, as
    `service` would obtain it. `reuse`: hand out the same session for the same role and name for a while
    (Lambda execution environments and Step Functions do; a Batch job's session is its own)."""
    name = session_name(session)
    key = (role_arn, name, service)
    if reuse:
        with _cache_lock:
            cached = _cache.get(key)
            if cached and cached[0] > time.monotonic():
                return dict(cached[1])
    check_trust(role_arn, service, source_arn=source_arn)
    credentials = _assume(role_arn, name)
    if reuse:
        with _cache_lock:
            _cache[key] = (time.monotonic() + _REUSE_SECONDS, credentials)
    return dict(credentials)


def check_trust(role_arn: str, service: str, *, source_arn: str | None = None) -> Decision:
    """Whether `service` may assume the role; recorded as a call of the service principal. Raises
    RoleNotAssumable when it may not (unless LOCALCLOUD_IAM is record or off)."""
    from localcloud.iam import principals, record

    account = _account_of(role_arn)
    role = principals.find_role(role_arn)
    if role is None:
        raise RoleNotAssumable(role_arn, service, "the role does not exist")
    if mode() == "off":
        return Decision(allowed=True, reason="IAM is off")
    from localcloud.iam import policy

    trust = PolicySource(f"trust:{role_arn}", json.loads(role.assume_role_policy_document or "{}"))
    context = {"aws:sourceaccount": [account], "aws:principalservicename": [service]}
    if source_arn:
        context["aws:sourcearn"] = [source_arn]
    decision = policy.trust_allows(trust, service, context)
    record.add(Principal(kind=SERVICE, arn=service), Call("sts:AssumeRole", role_arn), decision)
    if not decision.allowed:
        log.warning("%s may not assume %s: %s", service, role_arn, decision.reason)
        if mode() == "enforce":
            raise RoleNotAssumable(role_arn, service, decision.reason)
    return decision


def _account_of(role_arn: str) -> str:
    parts = role_arn.split(":")
    return parts[4] if len(parts) > 4 and parts[4] else config.ACCOUNT_ID


def _assume(role_arn: str, name: str) -> dict[str, str]:
    from moto.sts.models import sts_backends

    from localcloud.iam import principals

    backend = sts_backends[_account_of(role_arn)]["aws"]
    assumed = backend.assume_role(
        region_name=config.REGION,
        role_session_name=name,
        role_arn=role_arn,
        policy=None,
        duration=SESSION_SECONDS,
        external_id=None,
    )
    principals.remember_session(assumed)
    return {
        "AWS_ACCESS_KEY_ID": assumed.access_key_id,
        "AWS_SECRET_ACCESS_KEY": assumed.secret_access_key,
        "AWS_SESSION_TOKEN": assumed.session_token,
    }


def workload_env(endpoint_url: str, credentials: dict[str, str] | None) -> dict[str, str]:
    """The AWS part of a workload process's environment."""
    env = {
        "AWS_ENDPOINT_URL": endpoint_url,
        "AWS_REGION": config.REGION,
        "AWS_DEFAULT_REGION": config.REGION,
        # Only what this layer hands out: not the host user's files, not the instance metadata service.
        "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
        "AWS_CONFIG_FILE": os.devnull,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    env.update(credentials or {})
    return env


# Every credential variable a workload could inherit; workload_env decides which of them it gets.
CREDENTIAL_VARIABLES = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE")
