"""Jobs and Lambdas in containers (issue 11's "Done when"): what only a real image, a real zip and real limits
catch, on the deployed stack.

- A job on the stack's own job definition reports from inside itself its cgroup memory limit (the job
  definition's MEMORY), its uid (10001, the image's user) and its image digest (from the ECS task metadata
  endpoint, $ECS_CONTAINER_METADATA_URI_V4), which is the digest in the job definition's image and one ECR's
  DescribeImages lists.
- An image without the schemas fails a job (the image is the pushed worker image with its packaged
  `*.schema.json` removed, pushed under a new tag; a copy of the job definition names it); the same spec on
  the real image succeeds.
- A ValidateInput zip without jsonschema (and the rest of its closure: referencing, rpds, attrs) fails with
  Runtime.ImportModuleError; the same function from the unmodified zip succeeds.
- A 512 MiB Fargate job allocating 2 GB ends FAILED with AWS's OutOfMemoryError reason and exit code 137 after
  one attempt (the stack's retry strategy exits on it).
- A job cannot read a host path that is not its volume (the local cloud's credentials file, the repository's
  pyproject.toml), while its volume is there.

On the local cloud these need container mode: skipped (with the reason) when the deployed cloud runs in
process mode and LOCALCLOUD_RUNTIME does not ask for containers; under LOCALCLOUD_RUNTIME=container (CI) they
must run. Everything a test creates (images, tags, job definitions, functions) is removed by it.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import subprocess
import tempfile
import time
import uuid
import zipfile
from pathlib import Path
from urllib.parse import urlparse

import pytest

from harness.paths import REPO
from tests.conftest import make_spec
from tests.integration import checks

pytestmark = pytest.mark.live


REPORT = "CONTAINER-REPORT "  # the line a probe job prints its findings on
JOB_TIMEOUT = float(os.environ.get("FARM_TEST_CONTAINER_JOB_TIMEOUT", "300"))
SCHEMA_MISSING = "schema catalog.schema.json is neither in"  # render_worker.schemas.path_of's error
OOM_REASON = "OutOfMemoryError: Container killed due to memory usage"
ZIP = REPO / "build" / "lambdas" / "validate_input.zip"
JSONSCHEMA_CLOSURE = ("jsonschema", "referencing", "rpds", "attrs", "attr")  # top-level zip entries removed

PROBE = r"""
import json, os, urllib.request

def memory_limit():
    for path in ("/sys/fs/cgroup/memory/memory.limit_in_bytes", "/sys/fs/cgroup/memory.max"):
        try:
            with open(path) as handle:
                return handle.read().strip()
        except OSError:
            pass
    return None

def metadata(suffix=""):
    uri = os.environ.get("ECS_CONTAINER_METADATA_URI_V4")
    if not uri:
        return {}
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(uri + suffix, timeout=30) as response:
        return json.loads(response.read())

container, task = metadata(), metadata("/task")
found = {
    "memory_limit": memory_limit(),
    "uid": os.getuid(),
    "image": container.get("Image"),
    "image_id": container.get("ImageID"),
    "task_arn": task.get("TaskARN"),
    "task_containers": [c.get("ImageID") for c in task.get("Containers", [])],
    "metadata_uri": os.environ.get("ECS_CONTAINER_METADATA_URI_V4"),
}
print("CONTAINER-REPORT " + json.dumps(found), flush=True)
"""

PATHS_PROBE = r"""
import json, os, sys
found = {}
for path in sys.argv[1:]:
    try:
        with open(path, "rb") as handle:
            handle.read(1)
        found[path] = "read"
    except FileNotFoundError:
        found[path] = "absent"
    except OSError as err:
        found[path] = "unreadable: " + type(err).__name__
