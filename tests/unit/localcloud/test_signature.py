"""The local cloud verifies AWS Signature Version 4 (localcloud/iam/signature.py): requests as real botocore
clients sign them verify with the key's secret, and any change to what was signed (secret, body, path,
query, a signed header, the date) is refused; refusals reach SDKs as the errors AWS gives; and the live
cloud refuses its own admin key id with the wrong secret.

In process, each request is caught before it is sent (a `before-send` handler) and handed over as the WSGI
environ werkzeug would build, with the raw path as sent (RAW_URI).
"""

from __future__ import annotations

import io
import json
import logging
import time
import urllib.error
import urllib.parse
import urllib.request

import boto3
import pytest
from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.config import Config
from botocore.credentials import Credentials
from botocore.exceptions import ClientError
from werkzeug.test import EnvironBuilder

from localcloud import config
from localcloud.iam import authorizer, errors, principals, signature
from tests.unit.localcloud.conftest import trust, unique
from tests.unit.localcloud.iam.test_errors import error_of, seen

ENDPOINT = "http://127.0.0.1:4599"
KEY = "LKIASIGNATURETEST001"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"  # noqa: S105 - a test secret, never a real one
WRONG = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEZ"  # one character off
TOKEN = "tok en/+="  # noqa: S105 - a session token with characters that need encoding
ACCOUNT = "123456789012"
QUEUE_URL = f"{ENDPOINT}/{ACCOUNT}/farm-notifications"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:farm-validate"
AWKWARD_KEY = "a b/c+d=é.svg"


class _Sent(Exception):
    """Raised in place of sending: the request was caught."""


def client(service: str, secret: str = SECRET, token: str | None = None, **config_kwargs):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=config.REGION,
        aws_access_key_id=KEY,
        aws_secret_access_key=secret,
        aws_session_token=token,
        config=Config(retries={"total_max_attempts": 1}, **config_kwargs),
    )


def environ_of(method: str, url: str, headers=(), body: bytes = b"") -> dict:
    """What werkzeug's server hands the app for this request: the path and query exactly as sent."""
    parts = urllib.parse.urlsplit(url)
    raw = parts.path + (f"?{parts.query}" if parts.query else "")
    headers = [(k, v.decode() if isinstance(v, bytes) else v) for k, v in headers]
    return EnvironBuilder(
        path=raw, base_url=f"{parts.scheme}://{parts.netloc}", method=method, headers=headers, data=body
    ).get_environ()


def captured(made, operation: str, **params) -> tuple[dict, bytes]:
    """The environ and body of the request `made.<operation>(**params)` sends (it is never sent)."""
    caught = {}

    def catch(request, **_kwargs):
        caught["request"] = request
        raise _Sent

    made.meta.events.register_first("before-send", catch)
    with pytest.raises(_Sent):
        getattr(made, operation)(**params)
    request = caught["request"]
    body = request.body or b""
    if hasattr(body, "read"):
        body = body.read()
    if isinstance(body, str):
        body = body.encode()
    return environ_of(request.method, request.url, request.headers.items(), body), body


def secret_of(key: str) -> str | None:
    return SECRET if key == KEY else None


def verify(environ: dict, secret: str = SECRET, **kwargs):
    return signature.verify(environ, None, lambda key: secret if key == KEY else None, **kwargs)


# (id, service, operation, params): a request of each protocol and path shape the stack sends
CASES = [
    ("s3-put-awkward-key", "s3", "put_object", {"Bucket": "renders", "Key": AWKWARD_KEY, "Body": b"<svg/>"}),
    (
        "s3-get-version",
        "s3",
        "get_object",
        {"Bucket": "renders", "Key": AWKWARD_KEY, "VersionId": "3/L4+kq="},
    ),
    ("s3-list-prefix", "s3", "list_objects_v2", {"Bucket": "renders", "Prefix": "run 1/p+q/"}),
    ("sqs-json", "sqs", "send_message", {"QueueUrl": QUEUE_URL, "MessageBody": '{"run_id": "r é"}'}),
    (
        "sns-query",
        "sns",
        "publish",
        {"TopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:done", "Message": "a+b c"},
    ),
    ("kms", "kms", "generate_data_key", {"KeyId": "alias/farm-storage", "KeySpec": "AES_256"}),
    (
        "lambda-arn-qualifier",
        "lambda",
        "invoke",
        {"FunctionName": FUNCTION, "Qualifier": "live", "Payload": b"{}"},
    ),
    (
        "batch",
        "batch",
        "submit_job",
        {
            "jobName": "render",
            "jobQueue": "farm",
            "jobDefinition": "farm-render:3",
            "arrayProperties": {"size": 4},
        },
    ),
    (
        "states",
        "stepfunctions",
        "start_execution",
        {"stateMachineArn": f"arn:aws:states:us-east-1:{ACCOUNT}:stateMachine:farm", "name": "run-1"},
    ),
    (
        "logs",
        "logs",
        "put_log_events",
        {
            "logGroupName": "/aws/batch/job",
            "logStreamName": "a/b",
            "logEvents": [{"timestamp": 1, "message": "m"}],
        },
    ),
    ("sts", "sts", "get_caller_identity", {}),
    ("iam", "iam", "get_role_policy", {"RoleName": "farm-worker", "PolicyName": "grants"}),
]
IDS = [case[0] for case in CASES]


