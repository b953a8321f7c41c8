"""The speed-ups switch (localcloud/speedups.py): its route and health field, and the speed-ups of the S3 PUT
path (localcloud/patches/moto_routing.py, s3_headers.py, sigv4_speedups.py) answer exactly as moto and our
own code do with the switch on and off."""

from __future__ import annotations

import json
import string
import urllib.error
import urllib.request
from collections import OrderedDict
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError
from moto.core.request import PRESERVED_HEADER_NAMES_ENVIRON_KEY, EnvironHeaders
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
from moto.s3.exceptions import S3AclAndGrantError
from moto.s3.responses import S3Response
from werkzeug.test import EnvironBuilder

from localcloud import config, speedups
from localcloud.patches import moto_routing, s3_headers, sigv4_speedups
from tests.unit.localcloud.conftest import Cloud, unique

# ---- the route and the health field ------------------------------------------------------------------------


def _call(cloud: Cloud, path: str, method: str = "GET", body: bytes | None = None) -> tuple[int, dict]:
    request = urllib.request.Request(cloud.endpoint + path, data=body, method=method)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310 - the test cloud
            return answer.status, json.load(answer)
    except urllib.error.HTTPError as err:
        return err.code, json.load(err)


@pytest.fixture
def switch_restored(cloud: Cloud) -> Iterator[None]:
    """Whatever a test does to the cloud's switch, it is on again afterwards (the other tests expect it)."""
    try:
        yield
    finally:
        speedups.set(cloud.endpoint, True)


def test_the_switch_is_on_by_default_and_in_the_health_document(cloud: Cloud):
    assert speedups.get(cloud.endpoint) is True
    assert _call(cloud, config.HEALTH_PATH)[1]["speedups"] is True


def test_get_and_post_flip_the_switch_without_credentials(cloud: Cloud, switch_restored):
    # Plain HTTP, no signature: the route is the local cloud's own, like health, not an AWS API.
    status, doc = _call(cloud, speedups.PATH, "POST", json.dumps({"enabled": False}).encode())
    assert (status, doc) == (200, {"enabled": False})
    assert _call(cloud, speedups.PATH) == (200, {"enabled": False})
    assert _call(cloud, config.HEALTH_PATH)[1]["speedups"] is False
    assert speedups.set(cloud.endpoint, True) is True
    assert _call(cloud, config.HEALTH_PATH)[1]["speedups"] is True


def test_off_turns_them_off_for_the_block_and_back_on_after_an_error(cloud: Cloud, switch_restored):
    with pytest.raises(RuntimeError), speedups.off(cloud.endpoint):
        assert speedups.get(cloud.endpoint) is False
        raise RuntimeError("the block failed")
    assert speedups.get(cloud.endpoint) is True


@pytest.mark.parametrize(
    "body, says",
    [
        (b"not json", "Expecting value"),
        (b"", 'the body must be {"enabled": true} or {"enabled": false}'),
        (b'{"enabled": "no"}', 'the body must be {"enabled": true} or {"enabled": false}'),
        (b"[true]", 'the body must be {"enabled": true} or {"enabled": false}'),
        (b'{"enabled": true, "also": 1}', 'the body must be {"enabled": true} or {"enabled": false}'),
        (b"\xff\xfe", "Expecting value"),
    ],
)
def test_a_bad_body_is_refused_with_400_naming_the_problem(cloud: Cloud, switch_restored, body, says):
    status, doc = _call(cloud, speedups.PATH, "POST", body)
    assert status == 400
    assert says in doc["error"]
    assert speedups.get(cloud.endpoint) is True  # unchanged


def test_other_methods_are_refused(cloud: Cloud):
    status, doc = _call(cloud, speedups.PATH, "DELETE")
    assert status == 405
    assert "DELETE is not GET or POST" in doc["error"]


# ---- the same answers with the switch on and off, over HTTP ------------------------------------------------

VOLATILE_HEADERS = {"date", "x-amzn-requestid", "x-amz-request-id", "x-amz-id-2", "x-amz-version-id"}
VOLATILE_FIELDS = {"RequestId", "HostId", "RetryAttempts", "VersionId", "LastModified"}


def _same_shape(answer: Any, key: str) -> Any:
    """An answer with what differs between two puts of the same bytes taken out (ids, times, the key)."""
    if isinstance(answer, dict):
        shaped = {}
        for name, value in answer.items():
            if name in VOLATILE_FIELDS:
                continue
            if name == "HTTPHeaders":
                value = {h: v for h, v in value.items() if h not in VOLATILE_HEADERS and h != "last-modified"}
            elif name == "Body":
                value = value.read()
            shaped[name] = _same_shape(value, key)
        return shaped
    if isinstance(answer, list):
        return [_same_shape(item, key) for item in answer]
    if isinstance(answer, str):
        return answer.replace(key, "<key>")
    return answer


