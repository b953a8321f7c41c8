"""The values every part of localcloud.iam passes around (no behaviour here).

A policy document is the parsed JSON (dict). Condition-key names are compared case-insensitively, as AWS does:
context dicts use lower-cased keys. Values are lists of strings (a single-valued key is a one-element list).
"""

from __future__ import annotations

from dataclasses import dataclass, field

ADMIN = "admin"  # the per-boot key pair of the harness and Terraform: never evaluated, never recorded
ROLE = "role"  # an STS session of an IAM role (workloads: Batch jobs, Lambdas, state machines)
USER = "user"  # an IAM user's access key
SERVICE = "service"  # an AWS service principal acting on our behalf (sns.amazonaws.com, events.amazonaws.com)


@dataclass(frozen=True)
class PolicySource:
    """One policy document and where it came from, for reasons and the report.

    name: "identity:<role arn>:<policy name>" (inline) or "identity:<policy arn>" (managed),
          "resource:<resource arn>" (bucket, queue, topic, function policy), "key:<key arn>" (KMS key policy),
          "trust:<role arn>" (a role's trust policy)."""

    name: str
    document: dict


@dataclass(frozen=True)
class Principal:
    kind: str  # ADMIN | ROLE | USER | SERVICE
    # role ARN (not the session ARN), user ARN, or the service name ("sns.amazonaws.com"); "" for ADMIN
    arn: str
    account: str | None = None  # None for services
    session_arn: str | None = None  # arn:aws:sts::<acct>:assumed-role/<role name>/<session> for ROLE
    identity_policies: tuple[PolicySource, ...] = ()

    @property
    def caller_arn(self) -> str:
        """What AWS names in an AccessDenied message ("User: <this> is not authorized ...")."""
        return self.session_arn or self.arn


@dataclass(frozen=True)
class Call:
    """One authorisation a request needs (a request may need several: PutObject with SSE-KMS needs
    s3:PutObject on the object and kms:GenerateDataKey on the key, via S3)."""

    action: str  # "s3:PutObject" (service prefix lower-case, action as AWS spells it)
    resource: str  # the ARN, or "*" for actions without resource-level permissions
    context: dict[str, list[str]] = field(
        default_factory=dict
    )  # request-specific condition keys, lower-cased
    via: str | None = None  # for implicit calls made by a service on the caller's behalf: "s3", "sns", "sqs"


@dataclass(frozen=True)
class StatementRef:
    source: str  # PolicySource.name
    index: int  # position in the document's Statement list
    sid: str | None


@dataclass(frozen=True)
class Decision:
    allowed: bool
    # Human-readable, AWS-style ending of a denial message: "because no identity-based policy allows the
    # s3:GetObject action", "with an explicit deny in a resource-based policy", ...
    reason: str
    allowed_by: tuple[StatementRef, ...] = ()  # the Allow statements that matched (all of them)
    denied_by: tuple[StatementRef, ...] = ()  # the Deny statements that matched