@pytest.fixture(params=CASES, ids=IDS)
def signed(request) -> tuple[str, dict, bytes]:
    _, service, operation, params = request.param
    environ, body = captured(client(service), operation, **params)
    return service, environ, body


def test_real_clients_requests_verify_and_the_app_reads_the_same_body(signed):
    _, environ, body = signed
    assert verify(environ) is None
    assert environ["wsgi.input"].read() == body  # a body read for its hash is given back


def test_the_paths_that_need_encoding_are_sent_encoded():
    """The cases above really exercise the encodings (else they would prove little)."""
    put, _ = captured(client("s3"), "put_object", Bucket="renders", Key=AWKWARD_KEY, Body=b"x")
    assert put["RAW_URI"] == "/renders/a%20b/c%2Bd%3D%C3%A9.svg"
    invoke, _ = captured(client("lambda"), "invoke", FunctionName=FUNCTION, Qualifier="live")
    assert invoke["RAW_URI"].startswith("/2015-03-31/functions/arn%3Aaws%3Alambda%3A")
    assert invoke["QUERY_STRING"] == "Qualifier=live"


def test_a_wrong_secret_is_refused(signed):
    _, environ, _ = signed
    refused = verify(environ, secret=WRONG)
    assert refused is not None and refused.kind == signature.MISMATCH
    assert "does not match" in refused and SECRET not in refused


def test_a_key_without_a_secret_is_refused(signed):
    _, environ, _ = signed
    assert "no secret" in signature.verify(environ, None, lambda key: None)


WITH_BODY = [case for case in CASES if case[2] not in ("get_object", "list_objects_v2")]


@pytest.mark.parametrize(
    ("service", "operation", "params"), [c[1:] for c in WITH_BODY], ids=[c[0] for c in WITH_BODY]
)
def test_a_changed_body_is_refused(service, operation, params):
    environ, body = captured(client(service), operation, **params)
    assert body
    changed = body[:-1] + bytes([body[-1] ^ 1])
    environ["wsgi.input"] = io.BytesIO(changed)
    refused = verify(environ)
    assert refused is not None
    # S3 declares the body's hash (x-amz-content-sha256), and answers a body that is not it on its own
    assert refused.kind == (signature.PAYLOAD if service == "s3" else signature.MISMATCH)


def test_a_changed_path_is_refused(signed):
    _, environ, _ = signed
    path, _, query = environ["RAW_URI"].partition("?")
    environ["RAW_URI"] = environ["REQUEST_URI"] = path.rstrip("/") + "/x" + (f"?{query}" if query else "")
    assert verify(environ).kind == signature.MISMATCH


def test_a_changed_signed_header_is_refused(signed):
    _, environ, _ = signed
    environ["HTTP_HOST"] = "localhost:4599"
    assert verify(environ).kind == signature.MISMATCH


def test_a_changed_query_is_refused():
    environ, _ = captured(client("s3"), "get_object", Bucket="renders", Key="k", VersionId="v1")
    environ["QUERY_STRING"] = "versionId=v2"
    assert verify(environ).kind == signature.MISMATCH


def test_s3_cannot_swap_its_declared_payload_hash():
    environ, _ = captured(client("s3"), "put_object", Bucket="renders", Key="k", Body=b"<svg/>")
    environ["HTTP_X_AMZ_CONTENT_SHA256"] = signature.UNSIGNED_PAYLOAD  # the hash is signed too
    assert verify(environ).kind == signature.MISMATCH


def test_an_unsigned_header_may_change():
    environ, _ = captured(client("sqs"), "list_queues")
    environ["HTTP_USER_AGENT"] = "something else"  # botocore never signs User-Agent
    assert verify(environ) is None


