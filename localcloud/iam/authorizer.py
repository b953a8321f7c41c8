"""The WSGI middleware that authorises every request to moto as IAM would, and the same check for calls the
services make themselves (SNS and EventBridge deliveries, see localcloud/patches/iam_*_delivery.py).

A request: its access key -> principals.resolve (unknown key or anonymous: refused) -> its SigV4 signature
checked with the key's secret (signature.py; admin requests too) -> admin: passed through untouched, nothing
recorded -> requests.calls(service, environ, body) -> the explicit calls plus the
KMS calls AWS makes for the caller (S3 SSE-KMS, encrypted SNS topics and SQS queues) -> each evaluated with
the resource's policy (resources.policy_for) and the global condition keys -> recorded (record.py). The
first denial is answered in the service's own format with AWS's message; LOCALCLOUD_IAM=record decides and
records but never refuses, `off` skips everything (runtime.mode).
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from collections.abc import Callable, Iterable
from typing import Any

from localcloud import config, runtime
from localcloud.iam import principals, record, resources
from localcloud.iam.model import SERVICE, USER, Call, Decision, PolicySource, Principal
from localcloud.server import read_body

log = logging.getLogger("localcloud.iam")

OWN_ROUTES = "/_localcloud/"
NOT_MODELLED = "is not modelled by the local cloud's IAM (localcloud/iam/requests.py): refused, not guessed"
ANONYMOUS = "Anonymous requests are refused: sign them with credentials the local cloud issued."


def via_service(service: str) -> str:
    return f"{service}.{config.REGION}.amazonaws.com"


# ---- condition keys --------------------------------------------------------------------------------------


def request_context(identity: principals.Identity, environ: dict[str, Any]) -> dict[str, list[str]]:
    """The global condition keys of a request (lower-cased), on top of those that describe the caller."""
    now = time.time()
    context = dict(identity.context)
    context.update(
        {
            # The endpoint is plain HTTP on loopback; the stack's TLS-only statements are not exercised
            # (a difference from AWS, listed in localcloud/README.md).
            "aws:securetransport": ["true"],
            "aws:sourceip": [environ.get("REMOTE_ADDR") or config.HOST],
            "aws:requestedregion": [config.REGION],
            "aws:currenttime": [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))],
            "aws:epochtime": [str(int(now))],
            "aws:viaawsservice": ["false"],
        }
    )
    return context


def call_context(principal: Principal, call: Call, context: dict[str, list[str]]) -> dict[str, list[str]]:
    """The keys one call adds: KMS's caller account and, for a call a service makes for the caller, the
    service it comes through."""
    merged = dict(context)
    if call.action.startswith("kms:") and principal.account:
        merged["kms:calleraccount"] = [principal.account]
    if call.via:
        merged["kms:viaservice"] = [via_service(call.via)]
        merged["aws:viaawsservice"] = ["true"]
    return merged


# ---- decisions -------------------------------------------------------------------------------------------


def decide(
    principal: Principal, call: Call, context: dict[str, list[str]], *, recorded: bool = True
) -> tuple[Call, Decision]:
    """Evaluate one call with its resource's policy, and record the decision."""
    from localcloud.iam import policy

    call = resources.canonical(call)
    resource_policy, key_policy = resources.policy_for(call)
    try:
        decision = policy.evaluate(
            principal,
            call,
            resource_policy,
            key_policy=key_policy,
            context=call_context(principal, call, context),
        )
    except ValueError as err:  # a malformed policy grants nothing
        log.warning("malformed policy for %s on %s: %s", call.action, call.resource, err)
        decision = Decision(False, f"because a policy is malformed: {err}")
    if recorded:
        record.add(principal, call, decision)
    return call, decision


def first_denial(
    principal: Principal, calls: Iterable[Call], context: dict[str, list[str]], *, recorded: bool = True
) -> tuple[Call, Decision] | None:
    """Evaluate the calls in order, as AWS does, up to the first denial."""
    for call in calls:
        call, decision = decide(principal, call, context, recorded=recorded)
        if not decision.allowed:
            return call, decision
    return None


def denial_message(principal: Principal, call: Call, decision: Decision) -> str:
    return (
        f"User: {principal.caller_arn} is not authorized to perform: {call.action} "
        f"on resource: {call.resource} {decision.reason}"
    ).rstrip()


def _unless_recording(
    principal: Principal, denied: tuple[Call, Decision] | None
) -> tuple[Call, Decision] | None:
    """A denial outside any request (a delivery, a service acting as a role): logged, and returned unless
    LOCALCLOUD_IAM=record (decide and record, never refuse)."""
    if denied is None:
        return None
    log.warning("denied: %s", denial_message(principal, *denied))
    return None if runtime.mode() == "record" else denied


