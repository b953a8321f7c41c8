"""What moto's backends know about a call's resource: its resource policy, and the KMS key that protects it.

Resource policies: S3 bucket policy, SQS queue `Policy`, SNS topic `Policy`, KMS key policy (evaluated with
key_policy=True: IAM policies count for a key only when its policy delegates to the account), Lambda
function policy, and the CloudWatch Logs resource policies of the region (for service principals that write
logs). Anything else has none.
"""

from __future__ import annotations

import functools
import json
import urllib.parse
from dataclasses import replace
from typing import Any

from localcloud import config
from localcloud.iam.model import Call, PolicySource

PARTITION = "aws"


def _parts(arn: str) -> list[str]:
    parts = arn.split(":", 5)
    return parts if len(parts) == 6 and parts[0] == "arn" else []


def _document(text: Any) -> dict | None:
    if text is None or text == "":
        return None
    if isinstance(text, bytes):
        text = text.decode()
    if isinstance(text, dict):
        return text
    return parsed_policy(text)


@functools.lru_cache(maxsize=1024)
def parsed_policy(text: str) -> dict | None:
    """A policy document (resource or identity policy; IAM may keep it URL-encoded), parsed once per text:
    every request of a busy worker reads the same few policies. The evaluator only reads documents, so
    sharing one parsed dict is safe. None when the text is not a JSON object."""
    for candidate in (text, urllib.parse.unquote(text)):
        try:
            document = json.loads(candidate)
        except ValueError:
            continue
        return document if isinstance(document, dict) else None
    return None


# ---- KMS -------------------------------------------------------------------------------------------------


def kms_key(key_id: str | None, account: str = config.ACCOUNT_ID, region: str = config.REGION) -> Any | None:
    """moto's Key for a key id, key ARN, alias name or alias ARN; None when there is no such key."""
    if not key_id:
        return None
    from moto.kms.models import kms_backends

    parts = _parts(key_id)
    if parts:
        account, region = parts[4] or account, parts[3] or region
    backend = kms_backends[account][region]
    try:
        return backend.keys.get(backend.any_id_to_key_id(key_id))
    except Exception:  # an alias that names no key
        return None


def kms_key_arn(key_id: str | None) -> str | None:
    key = kms_key(key_id)
    return key.arn if key is not None else None


def canonical(call: Call) -> Call:
    """KMS authorises on the key, whatever alias the request named."""
    if call.action.startswith("kms:") and ":alias/" in call.resource:
        arn = kms_key_arn(call.resource)
        if arn:
            return replace(call, resource=arn)
    return call


# ---- S3 --------------------------------------------------------------------------------------------------


def _s3_backend():
    from moto.s3.models import s3_backends

    return s3_backends[config.ACCOUNT_ID][PARTITION]


def bucket(name: str) -> Any | None:
    try:
        return _s3_backend().buckets.get(name)
    except Exception:
        return None


def any_bucket_policy() -> bool:
    try:
        return any(b.policy for b in list(_s3_backend().buckets.values()))
    except Exception:
        return False


def bucket_default_kms_key(name: str) -> str | None:
    """The bucket's default SSE-KMS key (its encryption configuration), if any."""
    found = bucket(name)
    rule = ((found.encryption or {}).get("Rule") or {}) if found is not None else {}
    default = rule.get("ApplyServerSideEncryptionByDefault") or {}
    if str(default.get("SSEAlgorithm", "")).startswith("aws:kms"):
        return default.get("KMSMasterKeyID")
    return None


def object_kms_key(bucket_name: str, key_name: str, version_id: str | None = None) -> str | None:
    """The KMS key an existing object is encrypted with (None: missing or not SSE-KMS)."""
    try:
        found = _s3_backend().get_object(bucket_name, key_name, version_id=version_id)
    except Exception:
        return None
    if found is None or not str(getattr(found, "encryption", "") or "").startswith("aws:kms"):
        return None
    return getattr(found, "kms_key_id", None)


def object_exists(bucket_name: str, key_name: str) -> bool:
    """Whether the key's current version is an object (not missing, not a delete marker)."""
    try:
        return _s3_backend().get_object(bucket_name, key_name) is not None
    except Exception:
        return False


# ---- SQS / SNS -------------------------------------------------------------------------------------------


def queue(arn: str) -> Any | None:
    parts = _parts(arn)
    if not parts:
        return None
    from moto.sqs.models import sqs_backends

    try:
        return sqs_backends[parts[4]][parts[3]].queues.get(parts[5])
    except Exception:
        return None


def queue_kms_key(arn: str) -> str | None:
    found = queue(arn)
    return (getattr(found, "kms_master_key_id", None) or None) if found is not None else None


def topic(arn: str) -> Any | None:
    parts = _parts(arn)
    if not parts:
        return None
    from moto.sns.models import sns_backends

    try:
        return sns_backends[parts[4]][parts[3]].topics.get(arn)
    except Exception:
        return None


def topic_kms_key(arn: str) -> str | None:
    found = topic(arn)
    return (getattr(found, "kms_master_key_id", None) or None) if found is not None else None


# ---- resource policies -----------------------------------------------------------------------------------


def policy_for(call: Call) -> tuple[PolicySource | None, bool]:
    """(the resource policy of the call's resource, whether it is a KMS key policy)."""
    resource = call.resource
    parts = _parts(resource)
    if not parts:
        return None, False
    service = parts[2]
    if service == "s3":
        name = parts[5].split("/", 1)[0]
        found = bucket(name)
        document = _document(found.policy) if found is not None else None
        source = f"resource:arn:aws:s3:::{name}"
    elif service == "sqs":
        found = queue(resource)
        document = _document(found.policy) if found is not None else None
        source = f"resource:{resource}"
    elif service == "sns":
        found = topic(resource)
        document = _document(found.policy) if found is not None else None
        source = f"resource:{resource}"
    elif service == "kms":
        key = kms_key(resource)
        if key is None:
            return None, False
        return (PolicySource(f"key:{key.arn}", _document(key.policy) or {}), True)
    elif service == "lambda":
        document, source = _function_policy(parts)
    elif service == "logs":
        document, source = _logs_policies(parts[4], parts[3]), f"resource:logs:{parts[3]}"
    else:
        return None, False
    return (PolicySource(source, document), False) if document else (None, False)


def _function_policy(parts: list[str]) -> tuple[dict | None, str]:
    from moto.awslambda.models import lambda_backends

    resource = parts[5].split(":")  # function:<name>[:<qualifier>]
    if len(resource) < 2 or resource[0] != "function":
        return None, ""
    arn = f"arn:aws:lambda:{parts[3]}:{parts[4]}:function:{resource[1]}"
    try:
        function = lambda_backends[parts[4]][parts[3]].get_function(resource[1])
        document = function.policy.get_policy()["Policy"] if function.policy.statements else None
    except Exception:
        return None, ""
    return document, f"resource:{arn}"


def _logs_policies(account: str, region: str) -> dict | None:
    """Every CloudWatch Logs resource policy of the region, as one document (AWS evaluates them together)."""
    from moto.logs.models import logs_backends

    try:
        policies = list(logs_backends[account][region].resource_policies.values())
    except Exception:
        return None
    statements: list[dict] = []
    for policy in policies:
        document = _document(policy.policy_document) or {}
        found = document.get("Statement") or []
        statements += found if isinstance(found, list) else [found]
    return {"Version": "2012-10-17", "Statement": statements} if statements else None