print("CONTAINER-REPORT " + json.dumps(found), flush=True)
"""


# ---- the stack and its runtime ---------------------------------------------------------------------------


def _local_health(stack) -> dict | None:
    if not stack.is_local:
        return None
    from localcloud import lifecycle

    port = urlparse(stack["endpoint_url"]).port
    found = lifecycle.health(port)
    assert found is not None, f"the local cloud at {stack['endpoint_url']} does not answer"
    return found


@pytest.fixture(scope="module", autouse=True)
def in_containers(stack):
    """Skip where the deployed local cloud runs jobs as host processes, unless this run asked for containers
    (then a process-mode cloud is a failure: it was not started in container mode)."""
    health = _local_health(stack)
    if health is None:
        return  # aws: every job and Lambda runs in a container
    mode = health.get("runtime", "process")
    asked = os.environ.get("LOCALCLOUD_RUNTIME", "").lower() == "container"
    if mode != "container":
        if asked:
            pytest.fail(f"LOCALCLOUD_RUNTIME=container, yet the deployed local cloud runs in {mode} mode")
        pytest.skip(f"the deployed local cloud runs in {mode} mode (no container runtime, or not asked for)")


def _needs_local(stack, what: str) -> None:
    if not stack.is_local:
        pytest.skip(f"{what}: local cloud only")


def _definition(stack, arn: str | None = None) -> dict:
    batch = stack.client("batch")
    found = batch.describe_job_definitions(jobDefinitions=[arn or stack["job_definition_arn"]])
    return found["jobDefinitions"][0]


def _resource(container: dict, kind: str) -> str | None:
    for requirement in container.get("resourceRequirements") or []:
        if requirement["type"] == kind:
            return requirement["value"]
    return None


def _submit(stack, name: str, definition: str | None = None, **overrides) -> str:
    submitted = stack.client("batch").submit_job(
        jobName=f"t-{name}-{uuid.uuid4().hex[:8]}",
        jobQueue=stack["job_queue_arn"],
        jobDefinition=definition or stack["job_definition_arn"],
        containerOverrides=overrides,
    )
    return submitted["jobId"]


def _wait(stack, job_id: str) -> dict:
    return checks.wait_for_job(stack, job_id, JOB_TIMEOUT)


def _log_messages(stack, job: dict, until=None, timeout: float = 60) -> list[str]:
    """The messages of the job's last attempt in CloudWatch Logs; waits until `until(messages)` holds."""
    options = (
        _definition(stack, job["jobDefinition"])["containerProperties"].get("logConfiguration") or {}
    ).get("options") or {}
    group = options.get("awslogs-group", "/aws/batch/job")
    stream = job["container"]["logStreamName"]
    logs = stack.client("logs")
    deadline = time.monotonic() + timeout  # delivery lags on AWS (and up to 2 s here)
    while True:
        try:
            events = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True)[
                "events"
            ]
        except logs.exceptions.ResourceNotFoundException:
            events = []
        messages = [event["message"] for event in events]
        if until is None or until(messages) or time.monotonic() > deadline:
            return messages
        time.sleep(1)


def _report(stack, job: dict) -> dict:
    messages = _log_messages(stack, job, until=lambda found: any(m.startswith(REPORT) for m in found))
    for message in messages:
        if message.startswith(REPORT):
            return json.loads(message[len(REPORT) :])
    raise AssertionError(f"job {job['jobId']} printed no report: {messages[-20:]}")


def _python(script: str, *args: str) -> list[str]:
    return ["python", "-c", script, *args]


def _digest_of(image: str) -> str:
    _, at, digest = image.partition("@")
    assert at and digest.startswith("sha256:"), f"the job definition names {image!r}, not an image by digest"
    return digest


# ---- a: memory limit, uid and image digest from inside ---------------------------------------------------


def test_job_reports_its_memory_limit_uid_and_image_digest(stack):
    container = _definition(stack)["containerProperties"]
    image = container["image"]
    digest = _digest_of(image)
    memory_mib = int(_resource(container, "MEMORY") or container.get("memory"))
    from harness import image as farm_image

    repository = farm_image.repository_name(stack["ecr_repository_url"])
    details = stack.client("ecr").describe_images(repositoryName=repository)["imageDetails"]
    assert digest in [detail["imageDigest"] for detail in details], (
        f"{digest} is not among the images ECR lists for {repository}: {details}"
    )

    job = _wait(stack, _submit(stack, "digest", command=_python(PROBE)))
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    found = _report(stack, job)
    assert int(found["memory_limit"]) == memory_mib * 1024 * 1024, found
    assert found["uid"] == 10001, found
    assert found["image"] == image, found
    assert found["image_id"] == digest, found
    assert found["task_containers"] == [digest], found
    assert found["task_arn"] == job["attempts"][-1]["container"]["taskArn"], found
    if stack.is_local:  # the endpoint answers only while the attempt runs
        import urllib.error
        import urllib.request

        with pytest.raises(urllib.error.HTTPError) as ended:
            urllib.request.urlopen(found["metadata_uri"], timeout=10)  # noqa: S310 - the local cloud's URL
        assert ended.value.code == 404