def service_allows(
    service: str, calls: Iterable[Call], *, source_arn: str, source_account: str = config.ACCOUNT_ID
) -> tuple[Call, Decision] | None:
    """A service principal acting on our behalf (sns.amazonaws.com delivering to a queue, ...): None when
    every call is allowed by the resource policies, else the first denial (recorded and logged either way).
    With LOCALCLOUD_IAM=off nothing is evaluated; with record a denial is recorded but not returned."""
    if runtime.mode() == "off":
        return None
    principal = Principal(kind=SERVICE, arn=service)
    context = {
        "aws:sourcearn": [source_arn],
        "aws:sourceaccount": [source_account],
        "aws:principalservicename": [service],
        "aws:principalisawsservice": ["true"],
        "aws:securetransport": ["true"],
        "aws:requestedregion": [config.REGION],
    }
    return _unless_recording(principal, first_denial(principal, calls, context))


def role_allows(
    role_arn: str, calls: Iterable[Call], *, session: str | None = None
) -> tuple[Call, Decision] | None:
    """A service acting with a role's permissions outside any request (Lambda writing a function's logs as
    its execution role): None when allowed, else the first denial (recorded and logged either way)."""
    if runtime.mode() == "off":
        return None
    account = role_arn.split(":")[4]
    session_arn = (
        f"arn:aws:sts::{account}:assumed-role/{role_arn.rsplit('/', 1)[-1]}/{session}" if session else None
    )
    principal = principals.role_principal(role_arn, session_arn=session_arn)
    context = {
        "aws:principalarn": [role_arn],
        "aws:principalaccount": [account],
        "aws:principaltype": ["AssumedRole"],
        "aws:securetransport": ["true"],
        "aws:requestedregion": [config.REGION],
    }
    return _unless_recording(principal, first_denial(principal, calls, context))


# ---- implicit KMS calls ----------------------------------------------------------------------------------


def managed_by_aws(key_id: str | None) -> bool:
    """AWS-managed keys (alias/aws/s3, ...) admit every principal of the account through their service."""
    if not key_id:
        return True
    if key_id.startswith("alias/aws/") or ":alias/aws/" in key_id:
        return True
    key = resources.kms_key(key_id)
    return key is not None and getattr(key, "key_manager", "CUSTOMER") == "AWS"


def _kms_call(action: str, key_id: str | None, via: str, context: dict[str, list[str]]) -> Call | None:
    if managed_by_aws(key_id):
        return None
    arn = resources.kms_key_arn(key_id)
    if arn is None:
        return None  # the service itself answers that the key does not exist
    return Call(action, arn, context=context, via=via)


def _header(environ: dict[str, Any], name: str) -> str | None:
    return environ.get("HTTP_" + name.upper().replace("-", "_"))


def _s3_object(call: Call) -> tuple[str, str] | None:
    if not call.resource.startswith("arn:aws:s3:::") or "/" not in call.resource:
        return None
    bucket, key = call.resource[len("arn:aws:s3:::") :].split("/", 1)
    return bucket, key


def _s3_put_key(environ: dict[str, Any], bucket: str) -> str | None:
    sse = _header(environ, "x-amz-server-side-encryption")
    if sse and not sse.startswith("aws:kms"):
        return None
    return _header(environ, "x-amz-server-side-encryption-aws-kms-key-id") or bucket_default(bucket, sse)


def bucket_default(bucket: str, sse: str | None) -> str | None:
    key = resources.bucket_default_kms_key(bucket)
    if key or not sse:
        return key
    return "alias/aws/s3"  # aws:kms without a key id and no default key: S3's AWS-managed key