def test_a_session_token_is_signed_and_kept_out_of_the_log():
    environ, _ = captured(client("sqs", token=TOKEN), "list_queues")
    assert verify(environ) is None
    environ["HTTP_X_AMZ_SECURITY_TOKEN"] = TOKEN + "x"
    refused = verify(environ)
    assert refused.kind == signature.MISMATCH and TOKEN not in refused
    assert "x-amz-security-token:<redacted>" in refused


# ---- the date --------------------------------------------------------------------------------------------


def test_a_date_more_than_15_minutes_away_is_refused_with_aws_message():
    environ, _ = captured(client("kms"), "list_keys")
    assert verify(environ, now=time.time() + 14 * 60) is None
    late = verify(environ, now=time.time() + 16 * 60)
    assert late.kind == signature.SKEWED and late.message.startswith("Signature expired: ")
    early = verify(environ, now=time.time() - 16 * 60)
    assert early.kind == signature.SKEWED and early.message.startswith("Signature not yet current: ")


def test_the_credential_scope_date_must_be_the_requests():
    environ, _ = captured(client("sqs"), "list_queues")
    header = environ["HTTP_AUTHORIZATION"]
    date = header.split("Credential=")[1].split("/")[1]
    environ["HTTP_AUTHORIZATION"] = header.replace(f"/{date}/", "/20200101/")
    assert "credential's date" in verify(environ)


# ---- presigned URLs --------------------------------------------------------------------------------------


def _presigned_environ(url: str) -> dict:
    return environ_of("GET", url)


def test_a_presigned_s3_url_verifies_until_it_expires():
    url = client("s3", signature_version="s3v4").generate_presigned_url(
        "get_object", Params={"Bucket": "renders", "Key": AWKWARD_KEY, "VersionId": "v 1"}, ExpiresIn=60
    )
    environ = _presigned_environ(url)
    assert verify(environ) is None
    assert verify(environ, secret=WRONG).kind == signature.MISMATCH
    assert verify(environ, now=time.time() + 61).kind == signature.EXPIRED
    tampered = _presigned_environ(url.replace("/renders/", "/specs/"))
    assert verify(tampered).kind == signature.MISMATCH


def test_a_presigned_url_of_another_service_signs_its_payload():
    url = client("sts", token=TOKEN).generate_presigned_url("get_caller_identity", HttpMethod="GET")
    assert verify(_presigned_environ(url)) is None
    assert verify(_presigned_environ(url.replace("X-Amz-Expires=3600", "X-Amz-Expires=3601"))) is not None


def test_signature_version_2_is_refused_naming_the_fix():
    url = client("s3", signature_version="s3").generate_presigned_url(
        "get_object", Params={"Bucket": "renders", "Key": "k"}
    )
    assert "AWSAccessKeyId=" in url
    assert "signature_version='s3v4'" in verify(_presigned_environ(url))


# ---- canonical forms against botocore's own ----------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "/",
        "/a/b",
        "/a%20b/c%3Ad",
        "/a//b/",
        "/a/./b/../c",
        "/2015-03-31/functions/arn%3Aaws%3Al%3Af/invocations",
    ],
)
def test_canonical_uri_is_botocores(path):
    credentials = Credentials(KEY, SECRET)
    assert signature.canonical_uri(path, "lambda") == SigV4Auth(
        credentials, "lambda", "us-east-1"
    )._normalize_url_path(path)
    assert signature.canonical_uri(path, "s3") == S3SigV4Auth(
        credentials, "s3", "us-east-1"
    )._normalize_url_path(path)


def test_a_query_encoded_as_go_encodes_it_verifies():
    """Terraform's Go SDK sends a space in a query value as '+' and signs it as %20 (url.Values.Encode)."""
    request = AWSRequest(method="GET", url=f"{ENDPOINT}/renders?list-type=2&prefix=run%201%2F", headers={})
    request.headers["X-Amz-Content-SHA256"] = signature.UNSIGNED_PAYLOAD
    S3SigV4Auth(Credentials(KEY, SECRET), "s3", "us-east-1").add_auth(request)
    go_wire = request.url.replace("run%201", "run+1")
    environ = environ_of("GET", go_wire, request.headers.items())
    assert verify(environ) is None


# ---- the answers SDKs see --------------------------------------------------------------------------------