def test_a_job_definition_naming_a_tag_reports_the_digest_ecr_lists_for_it(stack):
    """The same image named by its tag (a copy of the job definition): ImageID is the digest the tag
    resolves to in ECR, not a digest of the image as stored locally."""
    from harness import image as farm_image

    original = _definition(stack)
    digest = _digest_of(original["containerProperties"]["image"])
    repository = farm_image.repository_name(stack["ecr_repository_url"])
    (detail,) = stack.client("ecr").describe_images(
        repositoryName=repository, imageIds=[{"imageDigest": digest}]
    )["imageDetails"]
    assert detail.get("imageTags"), f"the deployed image {digest} has no tag: {detail}"
    tagged = f"{stack['ecr_repository_url']}:{detail['imageTags'][0]}"
    with _copy_of_definition(stack, tagged, "tag") as definition:
        job = _wait(stack, _submit(stack, "tag", definition, command=_python(PROBE)))
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    found = _report(stack, job)
    assert (found["image"], found["image_id"]) == (tagged, digest), found


@contextlib.contextmanager
def _copy_of_definition(stack, image: str, label: str):
    """A copy of the stack's job definition (role, volumes, environment, logs) naming `image`, with one
    attempt (a failure is not retried: the test waits less); deregistered afterwards."""
    batch = stack.client("batch")
    original = _definition(stack)
    container = dict(original["containerProperties"])
    container["image"] = image
    registered = batch.register_job_definition(
        jobDefinitionName=f"{original['jobDefinitionName']}-{label}-{uuid.uuid4().hex[:6]}",
        type=original["type"],
        containerProperties=container,
        platformCapabilities=original.get("platformCapabilities") or ["FARGATE"],
        retryStrategy={"attempts": 1},
        **({"timeout": original["timeout"]} if original.get("timeout") else {}),
    )
    try:
        yield registered["jobDefinitionArn"]
    finally:
        batch.deregister_job_definition(jobDefinition=registered["jobDefinitionArn"])


# ---- b: an image without the schemas fails a job ----------------------------------------------------------


