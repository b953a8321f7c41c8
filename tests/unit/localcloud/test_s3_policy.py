"""Bucket policies with conditions behave as on AWS in the local cloud (localcloud/patches/s3_policy.py)."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

from localcloud.patches.s3_policy import condition_matches

KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"


def _policy(bucket: str) -> str:
    """The storage module's policy shape: TLS only, SSE-KMS only, the storage key only."""
    arn = f"arn:aws:s3:::{bucket}"
    deny = {"Effect": "Deny", "Principal": {"AWS": "*"}}
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                deny
                | {
                    "Action": "s3:*",
                    "Resource": [arn, f"{arn}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                },
                deny
                | {
                    "Action": "s3:PutObject",
                    "Resource": f"{arn}/*",
                    "Condition": {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
                },
                deny
                | {
                    "Action": "s3:PutObject",
                    "Resource": f"{arn}/*",
                    "Condition": {
                        "StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": KEY_ARN}
                    },
                },
            ],
        }
    )


@pytest.fixture
def guarded_bucket(cloud):
    s3 = cloud.client("s3")
    bucket = f"policy-{uuid.uuid4().hex[:10]}"
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=_policy(bucket))
    return s3, bucket


def test_puts_with_the_storage_key_are_allowed_and_readable(guarded_bucket):
    s3, bucket = guarded_bucket
    s3.put_object(
        Bucket=bucket, Key="a.svg", Body=b"<svg/>", ServerSideEncryption="aws:kms", SSEKMSKeyId=KEY_ARN
    )
    assert s3.get_object(Bucket=bucket, Key="a.svg")["Body"].read() == b"<svg/>"


@pytest.mark.parametrize(
    "encryption",
    [
        {},
        {"ServerSideEncryption": "aws:kms"},
        {"ServerSideEncryption": "AES256"},
        {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": "alias/other"},
    ],
    ids=["no-headers", "no-key-id", "wrong-algorithm", "wrong-key"],
)
def test_puts_without_the_storage_key_are_denied(guarded_bucket, encryption):
    s3, bucket = guarded_bucket
    with pytest.raises(ClientError) as caught:
        s3.put_object(Bucket=bucket, Key="c.svg", Body=b"<svg/>", **encryption)
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="c.svg")  # nothing was written


@pytest.mark.parametrize(
    ("operator", "expected", "context", "result"),
    [
        ("Bool", "false", {"aws:securetransport": "true"}, False),
        ("Bool", "false", {"aws:securetransport": "false"}, True),
        ("StringNotEqualsIfExists", "aws:kms", {}, True),
        ("StringNotEquals", "aws:kms", {}, True),
        ("StringEquals", "aws:kms", {}, False),
        ("StringEqualsIfExists", "aws:kms", {}, True),
        ("StringLike", "arn:aws:kms:*", {"k": "arn:aws:kms:us-east-1:1:key/x"}, True),
        ("Null", "true", {}, True),
        ("Null", "false", {}, False),
        ("NumericLessThan", "3", {"k": "1"}, False),
    ],
)
def test_condition_operators(operator, expected, context, result):
    key = "aws:SecureTransport" if operator == "Bool" else "k"
    if operator.startswith("String") and "k" not in context:
        key = "k"
    assert condition_matches(operator, key, expected, context) is result
