"""The boto3 operations the load users, the verifier and the benchmarks share.

Plain functions over clients, no locust and no threads, so they run the same under gevent and in threads.
`time.sleep` is looked up at call time: under locust it is gevent's cooperative sleep.
"""

from __future__ import annotations

import json
import time
from typing import Any

from tests.perf import specs

TERMINAL_EXECUTION = {"SUCCEEDED", "FAILED", "TIMED_OUT", "ABORTED"}
TERMINAL_JOB = {"SUCCEEDED", "FAILED"}


class RunFailed(Exception):
    """A run ended in a state other than SUCCEEDED, or did not end in time."""


class OutputsMissing(Exception):
    """A run reported success but objects it must have written are absent."""


def sse_kms(kms_key_id: str | None) -> dict[str, str]:
    """The bucket policies deny unencrypted puts: every PUT names SSE-KMS (and the storage key when known)."""
    extra = {"ServerSideEncryption": "aws:kms"}
    if kms_key_id:
        extra["SSEKMSKeyId"] = kms_key_id
    return extra


def put_spec(s3, bucket: str, key: str, spec: dict[str, Any], kms_key_id: str | None = None) -> str:
    body = specs.spec_bytes(spec)
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="application/json", **sse_kms(kms_key_id))
    return f"s3://{bucket}/{key}"


def start_execution(sfn, state_machine_arn: str, run_id: str, spec_uri: str) -> str:
    # The execution name is the run id (contracts.md); a name is mandatory against moto.
    payload = json.dumps({"spec_uri": spec_uri, "run_id": run_id})
    return sfn.start_execution(stateMachineArn=state_machine_arn, name=run_id, input=payload)["executionArn"]


def wait_execution(sfn, execution_arn: str, timeout: float, poll: float = 1.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] in TERMINAL_EXECUTION:
            return described
        if time.monotonic() > deadline:
            raise RunFailed(f"execution {execution_arn} still {described['status']} after {timeout:.0f} s")
        time.sleep(poll)


def submit_batch_job(
    batch,
    *,
    queue: str,
    definition: str,
    run_id: str,
    spec_uri: str,
    output_uri: str,
    variants_per_child: int,
    array_size: int,
    kms_key_id: str | None,
) -> str:
    env = {"SPEC_URI": spec_uri, "RUN_ID": run_id, "OUTPUT_URI": output_uri}
    env["VARIANTS_PER_CHILD"] = str(variants_per_child)
    if kms_key_id:
        env["OUTPUT_KMS_KEY_ID"] = kms_key_id
    kwargs: dict[str, Any] = {
        "jobName": run_id,
        "jobQueue": queue,
        "jobDefinition": definition,
        "containerOverrides": {"environment": [{"name": k, "value": v} for k, v in env.items()]},
    }
    if array_size > 1:  # Batch arrays hold 2..10,000 children; one child is a plain job
        kwargs["arrayProperties"] = {"size": array_size}
    return batch.submit_job(**kwargs)["jobId"]


def wait_batch_job(batch, job_id: str, timeout: float, poll: float = 1.0) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        jobs = batch.describe_jobs(jobs=[job_id])["jobs"]
        if jobs and jobs[0]["status"] in TERMINAL_JOB:
            return jobs[0]
        if time.monotonic() > deadline:
            status = jobs[0]["status"] if jobs else "UNKNOWN"
            raise RunFailed(f"batch job {job_id} still {status} after {timeout:.0f} s")
        time.sleep(poll)


def list_keys(s3, bucket: str, prefix: str) -> set[str]:
    keys: set[str] = set()
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.update(obj["Key"] for obj in page.get("Contents", []))
    return keys


def missing_outputs(
    s3, bucket: str, run_id: str, spec: dict[str, Any], array_size: int, *, published: bool
) -> list[str]:
    """Keys the run must have written that are absent: SVGs, part records, manifest/gallery if published."""
    have = list_keys(s3, bucket, f"{run_id}/")
    want = [f"{run_id}/{key}" for key in specs.expected_svg_keys(spec)]
    want += [f"{run_id}/_parts/{child}.json" for child in specs.child_names(array_size)]
    if published:
        want += [f"{run_id}/manifest.json", f"{run_id}/index.html"]
    return [key for key in want if key not in have]


def check_outputs(
    s3, bucket: str, run_id: str, spec: dict[str, Any], array_size: int, *, published: bool
) -> None:
    missing = missing_outputs(s3, bucket, run_id, spec, array_size, published=published)
    if missing:
        raise OutputsMissing(f"{run_id}: {len(missing)} objects missing, first: {', '.join(missing[:5])}")


def parse_notification(body: str) -> dict[str, Any] | None:
    """The message a queue received: raw, or wrapped in SNS's envelope unless raw delivery is on."""
    try:
        message = json.loads(body)
        if isinstance(message, dict) and "TopicArn" in message and isinstance(message.get("Message"), str):
            message = json.loads(message["Message"])
    except json.JSONDecodeError:
        return None
    return message if isinstance(message, dict) else None


def receive_notifications(
    sqs, queue_url: str, prefix: str, wait_seconds: int = 1
) -> list[tuple[str, dict[str, Any]]]:
    """One receive: (message id, message) pairs of runs whose id starts with `prefix`, which it deletes.

    Others' messages (another suite on the same stack) are left alone: they become visible again after the
    queue's visibility timeout, late but not lost.
    """
    got = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait_seconds)
    ours = []
    for raw in got.get("Messages", []):
        message = parse_notification(raw["Body"]) or {}
        if str(message.get("run_id", "")).startswith(prefix):
            ours.append((raw, message))
    if ours:
        entries = [{"Id": str(i), "ReceiptHandle": raw["ReceiptHandle"]} for i, (raw, _) in enumerate(ours)]
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
    return [(raw["MessageId"], message) for raw, message in ours]