def _buildah(*args: str, timeout: float = 600) -> str:
    from localcloud import containers

    done = subprocess.run(
        containers.buildah_cmd(*args),
        env=containers.podman_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert done.returncode == 0, f"buildah {' '.join(args[:1])} failed: {done.stderr.strip()[-2000:]}"
    return done.stdout.strip()


@pytest.fixture(scope="module")
def schemaless_image(stack):
    """The worker image without its packaged schemas, pushed to the stack's repository under a new tag:
    `<repository url>@sha256:...`. Removed (tag and local image) afterwards."""
    _needs_local(stack, "building an image variant")
    from harness import image as farm_image

    source = _definition(stack)["containerProperties"]["image"]
    url = stack["ecr_repository_url"]
    ecr = stack.client("ecr")
    user, password = farm_image.registry_credentials(ecr)
    tag = f"test-no-schemas-{uuid.uuid4().hex[:10]}"
    local = f"localhost/render-farm/test-no-schemas:{tag}"
    creds = f"--creds={user}:{password}"
    insecure = ["--tls-verify=false"] if farm_image.insecure_registry(url) else []
    working = _buildah("from", creds, *insecure, source).splitlines()[-1]
    try:
        root = Path(_buildah("mount", working))
        schemas = root / "app" / "render_worker" / "schemas"
        removed = sorted(p.name for p in schemas.glob("*.schema.json"))
        assert "catalog.schema.json" in removed, (
            f"the worker image packages no schemas: {sorted(schemas.iterdir())}"
        )
        for name in removed:
            (schemas / name).unlink()
        _buildah("umount", working)
        _buildah("commit", "--quiet", working, local)
    finally:
        _buildah("rm", working)
    try:
        with tempfile.TemporaryDirectory(prefix="no-schemas-") as tmp:
            digest_file = Path(tmp) / "digest"
            _buildah("push", creds, f"--digestfile={digest_file}", *insecure, local, f"docker://{url}:{tag}")
            digest = digest_file.read_text().strip()
        yield f"{url}@{digest}"
    finally:
        from localcloud import containers

        # The variant's only name (the jobs' pull by digest added none): the image goes, and nothing else
        # (--no-prune: never a parent left without a name; never a digest reference, which would remove an
        # image under every name it has).
        containers.run_podman("rmi", "--no-prune", local, check=False, timeout=120)
        repository = farm_image.repository_name(url)
        ecr.batch_delete_image(repositoryName=repository, imageIds=[{"imageTag": tag}])


@pytest.fixture(scope="module")
def schemaless_definition(stack, schemaless_image):
    """A copy of the stack's job definition naming the image without schemas."""
    with _copy_of_definition(stack, schemaless_image, "no-schemas") as definition:
        yield definition


def _render_job(farm, stack, label: str, definition: str | None = None) -> dict:
    run_id = farm.new_run_id(label)
    spec_uri = farm.upload(run_id, make_spec(label, products=1, variants_per_product=2))
    environment = {
        "SPEC_URI": spec_uri,
        "RUN_ID": run_id,
        "OUTPUT_URI": f"s3://{stack['renders_bucket']}/{run_id}/",
    }
    job_id = _submit(
        stack, label, definition, environment=[{"name": k, "value": v} for k, v in environment.items()]
    )
    return _wait(stack, job_id)


def test_an_image_without_schemas_fails_a_job(farm, stack, schemaless_definition):
    job = _render_job(farm, stack, "no-schemas", schemaless_definition)
    assert job["status"] == "FAILED", "the image without schemas rendered the spec"
    assert len(job["attempts"]) == 1 and job["attempts"][0]["container"].get("exitCode") not in (None, 0), job
    messages = _log_messages(stack, job, until=lambda found: any(SCHEMA_MISSING in m for m in found))
    assert any(SCHEMA_MISSING in m for m in messages), messages[-20:]

    control = _render_job(farm, stack, "with-schemas")
    assert control["status"] == "SUCCEEDED", control.get("statusReason")


# ---- c: a Lambda zip without jsonschema fails ------------------------------------------------------------


def _zip_without(path: Path, prefixes: tuple[str, ...]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(path) as source, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            top = info.filename.split("/", 1)[0]
            if any(top == p or top.startswith((p + "-", p + "_", p + ".")) for p in prefixes):
                continue
            target.writestr(info, source.read(info))
    return out.getvalue()


def _wait_active(client, name: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        state = client.get_function_configuration(FunctionName=name).get("State", "Active")
        if state == "Active":
            return
        assert state == "Pending" and time.monotonic() < deadline, f"function {name} is {state}"
        time.sleep(1)


def _function_from(stack, zip_bytes: bytes, label: str, configuration: dict) -> str:
    client = stack.client("lambda")
    name = f"t-{label}-{uuid.uuid4().hex[:8]}"
    extra = {}
    if configuration.get("Environment"):
        extra["Environment"] = {"Variables": configuration["Environment"].get("Variables", {})}
    if configuration.get("KMSKeyArn"):
        extra["KMSKeyArn"] = configuration["KMSKeyArn"]
    client.create_function(
        FunctionName=name,
        Runtime=configuration["Runtime"],
        Role=configuration["Role"],
        Handler=configuration["Handler"],
        Code={"ZipFile": zip_bytes},
        Timeout=configuration.get("Timeout", 30),
        MemorySize=configuration.get("MemorySize", 128),
        **extra,
    )
    if stack.is_local:  # its logs: the deployed role may write only the deployed function's log group
        from harness import iam_report

        region, account = stack["region"], configuration["FunctionArn"].split(":")[4]
        iam_report.expect_denial(
            stack["endpoint_url"],
            configuration["Role"],
            "logs:*",
            f"arn:aws:logs:{region}:{account}:log-group:/aws/lambda/{name}*",
            f"{__name__}: a copy of ValidateInput writes to its own log group, which the role does not grant",
        )
    _wait_active(client, name)
    return name


def test_a_lambda_zip_without_jsonschema_fails(farm, stack):
    assert ZIP.is_file(), f"{ZIP} is missing (built by deploy: harness/lambda_zips.py)"
    client = stack.client("lambda")
    configuration = client.get_function_configuration(
        FunctionName=stack["lambda_function_names"]["validate_input"]
    )
    run_id = farm.new_run_id("zip")
    spec_uri = farm.upload(run_id, make_spec("zip", products=1, variants_per_product=2))
    event = json.dumps({"spec_uri": spec_uri, "run_id": run_id}).encode()
    stripped = _zip_without(ZIP, JSONSCHEMA_CLOSURE)
    with zipfile.ZipFile(io.BytesIO(stripped)) as check:
        assert not [n for n in check.namelist() if n.startswith("jsonschema")]
    created = []
    try:
        broken = _function_from(stack, stripped, "zip-no-jsonschema", configuration)
        created.append(broken)
        answer = client.invoke(FunctionName=broken, Payload=event)
        payload = json.loads(answer["Payload"].read())
        assert answer.get("FunctionError") == "Unhandled", payload
        assert payload["errorType"] == "Runtime.ImportModuleError", payload
        assert "jsonschema" in payload["errorMessage"], payload

        control = _function_from(stack, ZIP.read_bytes(), "zip-whole", configuration)
        created.append(control)
        answer = client.invoke(FunctionName=control, Payload=event)
        payload = json.loads(answer["Payload"].read())
        assert "FunctionError" not in answer, payload
        assert payload["run_id"] == run_id and payload["variant_count"] == 2, payload
    finally:
        for name in created:
            client.delete_function(FunctionName=name)


# ---- d: a 512 MiB job allocating 2 GB --------------------------------------------------------------------


def test_a_512_mib_job_allocating_2_gb_ends_out_of_memory_once(stack):
    allocate = "data = b'x' * (2 * 1024 ** 3)\nprint('allocated', len(data))"
    job = _wait(
        stack,
        _submit(
            stack,
            "oom",
            command=_python(allocate),
            resourceRequirements=[{"type": "MEMORY", "value": "512"}, {"type": "VCPU", "value": "0.25"}],
        ),
    )
    assert job["status"] == "FAILED", job
    assert job["statusReason"].startswith(OOM_REASON), job["statusReason"]
    assert len(job["attempts"]) == 1, f"retried: {job['attempts']}"
    assert job["attempts"][0]["container"]["exitCode"] == 137, job["attempts"]
    assert job["attempts"][0]["container"].get("reason", "").startswith(OOM_REASON), job["attempts"]


# ---- e: a job sees its volume, not the host ---------------------------------------------------------------


def test_a_job_cannot_read_host_paths_outside_its_volume(stack):
    health = _local_health(stack)
    if health is None:
        pytest.skip("host paths: local cloud only")
    credentials = str(Path(health["state_dir"]) / "credentials")
    pyproject = str(REPO / "pyproject.toml")
    assert Path(credentials).is_file() and Path(pyproject).is_file()  # they exist, on the host
    scratch = stack["scratch_mount_path"]
    job = _wait(stack, _submit(stack, "host-paths", command=_python(PATHS_PROBE, credentials, pyproject)))
    assert job["status"] == "SUCCEEDED", job.get("statusReason")
    found = _report(stack, job)
    assert found == {credentials: "absent", pyproject: "absent"}, found

    job = _wait(
        stack,
        _submit(stack, "volume", command=["python", "-c", f"import os; assert os.path.isdir({scratch!r})"]),
    )
    assert job["status"] == "SUCCEEDED", (
        f"the job's volume {scratch} is not mounted: {job.get('statusReason')}"
    )
