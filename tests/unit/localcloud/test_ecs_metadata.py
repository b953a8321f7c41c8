"""The ECS task metadata endpoint v4 (localcloud/ecs_metadata.py): the documents of a running attempt,
404 for any other task id, the record gone once the attempt ends. In process, no cloud: the live path (a job
reading its own document from inside its container) is tests/integration/test_containers.py."""

from __future__ import annotations

import io
import json
import uuid
from types import SimpleNamespace

import pytest

from localcloud import ecs_metadata

DIGEST = "sha256:" + "ab" * 32
IMAGE = f"127.0.0.1:5000/render-farm-worker@{DIGEST}"
ENDPOINT = "http://127.0.0.1:4599"


def _attempt(task_id: str, ce_type: str = "FARGATE_SPOT"):
    environment = SimpleNamespace(compute_resources={"type": ce_type})
    job = SimpleNamespace(
        job_id="job-1",
        job_definition=SimpleNamespace(name="render-worker", revision=3),
        job_queue=SimpleNamespace(environments=[environment]),
        backend=SimpleNamespace(region_name="us-east-1", account_id="123456789012"),
    )
    return SimpleNamespace(
        job=job,
        task_id=task_id,
        container=f"lc-{task_id}",
        log_group="/aws/batch/job",
        log_stream=f"render-worker/default/{task_id}",
    )


def _spec(image: str = IMAGE, memory: int | None = 2048, vcpus: float | None = 1.0):
    return SimpleNamespace(image=image, memory_mib=memory, vcpus=vcpus)


def _get(path: str, method: str = "GET") -> tuple[str, dict]:
    seen = {}

    def start_response(status, headers):
        seen["status"] = status
        seen["headers"] = dict(headers)

    environ = {"PATH_INFO": path, "REQUEST_METHOD": method, "wsgi.input": io.BytesIO(b"")}
    body = b"".join(ecs_metadata.route(environ, start_response))
    assert seen["headers"]["Content-Type"] == "application/json"
    return seen["status"], json.loads(body)


@pytest.fixture
def running(monkeypatch):
    """A registered attempt (podman is not asked: its container id comes from a stub)."""
    monkeypatch.setenv("LOCALCLOUD_ENDPOINT", ENDPOINT)
    monkeypatch.setattr(ecs_metadata, "docker_id", lambda record: "c0ffee" * 10 + "abcd")
    task_id = uuid.uuid4().hex
    uri = ecs_metadata.register(_attempt(task_id), _spec(), IMAGE)
    yield task_id, uri
    ecs_metadata.forget(task_id)


def test_uri_is_the_cloud_s_endpoint_and_the_task_id(running):
    task_id, uri = running
    assert uri == f"{ENDPOINT}/_localcloud/ecs/{task_id}"
    assert ecs_metadata.ENV == "ECS_CONTAINER_METADATA_URI_V4"
    assert task_id in ecs_metadata.running()


def test_container_document(running):
    task_id, uri = running
    status, doc = _get(uri.removeprefix(ENDPOINT))
    assert status == "200 OK"
    task_arn = f"arn:aws:ecs:us-east-1:123456789012:task/localcloud/{task_id}"
    assert doc["Image"] == IMAGE
    assert doc["ImageID"] == DIGEST  # pulled by digest: the manifest digest in the reference
    assert doc["Name"] == "default" and doc["DockerName"] == f"lc-{task_id}"
    assert doc["DockerId"] == "c0ffee" * 10 + "abcd"
    assert doc["Type"] == "NORMAL" and doc["KnownStatus"] == doc["DesiredStatus"] == "RUNNING"
    assert doc["Limits"] == {"CPU": 1024, "Memory": 2048}
    assert doc["Labels"] == {
        "com.amazonaws.ecs.cluster": "arn:aws:ecs:us-east-1:123456789012:cluster/localcloud",
        "com.amazonaws.ecs.container-name": "default",
        "com.amazonaws.ecs.task-arn": task_arn,
        "com.amazonaws.ecs.task-definition-family": "render-worker",
        "com.amazonaws.ecs.task-definition-version": "3",
    }
    assert doc["ContainerARN"].startswith(
        f"arn:aws:ecs:us-east-1:123456789012:container/localcloud/{task_id}/"
    )
    assert doc["LogDriver"] == "awslogs"
    assert doc["LogOptions"]["awslogs-group"] == "/aws/batch/job"
    assert doc["LogOptions"]["awslogs-stream"] == f"render-worker/default/{task_id}"
    assert doc["LogOptions"]["awslogs-region"] == "us-east-1"
    assert doc["CreatedAt"].endswith("Z") and doc["StartedAt"].endswith("Z")