def _s3_kms_calls(environ: dict[str, Any], calls: list[Call]) -> list[Call]:
    method = environ.get("REQUEST_METHOD")
    query = urllib.parse.parse_qs(environ.get("QUERY_STRING") or "", keep_blank_values=True)
    found: list[Call] = []
    for call in calls:
        target = _s3_object(call)
        if target is None:
            continue
        bucket, key = target
        context = {"kms:encryptioncontext:aws:s3:arn": [call.resource]}
        if call.action == "s3:PutObject" and method == "PUT" and "partNumber" in query:
            upload = _multipart(bucket, (query.get("uploadId") or [""])[0])
            found.append(_kms_call("kms:Decrypt", upload, "s3", context))  # UploadPart(Copy)
        elif call.action == "s3:PutObject" and method in ("PUT", "POST") and ("uploadId" not in query):
            # PutObject, CopyObject (destination), CreateMultipartUpload (POST ?uploads)
            found.append(_kms_call("kms:GenerateDataKey", _s3_put_key(environ, bucket), "s3", context))
        elif call.action in ("s3:GetObject", "s3:GetObjectVersion") and method in ("GET", "PUT"):
            # GetObject, or the source of CopyObject / UploadPartCopy (HeadObject decrypts nothing)
            version = _read_version(method, query, environ)
            if version is not False:
                object_key = resources.object_kms_key(bucket, key, version or None)
                found.append(_kms_call("kms:Decrypt", object_key, "s3", context))
    return [c for c in found if c is not None]


def _read_version(method: str, query: dict[str, list[str]], environ: dict[str, Any]) -> str | bool:
    """The version a read names ("" for the current one), or False when the request reads no object."""
    if method == "GET":
        return (query.get("versionId") or [""])[0]
    source = _header(environ, "x-amz-copy-source")
    if not source:
        return False
    source_query = urllib.parse.parse_qs(urllib.parse.urlsplit(source).query)
    return (source_query.get("versionId") or [""])[0]


def _multipart(bucket: str, upload_id: str) -> str | None:
    found = resources.bucket(bucket)
    upload = (getattr(found, "multiparts", None) or {}).get(upload_id) if found is not None else None
    return getattr(upload, "kms_key_id", None) if upload is not None else None


def _messaging_kms_calls(calls: list[Call]) -> list[Call]:
    found: list[Call | None] = []
    for call in calls:
        if call.action in ("sns:Publish", "sns:PublishBatch"):
            key = resources.topic_kms_key(call.resource)
            context = {"kms:encryptioncontext:aws:sns:topicarn": [call.resource]}
            found.append(_kms_call("kms:GenerateDataKey", key, "sns", context))
            found.append(_kms_call("kms:Decrypt", key, "sns", context))
        elif call.action in ("sqs:SendMessage", "sqs:SendMessageBatch"):
            context = {"kms:encryptioncontext:aws:sqs:arn": [call.resource]}
            found.append(
                _kms_call("kms:GenerateDataKey", resources.queue_kms_key(call.resource), "sqs", context)
            )
        elif call.action == "sqs:ReceiveMessage":
            context = {"kms:encryptioncontext:aws:sqs:arn": [call.resource]}
            found.append(_kms_call("kms:Decrypt", resources.queue_kms_key(call.resource), "sqs", context))
    return [c for c in found if c is not None]


def _s3_missing_key_calls(environ: dict[str, Any], calls: list[Call]) -> list[Call]:
    """A read of a key that does not exist: S3 answers 404 only to a caller who may list the bucket, else 403
    (so a caller cannot probe for keys). ValidateInput's `TellMissingSpecs` grant exists for this."""
    versioned = "versionId" in (environ.get("QUERY_STRING") or "")
    if environ.get("REQUEST_METHOD") not in ("GET", "HEAD") or versioned:
        return []
    found = []
    for call in calls:
        target = _s3_object(call) if call.action == "s3:GetObject" else None
        if target is not None and not resources.object_exists(*target):
            found.append(Call("s3:ListBucket", f"arn:aws:s3:::{target[0]}"))
    return found


def implicit_calls(service: str, environ: dict[str, Any], calls: list[Call]) -> list[Call]:
    """The calls the service makes with the caller's permissions: KMS for encrypted data, and S3's listing
    check on a missing key."""
    if service == "s3":
        return _s3_missing_key_calls(environ, calls) + _s3_kms_calls(environ, calls)
    if service in ("sns", "sqs"):
        return _messaging_kms_calls(calls)
    return []


# ---- the middleware --------------------------------------------------------------------------------------


def _guess_action(service: str, environ: dict[str, Any], body: bytes) -> str:
    target = environ.get("HTTP_X_AMZ_TARGET") or ""
    if target:
        return f"{service}:{target.rsplit('.', 1)[-1]}"
    params = urllib.parse.parse_qs(environ.get("QUERY_STRING") or "")
    if "Action" not in params and body[:200].find(b"Action=") >= 0:
        params = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
    action = (params.get("Action") or [None])[0]
    return f"{service}:{action or environ.get('REQUEST_METHOD', '?') + ' ' + environ.get('PATH_INFO', '')}"


