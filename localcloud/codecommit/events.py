"""What a push changes besides git: the repository's metadata and the EventBridge events AWS sends.

Per updated branch or tag, a `CodeCommit Repository State Change` event (source `aws.codecommit`, resources
[the repository ARN]) goes onto the account's default event bus through moto's events backend, so rules
match as usual and their targets (SQS, Logs, CodePipeline: patches/events_codepipeline.py) get it. The first
branch pushed to an empty repository becomes its default branch, as on AWS.
"""

from __future__ import annotations

import json
import logging
import threading

from moto.core.utils import iso_8601_datetime_with_milliseconds

from localcloud import config
from localcloud.codecommit import repos

log = logging.getLogger("localcloud.codecommit")

ZERO = "0" * 40
SOURCE = "aws.codecommit"
DETAIL_TYPE = "CodeCommit Repository State Change"
_lock = threading.Lock()  # moto's backends are not built for concurrent writers


def reference_detail(metadata: dict, caller_arn: str, old: str, new: str, ref: str) -> dict[str, str] | None:
    """The event's detail for one updated ref (None for refs that are neither branches nor tags)."""
    raw = ref.encode()
    if raw.startswith(repos.BRANCH_PREFIX):
        kind, short = "branch", ref[len(repos.BRANCH_PREFIX) :]
    elif raw.startswith(repos.TAG_PREFIX):
        kind, short = "tag", ref[len(repos.TAG_PREFIX) :]
    else:
        return None
    event = "referenceCreated" if old == ZERO else "referenceDeleted" if new == ZERO else "referenceUpdated"
    detail = {
        "callerUserArn": caller_arn,
        "event": event,
        "referenceFullName": ref,
        "referenceName": short,
        "referenceType": kind,
        "repositoryId": metadata["repositoryId"],
        "repositoryName": metadata["repositoryName"],
    }
    if event != "referenceDeleted":
        detail["commitId"] = new
    if event != "referenceCreated":
        detail["oldCommitId"] = old
    return detail


def pushed(name: str, updates: list[tuple[str, str, str]], caller_arn: str) -> None:
    """A push updated `updates` ((old id, new id, full ref name), ids hex): record it in the metadata and
    send the events. Never raises: a push that git accepted stays accepted."""
    try:
        metadata = repos.repository(name)
        with _lock:
            metadata["lastModifiedDate"] = iso_8601_datetime_with_milliseconds()
            if not metadata.get("defaultBranch"):
                first = next((r for o, n, r in updates if r.startswith("refs/heads/") and n != ZERO), None)
                if first:
                    metadata["defaultBranch"] = first[len("refs/heads/") :]
        entries = []
        for old, new, ref in updates:
            detail = reference_detail(metadata, caller_arn, old, new, ref)
            if detail is not None:
                entries.append(
                    {
                        "Source": SOURCE,
                        "DetailType": DETAIL_TYPE,
                        "Detail": json.dumps(detail),
                        "Resources": [metadata["Arn"]],
                    }
                )
        _put(entries, metadata.get("accountId") or config.ACCOUNT_ID)
    except Exception:
        log.exception("could not record the push to %s or send its events", name)


def _put(entries: list[dict], account: str) -> None:
    from moto.events.models import events_backends

    backend = events_backends[account][config.REGION]
    for start in range(0, len(entries), 10):  # PutEvents takes at most 10 entries
        with _lock:
            backend.put_events(entries[start : start + 10])