def _refusal(kind: str) -> signature.Refusal:
    return signature.Refusal(
        "test", kind, access_key_id=KEY, canonical_request="GET\n/", string_to_sign="AWS4"
    )


def _answering(kind: str):
    return lambda service, environ, start_response: errors.signature_mismatch(
        service, environ, start_response, _refusal(kind)
    )


# (service, operation, params, the code AWS answers, its status)
MISMATCHES = [
    ("s3", "get_object", {"Bucket": "b", "Key": "k"}, "SignatureDoesNotMatch", 403),
    (
        "sns",
        "publish",
        {"TopicArn": f"arn:aws:sns:us-east-1:{ACCOUNT}:t", "Message": "m"},
        "SignatureDoesNotMatch",
        403,
    ),
    ("sts", "get_caller_identity", {}, "SignatureDoesNotMatch", 403),
    ("iam", "get_role", {"RoleName": "r"}, "SignatureDoesNotMatch", 403),
    ("sqs", "send_message", {"QueueUrl": QUEUE_URL, "MessageBody": "m"}, "SignatureDoesNotMatch", 403),
    ("kms", "list_keys", {}, "InvalidSignatureException", 400),
    ("logs", "describe_log_groups", {}, "InvalidSignatureException", 400),
    ("stepfunctions", "list_state_machines", {}, "InvalidSignatureException", 400),
    ("lambda", "invoke", {"FunctionName": "f", "Payload": b"{}"}, "InvalidSignatureException", 403),
    ("batch", "describe_job_queues", {}, "InvalidSignatureException", 403),
]


@pytest.mark.parametrize(
    ("service", "operation", "params", "code", "status"), MISMATCHES, ids=[m[0] for m in MISMATCHES]
)
def test_a_mismatch_reaches_the_sdk_as_aws_error(service, operation, params, code, status):
    got_code, message, got_status = seen(
        error_of(_answering(signature.MISMATCH), service, operation, **params)
    )
    assert (got_code, got_status) == (code, status)
    assert message.startswith(
        "The request signature we calculated does not match the signature you provided."
    )


@pytest.mark.parametrize(
    ("kind", "code", "status"),
    [
        (signature.PAYLOAD, "XAmzContentSHA256Mismatch", 400),
        (signature.SKEWED, "RequestTimeTooSkewed", 403),
        (signature.EXPIRED, "AccessDenied", 403),
    ],
)
def test_s3_answers_each_kind_of_refusal_as_s3_does(kind, code, status):
    error = error_of(_answering(kind), "s3", "put_object", Bucket="b", Key="k", Body=b"x")
    assert (seen(error)[0], seen(error)[2]) == (code, status)


def test_s3_tells_the_caller_what_it_signed():
    error = error_of(_answering(signature.MISMATCH), "s3", "get_object", Bucket="b", Key="k")
    assert error.response["Error"]["AWSAccessKeyId"] == KEY
    assert error.response["Error"]["CanonicalRequest"] == "GET\n/"


# ---- the middleware --------------------------------------------------------------------------------------


class _App:
    def __init__(self):
        self.calls = 0

    def __call__(self, environ, start_response):
        self.calls += 1
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]


def _run(app, environ) -> tuple[int, bytes]:
    answer = {}

    def start_response(status, headers, exc_info=None):
        answer["status"] = int(status.split()[0])

    body = b"".join(app(environ, start_response))
    return answer["status"], body


@pytest.fixture
def admin_key(monkeypatch):
    """KEY is the admin key of this (pretend) boot, with SECRET as its secret."""
    monkeypatch.setattr(principals, "is_admin", lambda key: key == KEY)
    monkeypatch.setattr(principals, "secret_for", secret_of)


@pytest.mark.parametrize(("mode", "passes"), [("enforce", False), ("record", True), ("off", True)])
def test_the_admin_key_with_a_wrong_secret_is_refused_unless_switched_off(
    admin_key, monkeypatch, mode, passes
):
    monkeypatch.setenv("LOCALCLOUD_IAM", mode)
    app = _App()
    good, _ = captured(client("sts"), "get_caller_identity")
    assert _run(authorizer.middleware(app), good)[0] == 200
    bad, _ = captured(client("sts", secret=WRONG), "get_caller_identity")
    status, body = _run(authorizer.middleware(app), bad)
    assert (status == 200) is passes and app.calls == (2 if passes else 1)
    if not passes:
        assert status == 403 and b"SignatureDoesNotMatch" in body