# The account's administrators as IAM sees them: everything allowed by identity policy, so that only an
# explicit Deny of a resource policy can refuse them.
ACCOUNT_ROOT = Principal(
    kind=USER,
    arn=f"arn:aws:iam::{config.ACCOUNT_ID}:root",
    account=config.ACCOUNT_ID,
    identity_policies=(
        PolicySource(
            "identity:admin",
            {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]},
        ),
    ),
)


def _admin_bucket_denial(environ: dict[str, Any]) -> str | None:
    """An admin S3 request denied by a bucket policy: the AccessDenied message; None otherwise (the usual
    case costs one look at whether any bucket has a policy at all). Not recorded: admin calls never are."""
    if not resources.any_bucket_policy():
        return None
    from localcloud.iam import requests

    calls = [c for c in requests.calls("s3", environ, read_body(environ)) or [] if resources.policy_for(c)[0]]
    if not calls:
        return None
    identity = principals.Identity(ACCOUNT_ROOT, {"aws:principalarn": [ACCOUNT_ROOT.arn]})
    denied = first_denial(ACCOUNT_ROOT, calls, request_context(identity, environ), recorded=False)
    return denial_message(ACCOUNT_ROOT, *denied) if denied else None


def middleware(app: Callable) -> Callable:
    from localcloud.iam import errors, policy, requests, signature
    from localcloud.server import request_service

    def wrapped(environ: dict[str, Any], start_response: Callable) -> Iterable[bytes]:
        mode = runtime.mode()
        if mode == "off" or (environ.get("PATH_INFO") or "").startswith(OWN_ROUTES):
            return app(environ, start_response)
        key, token = principals.request_credentials(environ)
        service = request_service(environ)
        if key is None:
            log.warning(
                "anonymous request refused: %s %s", environ.get("REQUEST_METHOD"), environ.get("PATH_INFO")
            )
            if mode == "enforce":
                return errors.access_denied(service, environ, start_response, ANONYMOUS)
            return app(environ, start_response)
        admin = principals.is_admin(key)
        identity = None if admin else principals.resolve(key, token)
        if not admin and identity is None:
            log.warning("unknown access key %s refused (%s)", key, service)
            if mode == "enforce":
                return errors.invalid_credentials(service, environ, start_response)
            return app(environ, start_response)
        refused = signature.verify(environ, None, principals.secret_for)
        if refused is not None:
            log.warning(
                "signature refused (%s): %s %s (%s, key %s): %s",
                refused.kind,
                environ.get("REQUEST_METHOD"),
                environ.get("PATH_INFO"),
                service,
                key,
                refused,
            )
            if mode == "enforce":
                return errors.signature_mismatch(service, environ, start_response, refused)
        if admin:
            # The harness and Terraform: untouched, but for an explicit Deny in a bucket policy, which binds
            # an account's administrators too (the stack's buckets refuse unencrypted puts).
            try:
                denied = _admin_bucket_denial(environ) if service == "s3" else None
            except Exception:  # never let the admin path fail on what IAM could not read
                log.exception("bucket policy check of an admin request failed; passed through")
                denied = None
            if denied is None or mode != "enforce":
                return app(environ, start_response)
            return errors.access_denied(service, environ, start_response, denied)
        principal = identity.principal
        body = read_body(environ)
        calls = requests.calls(service, environ, body)
        if calls is None:
            # Not modelled: refused, naming the operation, rather than guessed (requests.py grows instead),
            # unless the caller may do anything of the service (a deployer: Terraform calls hundreds of
            # operations), which decides it whatever the operation's action and resource are.
            operation = requests.operation_name(service, environ, body) or _guess_action(
                service, environ, body
            )
            call = Call(f"{service}:{operation.split(':')[-1]}", "*")
            granted = policy.service_wide_grant(principal, requests.iam_prefix(service))
            if granted is not None:
                record.add(principal, call, granted)
                return app(environ, start_response)
            message = f"{service}:{operation.split(':')[-1]} {NOT_MODELLED}"
            record.add(principal, call, Decision(False, NOT_MODELLED))
            log.warning("refused: %s (%s)", message, principal.caller_arn)
            if mode == "enforce":
                return errors.access_denied(service, environ, start_response, message)
            return app(environ, start_response)
        calls = list(calls)
        calls += implicit_calls(service, environ, calls)
        denied = first_denial(principal, calls, request_context(identity, environ))
        if denied is None:
            return app(environ, start_response)
        call, decision = denied
        message = denial_message(principal, call, decision)
        log.warning("denied: %s", message)
        if mode == "enforce":
            return errors.access_denied(service, environ, start_response, message)
        return app(environ, start_response)

    return wrapped
