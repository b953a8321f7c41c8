"""harness.infra.release_job_queue: the local destroy deletes the Batch job queue through the API first (the
provider waits a fixed minute for it), best effort."""

from __future__ import annotations

from farm import stack
from harness import infra

QUEUE = "arn:aws:batch:us-east-1:123456789012:job-queue/farm-queue"


class FakeWorkspace:
    def __init__(self, outputs):
        self._outputs = outputs

    def outputs(self):
        return {stack.CONTRACT_OUTPUT: {"value": self._outputs}} if self._outputs is not None else {}


class FakeBatch:
    def __init__(self, fail: bool = False):
        self.calls: list[tuple[str, dict]] = []
        self.fail = fail

    def update_job_queue(self, **kwargs):
        self.calls.append(("update_job_queue", kwargs))
        if self.fail:
            raise RuntimeError("no such queue")

    def delete_job_queue(self, **kwargs):
        self.calls.append(("delete_job_queue", kwargs))


def _local_outputs():
    return {"endpoint_url": "http://127.0.0.1:1", "region": "us-east-1", "job_queue_arn": QUEUE}


def test_the_queue_is_disabled_then_deleted(monkeypatch):
    batch = FakeBatch()
    monkeypatch.setattr(stack.Stack, "client", lambda self, service: batch if service == "batch" else None)
    assert infra.release_job_queue(FakeWorkspace(_local_outputs())) is True
    assert batch.calls == [
        ("update_job_queue", {"jobQueue": QUEUE, "state": "DISABLED"}),
        ("delete_job_queue", {"jobQueue": QUEUE}),
    ]


def test_an_error_or_no_local_queue_leaves_it_to_terraform(monkeypatch, capsys):
    batch = FakeBatch(fail=True)
    monkeypatch.setattr(stack.Stack, "client", lambda self, service: batch)
    assert infra.release_job_queue(FakeWorkspace(_local_outputs())) is False
    assert "left to Terraform (RuntimeError: no such queue)" in capsys.readouterr().out
    assert [name for name, _ in batch.calls] == ["update_job_queue"]
    batch.calls.clear()
    assert infra.release_job_queue(FakeWorkspace({**_local_outputs(), "endpoint_url": None})) is False
    assert infra.release_job_queue(FakeWorkspace(None)) is False
    assert batch.calls == []