@pytest.fixture(scope="module")
def encrypted_bucket(cloud: Cloud) -> tuple[str, str]:
    """A bucket set up like the stack's renders bucket: versioning, default SSE-KMS with a customer key."""
    s3 = cloud.client("s3")
    key_arn = cloud.client("kms").create_key(Description="speedups test")["KeyMetadata"]["Arn"]
    bucket = unique("speedups")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    rule = {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_arn}
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": rule, "BucketKeyEnabled": True}]
        },
    )
    return bucket, key_arn


def _object_answers(cloud: Cloud, bucket: str, key_arn: str, key: str, **acl: str) -> dict[str, Any]:
    s3 = cloud.client("s3")
    put = s3.put_object(
        Bucket=bucket,
        Key=key,
        Body=b"<svg>speed-ups</svg>",
        ContentType="image/svg+xml",
        CacheControl="max-age=60",
        ContentDisposition='inline; filename="a.svg"',
        Metadata={"colour": "red", "my_key": "underscored", "Mixed-Case": "Value"},
        Tagging="run=r1&variant=blue%20one",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=key_arn,
        **acl,
    )
    answers = {
        "put": put,
        "get": s3.get_object(Bucket=bucket, Key=key),
        "head": s3.head_object(Bucket=bucket, Key=key),
        "list": s3.list_objects_v2(Bucket=bucket, Prefix=key),
        "tagging": s3.get_object_tagging(Bucket=bucket, Key=key),
        "acl": s3.get_object_acl(Bucket=bucket, Key=key),
    }
    return _same_shape(answers, key)


@pytest.mark.parametrize(
    "acl",
    [
        {},
        {"ACL": "public-read"},
        {"GrantRead": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"'},
    ],
    ids=["bucket-acl", "canned-acl", "grant"],
)
def test_put_get_head_list_answer_the_same_both_ways(cloud: Cloud, encrypted_bucket, switch_restored, acl):
    bucket, key_arn = encrypted_bucket
    on = _object_answers(cloud, bucket, key_arn, unique("put/on"), **acl)
    with speedups.off(cloud.endpoint):
        off = _object_answers(cloud, bucket, key_arn, unique("put/of"), **acl)
    assert on == off
    head = on["head"]
    assert head["Metadata"] == {"colour": "red", "my_key": "underscored", "mixed-case": "Value"}
    assert (head["ContentType"], head["CacheControl"]) == ("image/svg+xml", "max-age=60")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"]) == ("aws:kms", key_arn)
    assert on["tagging"]["TagSet"] == [{"Key": "run", "Value": "r1"}, {"Key": "variant", "Value": "blue one"}]
    assert len(on["put"]["ResponseMetadata"]["HTTPHeaders"]) > 3


def test_a_canned_acl_with_grants_is_refused_the_same_both_ways(
    cloud: Cloud, encrypted_bucket, switch_restored
):
    bucket, key_arn = encrypted_bucket
    s3 = cloud.client("s3")

    def refused(key: str) -> dict[str, Any]:
        with pytest.raises(s3.exceptions.ClientError) as caught:
            s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=b"x",
                ACL="public-read",
                GrantRead='uri="http://acs.amazonaws.com/groups/global/AllUsers"',
                ServerSideEncryption="aws:kms",
                SSEKMSKeyId=key_arn,
            )
        return _same_shape(caught.value.response, key)

    on = refused(unique("both/on"))
    with speedups.off(cloud.endpoint):
        off = refused(unique("both/of"))
    assert on == off
    assert on["Error"]["Code"] == "InvalidRequest"


def _other_services(cloud: Cloud, name: str) -> dict[str, Any]:
    sqs, kms, sts = cloud.client("sqs"), cloud.client("kms"), cloud.client("sts")
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="routed")
    received = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0)["Messages"]
    key = kms.create_key(Description=name)["KeyMetadata"]
    answers = {
        "queue_url": sqs.get_queue_url(QueueName=name)["QueueUrl"],
        "bodies": [m["Body"] for m in received],
        "key": kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"],
        "caller": sts.get_caller_identity()["Account"],
    }
    return _same_shape(answers, name)


def test_other_services_are_routed_right_both_ways(cloud: Cloud, switch_restored):
    on = _other_services(cloud, unique("routed-a"))
    with speedups.off(cloud.endpoint):
        off = _other_services(cloud, unique("routed-b"))
    assert on == off
    assert on["bodies"] == ["routed"]
    assert on["key"] == "<key>"
    assert on["queue_url"].endswith("/<key>")


# ---- moto's routing, remembered (in-process) ---------------------------------------------------------------


