"""The answer AWS gives when it refuses a request, in the service's own wire format, so that an SDK raises
the same error (code, message, status) it would raise against AWS.

The protocol is the one botocore speaks to the service (its model's metadata); SQS answers in whichever of
its two protocols (json, query) the request used.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from xml.sax.saxutils import escape

from localcloud.iam import requests

# What an SDK sees for a valid signature from credentials the cloud never issued.
UNKNOWN_ACCESS_KEY = "The AWS Access Key Id you provided does not exist in our records."
INVALID_TOKEN = "The security token included in the request is invalid."  # noqa: S105 - a message
# What an SDK sees for a request signed with the wrong secret (S3's wording, then every other service's).
S3_SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your key and signing method."
)
SIGNATURE_MISMATCH = (
    "The request signature we calculated does not match the signature you provided. Check your AWS Secret "
    "Access Key and signing method. Consult the service documentation for details."
)
S3_PAYLOAD_MISMATCH = "The provided 'x-amz-content-sha256' header does not match what was computed."
S3_SKEWED = "The difference between the request time and the current time is too large."
S3_EXPIRED = "Request has expired"

_HTTP_REASONS = {400: "Bad Request", 403: "Forbidden"}
# The json protocol's names of query error codes (SQS's x-amzn-query-error header keeps the query one).
_JSON_CODES = {
    "AccessDenied": "AccessDeniedException",
    "InvalidClientTokenId": "UnrecognizedClientException",
    "SignatureDoesNotMatch": "InvalidSignatureException",
}


def answer(
    service: str,
    environ: Mapping[str, Any],
    start_response: Callable,
    *,
    code: str,
    message: str,
    status: int | None = None,
    fields: Mapping[str, str] | None = None,
) -> list[bytes]:
    """Write the error `code` with `message`. `status` defaults to what the protocol uses for authorisation
    errors (403; 400 for the json protocol). `fields`: extra elements of an S3 <Error> (AWSAccessKeyId)."""
    kind = _protocol(service, environ)
    request_id = str(uuid.uuid4())
    if kind == "rest-xml":
        status = status or 403
        extra = "".join(f"<{k}>{escape(v)}</{k}>" for k, v in (fields or {}).items())
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>\n'
            f"<Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message>{extra}"
            f"<RequestId>{request_id}</RequestId><HostId>{request_id}</HostId></Error>"
        ).encode()
        headers = [("Content-Type", "application/xml"), ("x-amz-request-id", request_id)]
    elif kind == "query":
        status = status or 403
        model = requests.service_model(service)
        namespace = model.metadata.get("xmlNamespace") if model is not None else None
        xmlns = f' xmlns="{namespace}"' if namespace else ""
        body = (
            f"<ErrorResponse{xmlns}><Error><Type>Sender</Type><Code>{escape(code)}</Code>"
            f"<Message>{escape(message)}</Message></Error><RequestId>{request_id}</RequestId></ErrorResponse>"
        ).encode()
        headers = [("Content-Type", "text/xml"), ("x-amzn-RequestId", request_id)]
    elif kind == "ec2":
        status = status or 403
        body = (
            f"<Response><Errors><Error><Code>{escape(code)}</Code><Message>{escape(message)}</Message></Error>"
            f"</Errors><RequestID>{request_id}</RequestID></Response>"
        ).encode()
        headers = [("Content-Type", "text/xml;charset=UTF-8")]
    elif kind == "json" and _query_compatible(service):
        # SQS's json protocol keeps the query protocol's codes in x-amzn-query-error ("<code>;<fault>"),
        # which botocore reports as the error code.
        status = status or 403
        coral_type = f"com.amazon.coral.service#{_JSON_CODES.get(code, code)}"
        body = json.dumps({"__type": coral_type, "message": message}).encode()
        headers = [
            ("Content-Type", _json_content_type(service)),
            ("x-amzn-query-error", f"{code};Sender"),
            ("x-amzn-RequestId", request_id),
        ]
    elif kind == "json":
        status = status or 400
        body = json.dumps({"__type": code, "message": message}).encode()
        headers = [
            ("Content-Type", _json_content_type(service)),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", request_id),
        ]
    else:  # rest-json (Lambda, Batch, EFS), and anything unknown
        status = status or 403
        body = json.dumps({"Type": "User", "message": message}).encode()
        headers = [
            ("Content-Type", "application/json"),
            ("x-amzn-ErrorType", code),
            ("x-amzn-RequestId", request_id),
        ]
    if environ.get("REQUEST_METHOD") == "HEAD":
        body = b""  # a HEAD answer has no body: SDKs report the status alone ("403", "Forbidden")
    headers.append(("Content-Length", str(len(body))))
    start_response(f"{status} {_HTTP_REASONS.get(status, 'Error')}", headers)
    return [body]


def access_denied(
    service: str, environ: Mapping[str, Any], start_response: Callable, message: str
) -> list[bytes]:
    """The denial of a request the policies do not allow, with the code the service uses."""
    code = access_denied_code(service, environ)
    return answer(service, environ, start_response, code=code, message=message)


def access_denied_code(service: str, environ: Mapping[str, Any] | None = None) -> str:
    if service == "sns":
        return "AuthorizationError"
    kind = _protocol(service, environ or {})
    if kind == "ec2":
        return "UnauthorizedOperation"
    if kind in ("rest-xml", "query") or (kind == "json" and _query_compatible(service)):
        return "AccessDenied"
    return "AccessDeniedException"


def invalid_credentials(service: str, environ: Mapping[str, Any], start_response: Callable) -> list[bytes]:
    """The answer to a request signed with an access key the cloud does not know."""
    kind = _protocol(service, environ)
    if kind == "rest-xml":
        key = _access_key_id(environ)
        fields = {"AWSAccessKeyId": key} if key else None
        code, message = "InvalidAccessKeyId", UNKNOWN_ACCESS_KEY
        return answer(service, environ, start_response, code=code, message=message, fields=fields)
    if kind == "ec2":
        return answer(service, environ, start_response, code="AuthFailure", message=INVALID_TOKEN, status=401)
    if kind == "query" or (kind == "json" and _query_compatible(service)):
        return answer(service, environ, start_response, code="InvalidClientTokenId", message=INVALID_TOKEN)
    return answer(service, environ, start_response, code="UnrecognizedClientException", message=INVALID_TOKEN)


def signature_mismatch(
    service: str, environ: Mapping[str, Any], start_response: Callable, refusal: Any = None
) -> list[bytes]:
    """The answer to a request whose SigV4 signature does not hold (localcloud/iam/signature.py), as the
    service gives it: S3 403 XML SignatureDoesNotMatch (with the string to sign and canonical request it
    computed), query services 403 SignatureDoesNotMatch, JSON services 400 InvalidSignatureException
    (SQS's json protocol: 403, query code SignatureDoesNotMatch), rest-json 403 InvalidSignatureException.
    `refusal` (a signature.Refusal) picks S3's answers to a body that is not its declared hash
    (400 XAmzContentSHA256Mismatch), a date too far from now (403 RequestTimeTooSkewed) and an expired
    presigned URL (403 AccessDenied); other services answer those with their signature error and AWS's
    "Signature expired: ..." message."""
    from localcloud.iam import signature

    kind = getattr(refusal, "kind", signature.MISMATCH)
    key = getattr(refusal, "access_key_id", None) or _access_key_id(environ)
    protocol = _protocol(service, environ)
    if protocol == "rest-xml":
        fields = {"AWSAccessKeyId": key} if key else {}
        if kind == signature.PAYLOAD:
            code, message, status = "XAmzContentSHA256Mismatch", S3_PAYLOAD_MISMATCH, 400
        elif kind == signature.SKEWED:
            code, message, status = "RequestTimeTooSkewed", S3_SKEWED, 403
        elif kind == signature.EXPIRED:
            code, message, status = "AccessDenied", S3_EXPIRED, 403
        else:
            code, message, status = "SignatureDoesNotMatch", S3_SIGNATURE_MISMATCH, 403
            computed = {"StringToSign": "string_to_sign", "CanonicalRequest": "canonical_request"}
            for name, attribute in computed.items():
                value = getattr(refusal, attribute, None)
                if value is not None:
                    fields[name] = value
        return answer(
            service, environ, start_response, code=code, message=message, status=status, fields=fields
        )
    message = getattr(refusal, "message", None) or SIGNATURE_MISMATCH
    if protocol == "json" and not _query_compatible(service):
        return answer(service, environ, start_response, code="InvalidSignatureException", message=message)
    if protocol == "rest-json":
        return answer(service, environ, start_response, code="InvalidSignatureException", message=message)
    return answer(service, environ, start_response, code="SignatureDoesNotMatch", message=message)


def _protocol(service: str, environ: Mapping[str, Any]) -> str:
    found = requests.protocol(service, environ)
    if found in ("rest-xml", "query", "json", "rest-json", "ec2"):
        return found
    return "json" if environ.get("HTTP_X_AMZ_TARGET") else "rest-json"


def _query_compatible(service: str) -> bool:
    model = requests.service_model(service)
    return model is not None and "awsQueryCompatible" in model.metadata


def _json_content_type(service: str) -> str:
    model = requests.service_model(service)
    version = model.metadata.get("jsonVersion", "1.0") if model is not None else "1.0"
    return f"application/x-amz-json-{version}"


def _access_key_id(environ: Mapping[str, Any]) -> str:
    from localcloud.iam.principals import request_credentials  # the one reader of a request's credentials

    return request_credentials(dict(environ))[0] or ""
