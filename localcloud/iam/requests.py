"""What one HTTP request asks of IAM: the authorisations AWS checks before it runs the operation.

Two steps, each in one place:
1. the operation and its parameters, read with botocore's service model as the SDKs wrote them: one matcher
   per protocol (X-Amz-Target for json, the Action parameter for query, method + requestUri template for
   rest-json and rest-xml);
2. the authorisations of that operation, from a table per service: IAM action, resource ARN(s) and the
   request's condition keys, as the Service Authorization Reference defines them.

Names in requests become ARNs (region us-east-1, the local cloud's account). An operation missing from the
tables answers None: the authorizer refuses it, naming the operation, rather than guess.
"""

from __future__ import annotations

import base64
import binascii
import html
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from localcloud import config
from localcloud.iam.model import Call

REGION = config.REGION
ACCOUNT = config.ACCOUNT_ID
ANY = "*"  # the resource of actions without resource-level permissions

# Signing names (the SigV4 credential scope) whose botocore model has another name.
MODEL_NAMES = {"states": "stepfunctions", "elasticfilesystem": "efs"}
# Signing names whose IAM actions have another prefix.
IAM_PREFIXES = {"monitoring": "cloudwatch"}


def iam_prefix(service: str) -> str:
    """The IAM action prefix of a signing name ("states" -> "states", "monitoring" -> "cloudwatch")."""
    return IAM_PREFIXES.get(service, service)


@dataclass(frozen=True)
class Request:
    """One request, as its operation sees it: `params` are the operation's input members by their botocore
    names (URI labels, query string, headers and body for rest protocols; the form fields for query)."""

    service: str  # signing name: "s3", "states", "elasticfilesystem", ...
    operation: str  # "PutObject"
    params: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)  # lower-case names
    path: str = "/"  # the raw (still percent-encoded) path
    body: bytes = b""

    def get(self, name: str, default: Any = None) -> Any:
        value = self.params.get(name)
        return default if value in (None, "") else value


def calls(service: str, environ: Mapping[str, Any], body: bytes) -> list[Call] | None:
    """The authorisations this request needs ([] = none, as for sts:GetCallerIdentity); None when its
    operation is not modelled."""
    request = parse(service, environ, body)
    if request is None:
        return None
    rule = RULES.get(service, {}).get(request.operation)
    return None if rule is None else rule(request)


def operation_name(service: str, environ: Mapping[str, Any], body: bytes) -> str | None:
    """The operation a request calls ("PutObject"), for messages; None when it cannot be read."""
    request = parse(service, environ, body)
    return request.operation if request else None


# --- step 1: the operation ----------------------------------------------------------------------------------


@cache
def _session():
    import botocore.session

    return botocore.session.get_session()


@cache
def service_model(service: str):
    """botocore's model of a signing name's service, or None."""
    from botocore.exceptions import UnknownServiceError

    try:
        return _session().get_service_model(MODEL_NAMES.get(service, service))
    except UnknownServiceError:
        return None


def protocol(service: str, environ: Mapping[str, Any] | None = None) -> str | None:
    """The wire protocol of a request: the one botocore would choose for the service, except that services
    answering both (SQS: json and query) are read from the request itself."""
    from botocore.utils import PRIORITY_ORDERED_SUPPORTED_PROTOCOLS

    model = service_model(service)
    if model is None:
        return None
    offered = model.metadata.get("protocols") or [model.metadata.get("protocol")]
    chosen = next((p for p in PRIORITY_ORDERED_SUPPORTED_PROTOCOLS if p in offered), offered[0])
    if environ is not None and chosen == "json" and _query_compatible(model):
        return "json" if environ.get("HTTP_X_AMZ_TARGET") else "query"
    return chosen


def _query_compatible(model) -> bool:
    return "awsQueryCompatible" in model.metadata


