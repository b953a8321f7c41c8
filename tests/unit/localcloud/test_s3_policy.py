"""Bucket policies with conditions behave as on AWS in the local cloud (localcloud/iam/authorizer.py evaluates
them; the operators themselves are tested in tests/unit/localcloud/iam/)."""

from __future__ import annotations

import json
import uuid

import pytest
from botocore.exceptions import ClientError

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
    assert caught.value.response["Error"]["Code"] == "AccessDenied"  # S3's XML error, not an empty 403
    with pytest.raises(ClientError):
        s3.head_object(Bucket=bucket, Key="c.svg")  # nothing was written