def test_task_document(running):
    task_id, uri = running
    status, doc = _get(uri.removeprefix(ENDPOINT) + "/task")
    assert status == "200 OK"
    assert doc["Cluster"] == "arn:aws:ecs:us-east-1:123456789012:cluster/localcloud"
    assert doc["TaskARN"] == f"arn:aws:ecs:us-east-1:123456789012:task/localcloud/{task_id}"
    assert (doc["Family"], doc["Revision"]) == ("render-worker", "3")
    assert doc["DesiredStatus"] == doc["KnownStatus"] == "RUNNING"
    assert doc["Limits"] == {"CPU": 1.0, "Memory": 2048}
    assert doc["LaunchType"] == "FARGATE"  # a FARGATE_SPOT compute environment is Fargate capacity
    assert doc["AvailabilityZone"] == "us-east-1a"
    (container,) = doc["Containers"]
    assert (
        container["ImageID"] == DIGEST and container["Labels"]["com.amazonaws.ecs.task-arn"] == doc["TaskARN"]
    )


def test_unknown_ended_and_malformed_ids_are_404(running):
    task_id, uri = running
    assert _get(f"/_localcloud/ecs/{uuid.uuid4().hex}")[0] == "404 Not Found"
    assert _get("/_localcloud/ecs/../health")[0] == "404 Not Found"
    assert _get(f"/_localcloud/ecs/{task_id}/stats")[0] == "404 Not Found"  # not provided
    assert _get(f"/_localcloud/ecs/{task_id}", method="POST")[0] == "405 Method Not Allowed"
    ecs_metadata.forget(task_id)  # the attempt ended
    assert _get(uri.removeprefix(ENDPOINT))[0] == "404 Not Found"
    assert _get(uri.removeprefix(ENDPOINT) + "/task")[0] == "404 Not Found"
    assert task_id not in ecs_metadata.running()


def test_without_a_registry_image_id_is_the_digest_podman_recorded(monkeypatch):
    calls = []

    def run_podman(*args, **_kwargs):
        calls.append(args)
        return SimpleNamespace(returncode=0, stdout=f"{DIGEST} {'cd' * 32}\n", stderr="")

    from localcloud import containers

    monkeypatch.setattr(containers, "run_podman", run_podman)
    monkeypatch.setattr(containers, "registry_address", lambda: None)  # no registry: podman's view
    record = _record("127.0.0.1:5000/worker:git-abc")
    assert ecs_metadata.image_id(record) == DIGEST
    assert ecs_metadata.image_id(record) == DIGEST  # asked once
    assert len(calls) == 1 and calls[0][:2] == ("image", "inspect")
    record.image_id = None

    def no_digest(*args, **_kwargs):  # an image built here and never pushed: podman's image id
        return SimpleNamespace(returncode=0, stdout=f" {'cd' * 32}\n", stderr="")

    monkeypatch.setattr(containers, "run_podman", no_digest)
    assert ecs_metadata.image_id(record) == "sha256:" + "cd" * 32


def test_a_local_registry_tag_s_image_id_is_the_digest_the_registry_serves(monkeypatch):
    """Not podman's `.Digest`: an image built here and pushed keeps its local manifest's digest there."""
    from localcloud import containers, registry

    asked = []

    def api(path, method="GET", headers=None, body=None):
        asked.append((path, method))
        return registry.Answer(200, {"docker-content-digest": DIGEST}, b"")

    monkeypatch.setattr(containers, "registry_address", lambda: "127.0.0.1:5000")
    monkeypatch.setattr(registry, "api", api)
    monkeypatch.setattr(containers, "run_podman", lambda *a, **k: pytest.fail("podman asked"))
    record = _record("localhost:5000/farm/render-worker:git-abc")
    assert ecs_metadata.image_id(record) == DIGEST
    assert asked == [("/v2/farm/render-worker/manifests/git-abc", "HEAD")]


def _record(image: str) -> ecs_metadata.TaskRecord:
    return ecs_metadata.TaskRecord(
        task_id=uuid.uuid4().hex,
        container="lc-x",
        image=image,
        local_image=image,
        region="us-east-1",
        account="123456789012",
        family="f",
        revision=1,
        memory_mib=None,
        vcpus=None,
        log_group="g",
        log_stream="s",
        launch_type="EC2",
    )


def test_the_server_routes_it_in_front_of_moto(running):
    from localcloud import server

    reached = []

    def moto(environ, start_response):
        reached.append(environ["PATH_INFO"])
        start_response("200 OK", [])
        return [b""]

    app = server.with_routes(moto, "boot", server.ServerErrors())
    task_id, uri = running
    seen = {}
    environ = {"PATH_INFO": f"/_localcloud/ecs/{task_id}", "REQUEST_METHOD": "GET"}
    body = b"".join(app(environ, lambda status, headers: seen.update(status=status)))
    assert seen["status"] == "200 OK" and json.loads(body)["ImageID"] == DIGEST
    assert reached == []  # answered without credentials, as the metadata endpoint is