def parse(service: str, environ: Mapping[str, Any], body: bytes) -> Request | None:
    """The operation a request calls and its parameters; None when no operation of the service fits."""
    model = service_model(service)
    if model is None:
        return None
    headers = _headers(environ)
    path, query = _raw_path(environ), environ.get("QUERY_STRING", "")
    kind = protocol(service, environ)
    if kind == "json":
        target = headers.get("x-amz-target", "")
        operation = target.rsplit(".", 1)[-1] if "." in target else ""
        params = _json(body)
    elif kind == "query":
        params = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
        if "form-urlencoded" in headers.get("content-type", "") or not params.get("Action"):
            params.update(urllib.parse.parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        operation = params.get("Action", "")
    elif kind in ("rest-json", "rest-xml"):
        if service == "s3":
            path = _s3_path_style(path, headers.get("host", ""))
        found = _match_rest(service, environ.get("REQUEST_METHOD", "GET"), path, query, headers)
        if found is None:
            return None
        operation, params = found
        if kind == "rest-json" and _body_is_members(model, operation):
            params = {**_json(body), **params}
    else:
        return None  # smithy-rpc-v2-cbor: botocore itself prefers json for every service that offers it
    if operation not in model.operation_names:
        return None
    return Request(service, operation, params, headers, path, body)


def _body_is_members(model, operation: str) -> bool:
    """A rest-json body holds the input's members, unless one member is the whole payload (Lambda's)."""
    shape = model.operation_model(operation).input_shape
    return shape is not None and not shape.serialization.get("payload")


def _headers(environ: Mapping[str, Any]) -> dict[str, str]:
    found = {k[5:].replace("_", "-").lower(): str(v) for k, v in environ.items() if k.startswith("HTTP_")}
    for key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(key):
            found[key.replace("_", "-").lower()] = str(environ[key])
    return found


def _raw_path(environ: Mapping[str, Any]) -> str:
    """The path as the client sent it (percent-encoded), so that an encoded "/" inside a label stays one."""
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        raw = raw.encode("latin-1").decode("utf-8", "replace")  # WSGI strings are latin-1 byte strings
        if "://" in raw.split("?", 1)[0]:
            raw = urllib.parse.urlsplit(raw).path
        return raw.split("?", 1)[0] or "/"
    decoded = environ.get("PATH_INFO", "/").encode("latin-1").decode("utf-8", "replace")
    return urllib.parse.quote(decoded, safe="/") or "/"


def _json(body: bytes) -> dict[str, Any]:
    try:
        doc = json.loads(body or b"{}")
    except ValueError:
        return {}
    return doc if isinstance(doc, dict) else {}


# S3 virtual-hosted style: <bucket>.s3[.<region>].amazonaws.com, <bucket>.s3.localhost.localstack.cloud,
# <bucket>.localhost. The path-style request it stands for has the bucket as the first path segment.
_S3_VIRTUAL_HOST = re.compile(r"^(?P<bucket>.+?)\.(?:s3[.-].*|localhost)(?::\d+)?$")


def _s3_path_style(path: str, host: str) -> str:
    match = _S3_VIRTUAL_HOST.match(host)
    if not match or match.group("bucket") in ("s3", "www"):
        return path
    return "/" + urllib.parse.quote(match.group("bucket"), safe="") + path


@dataclass(frozen=True)
class _Route:
    operation: str
    method: str
    pattern: re.Pattern[str]
    labels: dict[str, str]  # regex group -> member name
    query: dict[str, str]  # literal query keys of the template ("" = any value)
    required: tuple[tuple[str, str], ...]  # (location, wire name) of required header/querystring members
    literal: int  # characters of fixed path text: the more, the more specific
    members: dict[str, tuple[str, str]]  # member -> (location, wire name) for uri/querystring/header members


@cache
def _routes(service: str) -> tuple[_Route, ...]:
    model = service_model(service)
    routes = []
    for name in model.operation_names:
        op = model.operation_model(name)
        template, _, query = op.http.get("requestUri", "/").partition("?")
        shape = op.input_shape
        members = shape.members if shape is not None else {}
        wire = {
            member: (m.serialization.get("location"), m.serialization.get("name") or member)
            for member, m in members.items()
            if m.serialization.get("location") in ("uri", "querystring", "header")
        }
        by_label = {where: member for member, (loc, where) in wire.items() if loc == "uri"}
        regex, labels, literal = "", {}, 0
        for piece in re.split(r"(\{[^}]+\})", template.rstrip("/")):
            if piece.startswith("{"):
                label = piece[1:-1]
                group = f"g{len(labels)}"
                labels[group] = by_label.get(label.rstrip("+"), label.rstrip("+"))
                regex += f"(?P<{group}>{'.+' if label.endswith('+') else '[^/]+'})"
            else:
                regex += re.escape(piece)
                literal += len(piece)
        required_members = shape.required_members if shape is not None else []
        required = tuple(wire[m] for m in required_members if wire.get(m, ("uri",))[0] != "uri")
        routes.append(
            _Route(
                operation=name,
                method=op.http.get("method", "POST"),
                pattern=re.compile(f"^{regex}/?$"),
                labels=labels,
                query=dict(urllib.parse.parse_qsl(query, keep_blank_values=True)),
                required=required,
                literal=literal,
                members=wire,
            )
        )
    return tuple(routes)


def _match_rest(service: str, method: str, path: str, query: str, headers: dict[str, str]):
    """The operation whose method, path template, literal query keys and required header/query members all
    fit the request; among several (S3 PutObject / CopyObject / UploadPart share a template), the one that
    asks the most of the request."""
    args = dict(urllib.parse.parse_qsl(query, keep_blank_values=True))
    best, best_score = None, None
    for route in _routes(service):
        if route.method != method:
            continue
        match = route.pattern.match(path)
        if match is None:
            continue
        if any(key not in args or (value and args[key] != value) for key, value in route.query.items()):
            continue
        if any(_absent(location, name, args, headers) for location, name in route.required):
            continue
        score = (len(route.query) + len(route.required), route.literal)
        if best_score is None or score > best_score:
            best, best_score = (route, match), score
    if best is None:
        return None
    route, match = best
    params: dict[str, Any] = {}
    for group, member in route.labels.items():
        params[member] = urllib.parse.unquote(match.group(group))
    for member, (location, name) in route.members.items():
        if location == "querystring" and name in args:
            params[member] = args[name]
        elif location == "header" and name.lower() in headers:
            params[member] = headers[name.lower()]
    return route.operation, params


def _absent(location: str, name: str, args: dict[str, str], headers: dict[str, str]) -> bool:
    return name not in args if location == "querystring" else name.lower() not in headers


# --- step 2: the authorisations -----------------------------------------------------------------------------

Rule = Callable[[Request], list[Call]]


def arn(service: str, resource: str, *, region: str = REGION, account: str = ACCOUNT) -> str:
    return f"arn:aws:{service}:{region}:{account}:{resource}"


def rule(
    action: str,
    resource: Callable[[Request], str | Iterable[str]] | str = ANY,
    context: Callable[[Request], dict[str, list[str]]] | None = None,
) -> Rule:
    """The common case: one action on the resource(s) a function of the request names."""

    def build(request: Request) -> list[Call]:
        found = resource(request) if callable(resource) else resource
        resources = [found] if isinstance(found, str) else list(dict.fromkeys(found))
        keys = context(request) if context else {}
        return [Call(action, r, dict(keys)) for r in resources]

    return build


def _keys(**values: Any) -> dict[str, list[str]]:
    """Condition keys from the values present (lists stay lists), under their lower-cased names."""
    found = {}
    for name, value in values.items():
        if value is None or value == "" or value == []:
            continue
        key = name.replace("__", ":").replace("_", "-").lower()
        found[key] = [str(v) for v in value] if isinstance(value, list) else [str(value)]
    return found


def _allowed(_request: Request) -> list[Call]:
    return []


# S3 -----------------------------------------------------------------------------------------------------


def _s3_object(bucket: str, key: str) -> str:
    return f"arn:aws:s3:::{bucket}/{key}"


def _s3_bucket(request: Request) -> str:
    return f"arn:aws:s3:::{request.get('Bucket', '')}"


# Request headers that are S3 condition keys (s3:<header name>).
_S3_HEADER_KEYS = (
    "x-amz-server-side-encryption",
    "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-acl",
    "x-amz-storage-class",
    "x-amz-copy-source",
    "x-amz-metadata-directive",
)


def _s3_header_context(request: Request) -> dict[str, list[str]]:
    return {f"s3:{h}": [request.headers[h]] for h in _S3_HEADER_KEYS if request.headers.get(h)}


def _s3_versioned(action: str, version_action: str) -> Rule:
    """An object action, or its *Version twin when the request names a version."""

    def build(request: Request) -> list[Call]:
        version = request.get("VersionId")
        context = {"s3:versionid": [version]} if version else {}
        chosen = version_action if version else action
        return [Call(chosen, _s3_object(request.get("Bucket", ""), request.get("Key", "")), context)]

    return build


def _copy_source(request: Request) -> tuple[str, str, str]:
    """(bucket, key, version id) of x-amz-copy-source: "[/]bucket/key[?versionId=id]", percent-encoded."""
    raw = request.headers.get("x-amz-copy-source", "")
    source, _, version = raw.partition("?versionId=")
    bucket, _, key = urllib.parse.unquote(source).lstrip("/").partition("/")
    return bucket, key, version


def _s3_write(copies: bool = False) -> Rule:
    """s3:PutObject on the object (with the request's SSE/ACL keys); a copy also reads its source."""

    def build(request: Request) -> list[Call]:
        target = _s3_object(request.get("Bucket", ""), request.get("Key", ""))
        found = [Call("s3:PutObject", target, _s3_header_context(request))]
        if copies:
            bucket, key, version = _copy_source(request)
            action = "s3:GetObjectVersion" if version else "s3:GetObject"
            context = {"s3:versionid": [version]} if version else {}
            found.append(Call(action, _s3_object(bucket, key), context))
        return found

    return build


def _listing_context(request: Request) -> dict[str, list[str]]:
    return _keys(
        s3__prefix=request.get("Prefix"),
        s3__max_keys=request.get("MaxKeys"),
        s3__delimiter=request.get("Delimiter"),
    )


def _s3_listing(action: str) -> Rule:
    """A bucket listing, with the s3:prefix / s3:max-keys / s3:delimiter the request sets."""
    return rule(action, _s3_bucket, _listing_context)


# DeleteObjects' body: <Delete><Object><Key>k</Key>[<VersionId>v</VersionId>]</Object>...</Delete>. Read with
# patterns, not an XML parser: the body is untrusted and only these two fields matter.
_XML_OBJECT = re.compile(rb"<Object>(.*?)</Object>", re.DOTALL)
_XML_FIELD = re.compile(rb"<(Key|VersionId)>(.*?)</\1>", re.DOTALL)


def _s3_delete_objects(request: Request) -> list[Call]:
    """DeleteObjects: s3:DeleteObject (or s3:DeleteObjectVersion) on every object the body names."""
    found = []
    for block in _XML_OBJECT.findall(request.body):
        pairs = _XML_FIELD.findall(block)
        fields = {k.decode(): html.unescape(v.decode("utf-8", "replace")) for k, v in pairs}
        version = fields.get("VersionId")
        action = "s3:DeleteObjectVersion" if version else "s3:DeleteObject"
        context = {"s3:versionid": [version]} if version else {}
        found.append(Call(action, _s3_object(request.get("Bucket", ""), fields.get("Key", "")), context))
    return found


def _s3_object_attributes(request: Request) -> list[Call]:
    versioned = bool(request.get("VersionId"))
    read = _s3_versioned("s3:GetObject", "s3:GetObjectVersion")(request)[0]
    action = "s3:GetObjectVersionAttributes" if versioned else "s3:GetObjectAttributes"
    return [read, Call(action, read.resource, read.context)]


# Bucket-level operations: the IAM action on the bucket ARN (where it is not the operation's own name).
_S3_BUCKET_ACTIONS = {
    "HeadBucket": "s3:ListBucket",
    "CreateBucket": "s3:CreateBucket",
    "DeleteBucket": "s3:DeleteBucket",
    "GetBucketLocation": "s3:GetBucketLocation",
    "GetBucketVersioning": "s3:GetBucketVersioning",
    "PutBucketVersioning": "s3:PutBucketVersioning",
    "GetBucketPolicy": "s3:GetBucketPolicy",
    "PutBucketPolicy": "s3:PutBucketPolicy",
    "DeleteBucketPolicy": "s3:DeleteBucketPolicy",
    "GetBucketPolicyStatus": "s3:GetBucketPolicyStatus",
    "GetBucketAcl": "s3:GetBucketAcl",
    "PutBucketAcl": "s3:PutBucketAcl",
    "GetBucketTagging": "s3:GetBucketTagging",
    "PutBucketTagging": "s3:PutBucketTagging",
    "DeleteBucketTagging": "s3:PutBucketTagging",
    "GetBucketEncryption": "s3:GetEncryptionConfiguration",
    "PutBucketEncryption": "s3:PutEncryptionConfiguration",
    "DeleteBucketEncryption": "s3:PutEncryptionConfiguration",
    "GetPublicAccessBlock": "s3:GetBucketPublicAccessBlock",
    "PutPublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "DeletePublicAccessBlock": "s3:PutBucketPublicAccessBlock",
    "GetBucketNotificationConfiguration": "s3:GetBucketNotification",
    "PutBucketNotificationConfiguration": "s3:PutBucketNotification",
    "GetBucketLifecycleConfiguration": "s3:GetLifecycleConfiguration",
    "PutBucketLifecycleConfiguration": "s3:PutLifecycleConfiguration",
    "DeleteBucketLifecycle": "s3:PutLifecycleConfiguration",
    "GetBucketOwnershipControls": "s3:GetBucketOwnershipControls",
    "PutBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "DeleteBucketOwnershipControls": "s3:PutBucketOwnershipControls",
    "GetBucketCors": "s3:GetBucketCORS",
    "PutBucketCors": "s3:PutBucketCORS",
    "DeleteBucketCors": "s3:PutBucketCORS",
    "GetBucketLogging": "s3:GetBucketLogging",
    "PutBucketLogging": "s3:PutBucketLogging",
    "GetBucketWebsite": "s3:GetBucketWebsite",
    "GetBucketReplication": "s3:GetReplicationConfiguration",
    "GetBucketAccelerateConfiguration": "s3:GetAccelerateConfiguration",
    "GetBucketRequestPayment": "s3:GetBucketRequestPayment",
    "GetObjectLockConfiguration": "s3:GetBucketObjectLockConfiguration",
}

S3: dict[str, Rule] = {
    "GetObject": _s3_versioned("s3:GetObject", "s3:GetObjectVersion"),
    "HeadObject": _s3_versioned("s3:GetObject", "s3:GetObjectVersion"),
    "GetObjectAttributes": _s3_object_attributes,
    "PutObject": _s3_write(),
    "CopyObject": _s3_write(copies=True),
    "CreateMultipartUpload": _s3_write(),
    "UploadPart": _s3_write(),
    "UploadPartCopy": _s3_write(copies=True),
    "CompleteMultipartUpload": _s3_write(),
    "AbortMultipartUpload": _s3_versioned("s3:AbortMultipartUpload", "s3:AbortMultipartUpload"),
    "ListParts": _s3_versioned("s3:ListMultipartUploadParts", "s3:ListMultipartUploadParts"),
    "DeleteObject": _s3_versioned("s3:DeleteObject", "s3:DeleteObjectVersion"),
    "DeleteObjects": _s3_delete_objects,
    "GetObjectTagging": _s3_versioned("s3:GetObjectTagging", "s3:GetObjectVersionTagging"),
    "PutObjectTagging": _s3_versioned("s3:PutObjectTagging", "s3:PutObjectVersionTagging"),
    "DeleteObjectTagging": _s3_versioned("s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"),
    "GetObjectAcl": _s3_versioned("s3:GetObjectAcl", "s3:GetObjectVersionAcl"),
    "PutObjectAcl": _s3_versioned("s3:PutObjectAcl", "s3:PutObjectVersionAcl"),
    "RestoreObject": _s3_versioned("s3:RestoreObject", "s3:RestoreObject"),
    "ListObjects": _s3_listing("s3:ListBucket"),
    "ListObjectsV2": _s3_listing("s3:ListBucket"),
    "ListObjectVersions": _s3_listing("s3:ListBucketVersions"),
    "ListMultipartUploads": _s3_listing("s3:ListBucketMultipartUploads"),
    "ListBuckets": rule("s3:ListAllMyBuckets"),
    **{op: rule(action, _s3_bucket) for op, action in _S3_BUCKET_ACTIONS.items()},
}

# Lambda -------------------------------------------------------------------------------------------------

_PARTIAL_FUNCTION = re.compile(r"^(?P<account>\d{12}):function:(?P<rest>.+)$")


def function_arn(name: str, qualifier: str | None = None) -> str:
    """A function's ARN from a name, partial ARN or ARN, each maybe ending in :<version or alias>;
    `qualifier` (the Qualifier parameter) names the version or alias when the name does not."""
    account, region = ACCOUNT, REGION
    if name.startswith("arn:"):
        parts = name.split(":")  # arn aws lambda region account function name [qualifier]
        region, account, rest = parts[3], parts[4], ":".join(parts[6:])
    elif match := _PARTIAL_FUNCTION.match(name):
        account, rest = match.group("account"), match.group("rest")
    else:
        rest = name
    function, _, named = rest.partition(":")
    qualifier = named or qualifier
    resource = f"function:{function}" + (f":{qualifier}" if qualifier else "")
    return arn("lambda", resource, region=region, account=account)


def _function(request: Request) -> str:
    return function_arn(request.get("FunctionName", ""), request.get("Qualifier"))


def _alias(request: Request) -> str:
    return function_arn(request.get("FunctionName", ""), request.get("Name"))


LAMBDA: dict[str, Rule] = {
    "Invoke": rule("lambda:InvokeFunction", _function),
    "InvokeWithResponseStream": rule("lambda:InvokeFunction", _function),
    "GetFunction": rule("lambda:GetFunction", _function),
    "GetFunctionConfiguration": rule("lambda:GetFunctionConfiguration", _function),
    "GetAlias": rule("lambda:GetAlias", _alias),
    "UpdateAlias": rule("lambda:UpdateAlias", _alias),
    "ListAliases": rule("lambda:ListAliases", _function),
    "ListVersionsByFunction": rule("lambda:ListVersionsByFunction", _function),
    "PublishVersion": rule("lambda:PublishVersion", _function),
    "GetProvisionedConcurrencyConfig": rule("lambda:GetProvisionedConcurrencyConfig", _function),
    "GetPolicy": rule("lambda:GetPolicy", _function),
    "ListFunctions": rule("lambda:ListFunctions"),
}

# Batch --------------------------------------------------------------------------------------------------


def job_queue_arn(name: str) -> str:
    return name if name.startswith("arn:") else arn("batch", f"job-queue/{name}")


def job_definition_arn(reference: str) -> str:
    """arn:aws:batch:<r>:<a>:job-definition/<name>:<revision>. AWS checks SubmitJob against the revision it
    runs: a name (or ARN) without one means the latest revision, looked up in the local cloud's Batch."""
    if reference.startswith("arn:"):
        prefix, _, name = reference.partition(":job-definition/")
    else:
        prefix, name = arn("batch", "")[:-1], reference
    if ":" not in name:
        revision = _latest_revision(name)
        name = f"{name}:{revision}" if revision else name
    return f"{prefix}:job-definition/{name}"


def _latest_revision(name: str) -> int | None:
    try:
        from moto.batch.models import batch_backends

        found = batch_backends[ACCOUNT][REGION].get_job_definition_by_name(name)
    except Exception:  # noqa: BLE001 - no backend (outside the server): the ARN stays without revision
        return None
    return found.revision if found is not None else None


def job_arn(job_id: str) -> str:
    return job_id if job_id.startswith("arn:") else arn("batch", f"job/{job_id}")


BATCH: dict[str, Rule] = {
    "SubmitJob": rule(
        "batch:SubmitJob",
        lambda r: [job_queue_arn(r.get("jobQueue", "")), job_definition_arn(r.get("jobDefinition", ""))],
    ),
    "TerminateJob": rule("batch:TerminateJob", lambda r: job_arn(r.get("jobId", ""))),
    "CancelJob": rule("batch:CancelJob", lambda r: job_arn(r.get("jobId", ""))),
    "DescribeJobs": rule("batch:DescribeJobs"),
    "ListJobs": rule("batch:ListJobs"),
    "DescribeJobQueues": rule("batch:DescribeJobQueues"),
    "DescribeJobDefinitions": rule("batch:DescribeJobDefinitions"),
    "DescribeComputeEnvironments": rule("batch:DescribeComputeEnvironments"),
}

# SNS ----------------------------------------------------------------------------------------------------


def _topic(request: Request) -> str:
    return request.get("TopicArn") or request.get("TargetArn") or ANY  # PhoneNumber: no resource


SNS: dict[str, Rule] = {
    "Publish": rule("sns:Publish", _topic),
    "PublishBatch": rule("sns:Publish", _topic),
    "GetTopicAttributes": rule("sns:GetTopicAttributes", _topic),
    "ListSubscriptionsByTopic": rule("sns:ListSubscriptionsByTopic", _topic),
    "Subscribe": rule("sns:Subscribe", _topic),
    "ListTopics": rule("sns:ListTopics"),
}

# SQS ----------------------------------------------------------------------------------------------------


def queue_arn(url: str) -> str:
    """http(s)://<host>/<account>/<name> (or the path alone) -> arn:aws:sqs:<region>:<account>:<name>."""
    if url.startswith("arn:"):
        return url
    parts = [p for p in urllib.parse.urlsplit(url).path.split("/") if p]
    if len(parts) >= 2:
        return arn("sqs", urllib.parse.unquote(parts[-1]), account=parts[-2])
    return arn("sqs", urllib.parse.unquote(parts[-1]) if parts else "")


def _queue(request: Request) -> str:
    # The query protocol may name the queue by the request path (POST /<account>/<name>).
    return queue_arn(request.get("QueueUrl") or request.path)


def _queue_by_name(request: Request) -> str:
    return arn("sqs", request.get("QueueName", ""), account=request.get("QueueOwnerAWSAccountId") or ACCOUNT)


SQS: dict[str, Rule] = {
    "SendMessage": rule("sqs:SendMessage", _queue),
    "SendMessageBatch": rule("sqs:SendMessage", _queue),
    "ReceiveMessage": rule("sqs:ReceiveMessage", _queue),
    "DeleteMessage": rule("sqs:DeleteMessage", _queue),
    "DeleteMessageBatch": rule("sqs:DeleteMessage", _queue),
    "ChangeMessageVisibility": rule("sqs:ChangeMessageVisibility", _queue),
    "ChangeMessageVisibilityBatch": rule("sqs:ChangeMessageVisibility", _queue),
    "GetQueueAttributes": rule("sqs:GetQueueAttributes", _queue),
    "SetQueueAttributes": rule("sqs:SetQueueAttributes", _queue),
    "PurgeQueue": rule("sqs:PurgeQueue", _queue),
    "ListDeadLetterSourceQueues": rule("sqs:ListDeadLetterSourceQueues", _queue),
    "ListQueueTags": rule("sqs:ListQueueTags", _queue),
    "GetQueueUrl": rule("sqs:GetQueueUrl", _queue_by_name),
    "ListQueues": rule("sqs:ListQueues"),
}

# KMS ----------------------------------------------------------------------------------------------------

_KEY_ID_BYTES = 36  # moto's ciphertext blob starts with the key id (moto.kms.utils.KEY_ID_LEN)


def key_arn(key_id: str) -> str:
    """A key's ARN from a key id, key ARN, alias name or alias ARN; an alias resolves through the local
    cloud's KMS (an unknown alias stays an alias ARN, which KMS then reports as not found)."""
    if key_id.startswith("arn:") and ":key/" in key_id:
        return key_id
    alias = _alias_name(key_id)
    if alias is None:
        return arn("kms", f"key/{key_id}")
    target = _alias_target(alias)
    return arn("kms", f"key/{target}") if target else arn("kms", alias)


def _alias_name(key_id: str) -> str | None:
    if key_id.startswith("alias/"):
        return key_id
    if key_id.startswith("arn:") and ":alias/" in key_id:
        return "alias/" + key_id.split(":alias/", 1)[1]
    return None


def _alias_target(alias: str) -> str | None:
    try:
        from moto.kms.models import kms_backends

        return kms_backends[ACCOUNT][REGION].get_key_id_from_alias(alias)
    except Exception:  # noqa: BLE001 - no backend (outside the server)
        return None


def _blob_key(blob: str) -> str | None:
    """The key id inside a ciphertext blob made by the local cloud (Decrypt and ReEncrypt name no key)."""
    try:
        raw = base64.b64decode(blob, validate=True)[:_KEY_ID_BYTES].decode("ascii")
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    return raw if re.fullmatch(r"[0-9a-f-]{36}", raw) else None


def _key(request: Request) -> str:
    key_id = request.get("KeyId") or _blob_key(request.get("CiphertextBlob", ""))
    return key_arn(key_id) if key_id else ANY


def _kms_context(request: Request) -> dict[str, list[str]]:
    context = request.get("EncryptionContext") or {}
    found = {f"kms:encryptioncontext:{k}".lower(): [str(v)] for k, v in context.items()}
    if context:
        found["kms:encryptioncontextkeys"] = [str(k) for k in context]
    key_id = request.get("KeyId") or ""
    if _alias_name(key_id):
        found["kms:requestalias"] = [_alias_name(key_id)]
    for name in ("EncryptionAlgorithm", "KeySpec"):
        if request.get(name):
            found[f"kms:{name.lower()}"] = [str(request.get(name))]
    return found


def _grant_context(request: Request) -> dict[str, list[str]]:
    return _keys(
        kms__grantoperations=list(request.get("Operations") or []),
        kms__granteeprincipal=request.get("GranteePrincipal"),
        kms__retiringprincipal=request.get("RetiringPrincipal"),
    )


def _reencrypt(request: Request) -> list[Call]:
    source = request.get("SourceKeyId") or _blob_key(request.get("CiphertextBlob", ""))
    context = _kms_context(request)
    return [
        Call("kms:ReEncryptFrom", key_arn(source) if source else ANY, context),
        Call("kms:ReEncryptTo", key_arn(request.get("DestinationKeyId", "")), context),
    ]


KMS: dict[str, Rule] = {
    "Decrypt": rule("kms:Decrypt", _key, _kms_context),
    "Encrypt": rule("kms:Encrypt", _key, _kms_context),
    "GenerateDataKey": rule("kms:GenerateDataKey", _key, _kms_context),
    "GenerateDataKeyWithoutPlaintext": rule("kms:GenerateDataKeyWithoutPlaintext", _key, _kms_context),
    "GenerateDataKeyPair": rule("kms:GenerateDataKeyPair", _key, _kms_context),
    "GenerateDataKeyPairWithoutPlaintext": rule(
        "kms:GenerateDataKeyPairWithoutPlaintext", _key, _kms_context
    ),
    "ReEncrypt": _reencrypt,
    "DescribeKey": rule("kms:DescribeKey", _key, _kms_context),
    "CreateGrant": rule("kms:CreateGrant", _key, _grant_context),
    "GetKeyPolicy": rule("kms:GetKeyPolicy", _key),
    "GetKeyRotationStatus": rule("kms:GetKeyRotationStatus", _key),
    "ListAliases": rule("kms:ListAliases"),
    "ListKeys": rule("kms:ListKeys"),
}

# CloudWatch Logs ----------------------------------------------------------------------------------------


def log_arn(group: str = "", stream: str = "") -> str:
    """Logs authorises group-level actions on "log-group:<g>:log-stream:" (an empty stream) and stream
    actions on "log-group:<g>:log-stream:<s>": a policy needs "log-group:<g>:*" for either."""
    return arn("logs", f"log-group:{group}:log-stream:{stream}")


def _group(request: Request) -> str:
    return log_arn(request.get("logGroupName", ""))


def _stream(request: Request) -> str:
    return log_arn(request.get("logGroupName", ""), request.get("logStreamName", ""))


LOGS: dict[str, Rule] = {
    "CreateLogGroup": rule("logs:CreateLogGroup", _group),
    "CreateLogStream": rule("logs:CreateLogStream", _stream),
    "PutLogEvents": rule("logs:PutLogEvents", _stream),
    "GetLogEvents": rule("logs:GetLogEvents", _stream),
    "DescribeLogStreams": rule("logs:DescribeLogStreams", _group),
    "FilterLogEvents": rule("logs:FilterLogEvents", _group),
    "PutRetentionPolicy": rule("logs:PutRetentionPolicy", _group),
    "DescribeLogGroups": rule("logs:DescribeLogGroups", log_arn()),
}

# EventBridge --------------------------------------------------------------------------------------------


def rule_arn(name: str, bus: str | None = None) -> str:
    """rule/<name> on the default bus, rule/<bus>/<name> on another; names may already be ARNs."""
    if name.startswith("arn:"):
        return name
    bus = (bus or "default").rsplit("/", 1)[-1]  # a bus name, or the end of its ARN (event-bus/<name>)
    return arn("events", f"rule/{name}" if bus == "default" else f"rule/{bus}/{name}")


def bus_arn(bus: str | None) -> str:
    return bus if (bus or "").startswith("arn:") else arn("events", f"event-bus/{bus or 'default'}")


def _put_events(request: Request) -> list[Call]:
    entries = [e for e in request.get("Entries", []) if isinstance(e, dict)]
    found = []
    for bus in dict.fromkeys(e.get("EventBusName") for e in entries) or [None]:
        mine = [e for e in entries if e.get("EventBusName") == bus]
        context = _keys(
            events__source=[str(e.get("Source")) for e in mine if e.get("Source")],
            events__detail_type=[str(e.get("DetailType")) for e in mine if e.get("DetailType")],
        )
        found.append(Call("events:PutEvents", bus_arn(bus), context))
    return found


def _rule_named(member: str) -> Callable[[Request], str]:
    return lambda request: rule_arn(request.get(member, ""), request.get("EventBusName"))


EVENTS: dict[str, Rule] = {
    "PutRule": rule("events:PutRule", _rule_named("Name")),
    "DescribeRule": rule("events:DescribeRule", _rule_named("Name")),
    "DeleteRule": rule("events:DeleteRule", _rule_named("Name")),
    "EnableRule": rule("events:EnableRule", _rule_named("Name")),
    "DisableRule": rule("events:DisableRule", _rule_named("Name")),
    "PutTargets": rule("events:PutTargets", _rule_named("Rule")),
    "RemoveTargets": rule("events:RemoveTargets", _rule_named("Rule")),
    "ListTargetsByRule": rule("events:ListTargetsByRule", _rule_named("Rule")),
    "PutEvents": _put_events,
    "ListRules": rule("events:ListRules"),
}

# Step Functions -----------------------------------------------------------------------------------------

STATES: dict[str, Rule] = {
    "StartExecution": rule("states:StartExecution", lambda r: r.get("stateMachineArn", "")),
    "StartSyncExecution": rule("states:StartSyncExecution", lambda r: r.get("stateMachineArn", "")),
    "DescribeStateMachine": rule("states:DescribeStateMachine", lambda r: r.get("stateMachineArn", "")),
    "ListExecutions": rule("states:ListExecutions", lambda r: r.get("stateMachineArn", "")),
    "DescribeExecution": rule("states:DescribeExecution", lambda r: r.get("executionArn", "")),
    "StopExecution": rule("states:StopExecution", lambda r: r.get("executionArn", "")),
    "GetExecutionHistory": rule("states:GetExecutionHistory", lambda r: r.get("executionArn", "")),
    "DescribeStateMachineForExecution": rule(
        "states:DescribeStateMachineForExecution", lambda r: r.get("executionArn", "")
    ),
    # A task token names no resource the caller can see: policies grant these on "*".
    "SendTaskSuccess": rule("states:SendTaskSuccess"),
    "SendTaskFailure": rule("states:SendTaskFailure"),
    "SendTaskHeartbeat": rule("states:SendTaskHeartbeat"),
    "ListStateMachines": rule("states:ListStateMachines"),
}

# STS ----------------------------------------------------------------------------------------------------

STS: dict[str, Rule] = {
    "GetCallerIdentity": _allowed,  # AWS answers it whatever the policies say
    "AssumeRole": rule(
        "sts:AssumeRole",
        lambda r: r.get("RoleArn", ""),
        lambda r: _keys(sts__rolesessionname=r.get("RoleSessionName")),
    ),
    "GetSessionToken": rule("sts:GetSessionToken"),
}

# ECR ----------------------------------------------------------------------------------------------------


def repository_arn(name: str, registry: str | None = None) -> str:
    return name if name.startswith("arn:") else arn("ecr", f"repository/{name}", account=registry or ACCOUNT)


def _repository(request: Request) -> str:
    return repository_arn(request.get("repositoryName", ""), request.get("registryId"))


def _repositories(request: Request) -> list[str]:
    names = request.get("repositoryNames") or []
    return [repository_arn(n, request.get("registryId")) for n in names] or [ANY]


ECR: dict[str, Rule] = {
    "GetAuthorizationToken": rule("ecr:GetAuthorizationToken"),
    "BatchGetImage": rule("ecr:BatchGetImage", _repository),
    "GetDownloadUrlForLayer": rule("ecr:GetDownloadUrlForLayer", _repository),
    "BatchCheckLayerAvailability": rule("ecr:BatchCheckLayerAvailability", _repository),
    "DescribeImages": rule("ecr:DescribeImages", _repository),
    "ListImages": rule("ecr:ListImages", _repository),
    "PutImage": rule("ecr:PutImage", _repository),
    "InitiateLayerUpload": rule("ecr:InitiateLayerUpload", _repository),
    "UploadLayerPart": rule("ecr:UploadLayerPart", _repository),
    "CompleteLayerUpload": rule("ecr:CompleteLayerUpload", _repository),
    "DescribeRepositories": rule("ecr:DescribeRepositories", _repositories),
}

# EFS ----------------------------------------------------------------------------------------------------


def _file_system(request: Request) -> str:
    found = request.get("FileSystemId")
    return arn("elasticfilesystem", f"file-system/{found}") if found else ANY


def _access_point(request: Request) -> str:
    found = request.get("AccessPointId")
    return arn("elasticfilesystem", f"access-point/{found}") if found else _file_system(request)


EFS: dict[str, Rule] = {
    "DescribeFileSystems": rule("elasticfilesystem:DescribeFileSystems", _file_system),
    "DescribeAccessPoints": rule("elasticfilesystem:DescribeAccessPoints", _access_point),
    "DescribeMountTargets": rule("elasticfilesystem:DescribeMountTargets", _file_system),
}

# CI/CD --------------------------------------------------------------------------------------------------


def project_arn(name: str) -> str:
    return name if name.startswith("arn:") else arn("codebuild", f"project/{name}")


def _build_projects(request: Request) -> list[str]:
    """A build id is "<project>:<uuid>" (or a build ARN): the permission is on the project."""
    ids = request.get("ids") or []
    return [project_arn(i.split(":build/")[-1].rsplit(":", 1)[0]) for i in ids] or [ANY]


def _report_group(report_arn: str) -> str:
    """A report's permissions are on its report group: report/<group>:<id> -> report-group/<group>."""
    if ":report/" not in report_arn:
        return report_arn or ANY
    head, _, rest = report_arn.partition(":report/")
    return f"{head}:report-group/{rest.rsplit(':', 1)[0]}"


CODEBUILD: dict[str, Rule] = {
    "StartBuild": rule("codebuild:StartBuild", lambda r: project_arn(r.get("projectName", ""))),
    "BatchGetBuilds": rule("codebuild:BatchGetBuilds", _build_projects),
    "BatchGetProjects": rule(
        "codebuild:BatchGetProjects", lambda r: [project_arn(n) for n in r.get("names") or []] or [ANY]
    ),
    "StopBuild": rule(
        "codebuild:StopBuild", lambda r: project_arn(r.get("id", "").split(":build/")[-1].rsplit(":", 1)[0])
    ),
    "ListBuilds": rule("codebuild:ListBuilds"),
    "ListBuildsForProject": rule(
        "codebuild:ListBuildsForProject", lambda r: project_arn(r.get("projectName", ""))
    ),
    "BatchGetReports": rule(
        "codebuild:BatchGetReports", lambda r: [_report_group(a) for a in r.get("reportArns") or []] or [ANY]
    ),
    "BatchGetReportGroups": rule(
        "codebuild:BatchGetReportGroups", lambda r: list(r.get("reportGroupArns") or []) or [ANY]
    ),
    "DescribeTestCases": rule("codebuild:DescribeTestCases", lambda r: _report_group(r.get("reportArn", ""))),
    "ListReportsForReportGroup": rule(
        "codebuild:ListReportsForReportGroup", lambda r: r.get("reportGroupArn") or ANY
    ),
}


def _pipeline(member: str) -> Callable[[Request], str]:
    return lambda request: arn("codepipeline", request.get(member, ""))


CODEPIPELINE: dict[str, Rule] = {
    "PutJobSuccessResult": rule("codepipeline:PutJobSuccessResult"),
    "PutJobFailureResult": rule("codepipeline:PutJobFailureResult"),
    "StartPipelineExecution": rule("codepipeline:StartPipelineExecution", _pipeline("name")),
    "GetPipelineState": rule("codepipeline:GetPipelineState", _pipeline("name")),
    "GetPipelineExecution": rule("codepipeline:GetPipelineExecution", _pipeline("pipelineName")),
    "ListPipelineExecutions": rule("codepipeline:ListPipelineExecutions", _pipeline("pipelineName")),
    "ListActionExecutions": rule("codepipeline:ListActionExecutions", _pipeline("pipelineName")),
    "StopPipelineExecution": rule("codepipeline:StopPipelineExecution", _pipeline("pipelineName")),
    "GetPipeline": rule("codepipeline:GetPipeline", _pipeline("name")),
    "ListPipelines": rule("codepipeline:ListPipelines"),
}


# CodeCommit: the git actions (GitPull, GitPush) are checked by localcloud/codecommit/git_http.py.
def _repository_named(member: str) -> Callable[[Request], str]:
    return lambda request: arn("codecommit", request.get(member, ""))


CODECOMMIT: dict[str, Rule] = {
    "CreateRepository": rule("codecommit:CreateRepository", _repository_named("repositoryName")),
    "DeleteRepository": rule("codecommit:DeleteRepository", _repository_named("repositoryName")),
    "GetRepository": rule("codecommit:GetRepository", _repository_named("repositoryName")),
    "BatchGetRepositories": rule(
        "codecommit:BatchGetRepositories",
        lambda r: [arn("codecommit", n) for n in r.get("repositoryNames") or []] or [ANY],
    ),
    "ListBranches": rule("codecommit:ListBranches", _repository_named("repositoryName")),
    "GetBranch": rule("codecommit:GetBranch", _repository_named("repositoryName")),
    "GetCommit": rule("codecommit:GetCommit", _repository_named("repositoryName")),
    "GetDifferences": rule("codecommit:GetDifferences", _repository_named("repositoryName")),
}


# CodeDeploy: deployments are authorised on their deployment group (the Service Authorization Reference).
def _codedeploy_group(application: str, group: str) -> str:
    return arn("codedeploy", f"deploymentgroup:{application}/{group}")


def _deployment_groups(request: Request) -> list[str]:
    """The groups of the deployments a request names (deploymentId or deploymentIds); ANY when unknown."""
    from moto.codedeploy.models import codedeploy_backends

    ids = request.get("deploymentIds") or [request.get("deploymentId")]
    deployments = codedeploy_backends[ACCOUNT][REGION].deployments
    found = [deployments.get(i) for i in ids if i]
    groups = [_codedeploy_group(d.application_name, d.deployment_group_name) if d else ANY for d in found]
    return groups or [ANY]


def _named_group(request: Request) -> str:
    application, group = request.get("applicationName"), request.get("deploymentGroupName")
    return _codedeploy_group(application, group) if application and group else ANY


CODEDEPLOY: dict[str, Rule] = {
    "CreateDeployment": rule("codedeploy:CreateDeployment", _named_group),
    "GetDeployment": rule("codedeploy:GetDeployment", _deployment_groups),
    "BatchGetDeployments": rule("codedeploy:BatchGetDeployments", _deployment_groups),
    "ListDeployments": rule("codedeploy:ListDeployments", _named_group),
    "StopDeployment": rule("codedeploy:StopDeployment", _deployment_groups),
    "PutLifecycleEventHookExecutionStatus": rule(
        "codedeploy:PutLifecycleEventHookExecutionStatus", _deployment_groups
    ),
    "GetDeploymentTarget": rule("codedeploy:GetDeploymentTarget", _deployment_groups),
    "BatchGetDeploymentTargets": rule("codedeploy:BatchGetDeploymentTargets", _deployment_groups),
    "ListDeploymentTargets": rule("codedeploy:ListDeploymentTargets", _deployment_groups),
    "GetDeploymentConfig": rule(
        "codedeploy:GetDeploymentConfig",
        lambda r: arn("codedeploy", f"deploymentconfig:{r.get('deploymentConfigName', '')}"),
    ),
    "ListDeploymentConfigs": rule("codedeploy:ListDeploymentConfigs"),
    "GetApplication": rule(
        "codedeploy:GetApplication",
        lambda r: arn("codedeploy", f"application:{r.get('applicationName', '')}"),
    ),
    "GetDeploymentGroup": rule("codedeploy:GetDeploymentGroup", _named_group),
}

RULES: dict[str, dict[str, Rule]] = {
    "s3": S3,
    "lambda": LAMBDA,
    "batch": BATCH,
    "sns": SNS,
    "sqs": SQS,
    "kms": KMS,
    "logs": LOGS,
    "events": EVENTS,
    "states": STATES,
    "sts": STS,
    "ecr": ECR,
    "elasticfilesystem": EFS,
    "codebuild": CODEBUILD,
    "codepipeline": CODEPIPELINE,
    "codedeploy": CODEDEPLOY,
    "codecommit": CODECOMMIT,
}