@pytest.fixture
def switch(request) -> Iterator[None]:
    """The switch of this (test) process, set by `@pytest.mark.parametrize("switch", [True, False],
    indirect=True)` or on; restored afterwards."""
    before = speedups.enabled()
    speedups.set_enabled(getattr(request, "param", True))
    try:
        yield
    finally:
        speedups.set_enabled(before)


HOSTS = [
    "s3.us-east-1.amazonaws.com",
    "sqs.us-east-1.amazonaws.com",
    "kms.eu-west-1.amazonaws.com",
    "events.us-east-1.amazonaws.com",
    "bucket.s3.amazonaws.com",
    "s3control",
    "dynamodb",
    "moto_api",
    "instance_metadata",
    "localhost",
    None,
]


@pytest.mark.parametrize("switch", [True, False], indirect=True)
def test_every_host_is_routed_as_moto_routes_it(switch):
    dispatcher = DomainDispatcherApplication(create_backend_app)
    expected = [moto_routing.original_get_backend_for_host(dispatcher, host) for host in HOSTS]
    assert expected[:3] == ["s3", "sqs", "kms"]
    for _ in range(3):  # the first time moto's own function answers; then the memo, when on
        assert [moto_routing.get_backend_for_host(dispatcher, host) for host in HOSTS] == expected
    remembered = moto_routing._MEMO in dispatcher.__dict__
    assert remembered is speedups.enabled()


def test_an_unknown_amazonaws_host_is_never_remembered(switch, capsys):
    dispatcher = DomainDispatcherApplication(create_backend_app)
    for _ in range(3):
        assert moto_routing.get_backend_for_host(dispatcher, "nosuch.us-east-1.amazonaws.com") is None
    said = capsys.readouterr().out
    assert said.count("Unable to find appropriate backend for nosuch.us-east-1.amazonaws.com") == 3


def test_the_memo_is_bounded(switch):
    dispatcher = DomainDispatcherApplication(create_backend_app)
    for n in range(moto_routing.MAX_HOSTS + 20):
        assert moto_routing.get_backend_for_host(dispatcher, f"sqs.region-{n}.amazonaws.com") == "sqs"
    assert len(dispatcher.__dict__[moto_routing._MEMO][1]) == moto_routing.MAX_HOSTS


def test_new_url_patterns_drop_the_memo(switch):
    dispatcher = DomainDispatcherApplication(create_backend_app)
    host = "sqs.us-east-1.amazonaws.com"
    assert moto_routing.get_backend_for_host(dispatcher, host) == "sqs"
    dispatcher.backend_url_patterns = [p for p in dispatcher.backend_url_patterns if p[0] != "sqs"]
    assert moto_routing.get_backend_for_host(dispatcher, host) == moto_routing.original_get_backend_for_host(
        dispatcher, host
    )
    assert moto_routing.get_backend_for_host(dispatcher, host) != "sqs"


# ---- S3 headers read once, the request id (in-process) -----------------------------------------------------


def _headers(pairs: list[tuple[str, str]]) -> EnvironHeaders:
    """Request headers as moto's server hands them to S3Response (MotoRequestHandler keeps the spelling of
    underscored x-amz-meta-* names)."""
    environ = EnvironBuilder(method="PUT", path="/bucket/key", headers=pairs).get_environ()
    environ[PRESERVED_HEADER_NAMES_ENVIRON_KEY] = {
        "HTTP_" + name.upper().replace("-", "_"): name for name, _ in pairs if "_" in name
    }
    return EnvironHeaders(environ)


HEADER_SETS = [
    [],
    [("Content-Type", "image/svg+xml"), ("x-amz-server-side-encryption", "aws:kms")],
    [
        ("Content-Type", "image/svg+xml"),
        ("Cache-Control", "max-age=60"),
        ("x-amz-meta-colour", "red"),
        ("X-Amz-Meta-Mixed-Case", "Value"),
        ("x-amz-meta-my_key", "underscored"),
        ("x-amz-meta-bad key", "not metadata"),
        ("Content-MD5", "abc=="),
        ("x-amz-checksum-algorithm", "CRC32"),
        ("x-amz-website-redirect-location", "/other"),
        ("x-amz-tagging", "a=1"),
        ("Expires", "Thu, 01 Dec 2026 16:00:00 GMT"),
        ("Authorization", "AWS4-HMAC-SHA256 Credential=x"),
    ],
]


@pytest.mark.parametrize("pairs", HEADER_SETS, ids=["none", "plain", "metadata"])
def test_metadata_from_headers_is_moto_s(switch, pairs):
    headers = _headers(pairs)
    expected = list(s3_headers.original_metadata_from_headers(headers).items())
    assert list(s3_headers.metadata_from_headers(headers).items()) == expected
    as_query = OrderedDict((name, [value]) for name, value in headers.items())  # the querystring's shape
    expected = list(s3_headers.original_metadata_from_headers(as_query).items())
    assert list(s3_headers.metadata_from_headers(as_query).items()) == expected
    plain = dict(headers.items())
    assert list(s3_headers.metadata_from_headers(plain).items()) == list(
        s3_headers.original_metadata_from_headers(plain).items()
    )
    if pairs:
        assert expected