def test_a_refusal_is_logged_with_its_reason_and_never_the_secret(admin_key, monkeypatch, caplog):
    monkeypatch.setenv("LOCALCLOUD_IAM", "enforce")
    bad, _ = captured(client("s3", secret=WRONG), "list_buckets")
    with caplog.at_level(logging.WARNING, logger="localcloud.iam"):
        assert _run(authorizer.middleware(_App()), bad)[0] == 403
    logged = caplog.text
    assert "signature refused (mismatch)" in logged and KEY in logged and "canonical request" in logged
    assert SECRET not in logged and WRONG not in logged


# ---- a live cloud ----------------------------------------------------------------------------------------


def _with_secret(cloud, service: str, secret: str, **kwargs):
    kwargs = {**cloud.credentials.client_kwargs(), "aws_secret_access_key": secret, **kwargs}
    return boto3.client(service, config=Config(retries={"total_max_attempts": 1}), **kwargs)


# (service, operation, params, the code a wrong secret gets)
LIVE = [
    ("s3", "list_buckets", {}, "SignatureDoesNotMatch"),
    ("sqs", "list_queues", {}, "SignatureDoesNotMatch"),
    ("sns", "list_topics", {}, "SignatureDoesNotMatch"),
    ("sts", "get_caller_identity", {}, "SignatureDoesNotMatch"),
    ("kms", "list_keys", {}, "InvalidSignatureException"),
    ("lambda", "list_functions", {}, "InvalidSignatureException"),
]


@pytest.mark.parametrize(("service", "operation", "params", "code"), LIVE, ids=[case[0] for case in LIVE])
def test_live_the_admin_key_works_only_with_its_secret(cloud, service, operation, params, code):
    getattr(cloud.client(service), operation)(**params)
    wrong = _with_secret(cloud, service, cloud.credentials.secret_access_key[::-1])
    with pytest.raises(ClientError) as caught:
        getattr(wrong, operation)(**params)
    assert caught.value.response["Error"]["Code"] == code


def test_live_a_session_and_a_user_key_need_their_secrets(cloud):
    iam = cloud.client("iam")
    role = iam.create_role(RoleName=unique("sig"), AssumeRolePolicyDocument=trust("lambda.amazonaws.com"))
    session = cloud.client("sts").assume_role(RoleArn=role["Role"]["Arn"], RoleSessionName="sig-test")
    keys = session["Credentials"]
    as_session = {"aws_access_key_id": keys["AccessKeyId"], "aws_session_token": keys["SessionToken"]}
    sts = _with_secret(cloud, "sts", keys["SecretAccessKey"], **as_session)
    assert sts.get_caller_identity()["Arn"].endswith("/sig-test")
    with pytest.raises(ClientError) as caught:
        _with_secret(cloud, "sts", keys["SecretAccessKey"] + "x", **as_session).get_caller_identity()
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"

    user = unique("sig-user")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    wrong = _with_secret(
        cloud, "sqs", key["SecretAccessKey"][:-1] + "#", aws_access_key_id=key["AccessKeyId"]
    )
    with pytest.raises(ClientError) as caught:
        wrong.list_queues()
    assert caught.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_live_a_presigned_url_works_and_a_tampered_one_does_not(cloud):
    s3 = cloud.client("s3")
    bucket = unique("sig")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key=AWKWARD_KEY, Body=b"<svg/>")
    presigner = cloud.client("s3", config=Config(signature_version="s3v4"))
    url = presigner.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": AWKWARD_KEY})
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - http://127.0.0.1
        assert response.read() == b"<svg/>"
    tampered = url.replace("X-Amz-Expires=3600", "X-Amz-Expires=7200")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(tampered, timeout=30)  # noqa: S310
    assert refused.value.code == 403 and b"<Code>SignatureDoesNotMatch</Code>" in refused.value.read()


def test_live_refusals_are_logged_without_the_secret(cloud):
    secret = cloud.credentials.secret_access_key
    wrong = _with_secret(cloud, "kms", "not-" + secret)
    with pytest.raises(ClientError):
        wrong.list_keys()
    log = (cloud.state_dir / "localcloud.log").read_text()
    assert "signature refused (mismatch)" in log
    assert secret not in log


def test_live_the_body_still_reaches_moto(cloud):
    """A body read for its hash (admin JSON requests) is handed on intact."""
    sqs = cloud.client("sqs")
    url = sqs.create_queue(QueueName=unique("sig"))["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"text": "é & <ok>"}))
    got = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"][0]["Body"]
    assert json.loads(got) == {"text": "é & <ok>"}
