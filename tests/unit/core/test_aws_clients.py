"""render_worker.aws: the clients parse S3's timestamps fast and exactly as botocore's own parser does."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from botocore.utils import parse_timestamp

from render_worker import aws


@pytest.mark.parametrize(
    "value",
    ["2026-11-30T12:00:00.000Z", "2026-11-30T12:00:00Z", "2026-11-30T12:00:00.123456Z",
     "2026-11-30T12:00:00+01:00", "Mon, 30 Nov 2026 12:00:00 GMT", "1796040000"],
)  # fmt: skip
def test_the_fast_parser_gives_botocores_answer(value):
    assert aws.parse_response_timestamp(value) == parse_timestamp(value)
    assert aws.parse_response_timestamp(value).utcoffset() == parse_timestamp(value).utcoffset()


def test_a_listing_parses_last_modified_into_aware_datetimes(monkeypatch):
    from moto import mock_aws

    calls = []
    original = aws.parse_response_timestamp
    monkeypatch.setattr(aws, "parse_response_timestamp", lambda v: calls.append(v) or original(v))
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    aws.reset()
    with mock_aws():
        s3 = aws.client("s3")
        s3.create_bucket(Bucket="timestamps")
        s3.put_object(Bucket="timestamps", Key="a.svg", Body=b"<svg/>")
        listed = s3.list_objects_v2(Bucket="timestamps")["Contents"][0]["LastModified"]
    aws.reset()
    assert isinstance(listed, datetime) and listed.utcoffset() == UTC.utcoffset(None)
    assert abs((datetime.now(UTC) - listed).total_seconds()) < 60
    assert calls, "the client did not use render_worker.aws's parser"