def _acl_view(acl: Any) -> Any:
    if acl is None:
        return None
    return [
        (sorted((g.id, g.uri) for g in grant.grantees), sorted(grant.permissions)) for grant in acl.grants
    ]


@pytest.mark.parametrize(
    "pairs",
    [
        [],
        [("x-amz-acl", "public-read")],
        [("x-amz-acl", "bucket-owner-full-control"), ("x-amz-meta-a", "1")],
        [("x-amz-grant-read", 'uri="http://acs.amazonaws.com/groups/global/AllUsers", id="abc"')],
        [("X-Amz-Grant-Full-Control", 'id="owner"'), ("x-amz-grant-write-acp", 'id="x"')],
    ],
    ids=["none", "canned", "canned-and-meta", "grant", "grants"],
)
def test_acl_from_headers_is_moto_s(switch, pairs):
    response = S3Response()
    headers = _headers(pairs)
    expected = _acl_view(s3_headers.original_acl_from_headers(response, headers))
    assert _acl_view(s3_headers.acl_from_headers(response, headers)) == expected
    assert (expected is None) is (not pairs)


def test_a_canned_acl_with_grants_raises_as_moto_does(switch):
    headers = _headers([("x-amz-acl", "private"), ("x-amz-grant-read", 'id="abc"')])
    with pytest.raises(S3AclAndGrantError):
        s3_headers.acl_from_headers(S3Response(), headers)


@pytest.mark.parametrize("switch", [True, False], indirect=True)
def test_the_request_id_has_moto_s_length_and_alphabet(switch):
    headers: dict[str, str] = {}
    ids = {s3_headers.gen_amzn_requestid_long(headers) for _ in range(50)}
    assert len(ids) == 50
    assert all(len(i) == 52 and set(i) <= set(string.ascii_letters + string.digits) for i in ids)
    assert headers["x-amzn-requestid"] in ids


# ---- SigV4: the derived key remembered, the timestamp sliced (in-process and over HTTP) --------------------

STAMPS = [
    "20261130T101010Z",
    "20240229T235959Z",
    "20240229T235960Z",  # a leap second: strptime takes it
    "20260229T000000Z",  # no such day
    "20261301T000000Z",
    "20261130T246000Z",
    "2026113T101010Z",  # strptime reads a one-digit day
    "00001130T101010Z",
    "20261130T101010",
    "２０２６1130T101010Z",  # non-ASCII digits
    "",
]


@pytest.mark.parametrize("switch", [True, False], indirect=True)
def test_the_timestamp_is_read_as_strptime_reads_it(switch):
    assert [sigv4_speedups._epoch(s) for s in STAMPS] == [sigv4_speedups.original_epoch(s) for s in STAMPS]
    assert sigv4_speedups._epoch(STAMPS[0]) == 1796033410


def test_the_signing_key_is_the_derived_one_and_the_memo_is_bounded(switch):
    for n in range(sigv4_speedups.MAX_KEYS + 5):
        scope = (f"secret-{n}", "20261130", "us-east-1", "s3")
        assert sigv4_speedups.signing_key(*scope) == sigv4_speedups.original_signing_key(*scope)
        assert sigv4_speedups.signing_key(*scope) == sigv4_speedups.original_signing_key(*scope)
    assert 0 < len(sigv4_speedups._keys) <= sigv4_speedups.MAX_KEYS


def _refusals(cloud: Cloud, bucket: str) -> dict[str, Any]:
    kwargs = cloud.credentials.client_kwargs()
    wrong = boto3.client("s3", **{**kwargs, "aws_secret_access_key": "not-the-secret" * 3})
    found = {}
    with pytest.raises(ClientError) as caught:
        wrong.head_bucket(Bucket=bucket)
    found["refused_code"] = caught.value.response["Error"]["Code"]
    with pytest.raises(ClientError) as caught:
        wrong.list_objects_v2(Bucket=bucket)
    found["refused_message"] = caught.value.response["Error"]["Message"]
    return found


def test_signature_refusals_are_the_same_both_ways(cloud: Cloud, encrypted_bucket, switch_restored):
    bucket, _ = encrypted_bucket
    on = _refusals(cloud, bucket)
    with speedups.off(cloud.endpoint):
        off = _refusals(cloud, bucket)
    assert on == off
    assert on["refused_code"] == "403"
    assert "signature" in on["refused_message"].lower()
