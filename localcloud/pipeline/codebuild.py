"""CodeBuild builds that really run: a project's buildspec in one shell, as the project's service role.

A build is a thread walking AWS's phases (SUBMITTED, QUEUED, PROVISIONING, DOWNLOAD_SOURCE, INSTALL,
PRE_BUILD, BUILD, POST_BUILD, UPLOAD_ARTIFACTS, FINALIZING, COMPLETED) with AWS's transitions ("Build phase
transitions" in the CodeBuild guide): a failure in DOWNLOAD_SOURCE, INSTALL or PRE_BUILD goes to FINALIZING;
a failure in BUILD goes on to POST_BUILD with CODEBUILD_BUILD_SUCCEEDING=0; UPLOAD_ARTIFACTS is always
attempted after POST_BUILD. Every command of the build runs in ONE shell (buildspec 0.2: exports and `cd`
carry over), in the project's image (container mode) or on the host (process mode); a non-zero exit fails
the phase unless its on-failure is CONTINUE, and a phase's `finally` commands run either way.

Identity: the service role's session (runtime.role_credentials as codebuild.amazonaws.com, aws:SourceArn =
the project ARN) downloads the source and uploads the artifacts through boto3 against the local endpoint, so
IAM, bucket policies and key policies decide; logs and reports are written in process after the same
role's permissions were checked (authorizer.role_allows). The build's commands get that session, never the
admin keys.

Interface for CodePipeline (localcloud/pipeline/codepipeline.py): start_build, get_build, wait_build,
stop_build. The API (StartBuild, BatchGetBuilds, ListBuilds, ListBuildsForProject, StopBuild, the report
operations) is patches/codebuild.py over the functions here.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import os
import queue
import shutil
import subprocess
import threading
import time
import uuid
import zipfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from localcloud import config, containers, procs, runtime
from localcloud.pipeline import buildspec as spec_module

log = logging.getLogger("localcloud.codebuild")

CODEBUILD = "codebuild.amazonaws.com"
# Seconds a minute of timeoutInMinutes lasts (a test's knob: AWS's minimum timeout is 5 minutes).
MINUTE_ENV = "LOCALCLOUD_CODEBUILD_MINUTE_S"
LOG_SHIP_INTERVAL_S = 2.0
DEFAULT_TIMEOUT_MINUTES = 60
# computeType -> (vCPUs, memory GiB), the sizes of AWS's Linux EC2 compute types.
COMPUTE = {
    "BUILD_GENERAL1_SMALL": (2, 3),
    "BUILD_GENERAL1_MEDIUM": (4, 7),
    "BUILD_GENERAL1_LARGE": (8, 15),
    "BUILD_GENERAL1_XLARGE": (36, 70),
    "BUILD_GENERAL1_2XLARGE": (72, 145),
}
PHASES = (
    "SUBMITTED",
    "QUEUED",
    "PROVISIONING",
    "DOWNLOAD_SOURCE",
    "INSTALL",
    "PRE_BUILD",
    "BUILD",
    "POST_BUILD",
    "UPLOAD_ARTIFACTS",
    "FINALIZING",
    "COMPLETED",
)
_COMMAND_PHASES = {
    "INSTALL": "install",
    "PRE_BUILD": "pre_build",
    "BUILD": "build",
    "POST_BUILD": "post_build",
}
# Where a failed phase leads (the rest of the phases are skipped).
_ON_FAILURE_NEXT = {
    "PROVISIONING": "FINALIZING",
    "DOWNLOAD_SOURCE": "FINALIZING",
    "INSTALL": "FINALIZING",
    "PRE_BUILD": "FINALIZING",
    "BUILD": "POST_BUILD",
    "POST_BUILD": "UPLOAD_ARTIFACTS",
    "UPLOAD_ARTIFACTS": "FINALIZING",
}


class InvalidInput(Exception):
    """The build cannot start as asked (StartBuild's InvalidInputException); the message says why."""


class NotFound(Exception):
    """No such project or build (ResourceNotFoundException); the message names it."""


class PhaseFailed(Exception):
    """A phase ends FAILED (or another status) with a context {statusCode, message}."""

    def __init__(self, status_code: str, message: str, phase_status: str = "FAILED"):
        super().__init__(f"{status_code}: {message}")
        self.status_code = status_code
        self.message = message
        self.phase_status = phase_status
        self.go_on = False  # on-failure CONTINUE: the next phase in order runs


class Stopped(Exception):
    """StopBuild or the timeout ended the build."""


@dataclass
class Build:
    doc: dict[str, Any]  # BatchGetBuilds' entry, kept current
    project: dict[str, Any]
    account_id: str
    region: str
    source: tuple[str, str] | None
    output_artifacts: dict[str, tuple[str, str]]
    environment_overrides: list[dict]
    buildspec_override: str | None
    timeout_minutes: int
    directory: Path
    lines: list[dict] = field(default_factory=list)
    shipped: int = 0
    credentials: dict[str, str] = field(default_factory=dict)
    may_log: bool = False
    stop_reason: str | None = None  # "STOPPED" | "TIMED_OUT" once the build is being ended
    shell: Shell | None = None
    done: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def id(self) -> str:
        return self.doc["id"]

    @property
    def uuid(self) -> str:
        return self.id.rsplit(":", 1)[1]

    @property
    def src_dir(self) -> Path:
        return self.directory / "src"


_builds: dict[str, Build] = {}
_numbers: dict[tuple[str, str, str], int] = {}
_registry_lock = threading.Lock()


# ---- the interface ---------------------------------------------------------------------------------------


def start_build(
    project_name: str,
    *,
    source: tuple[str, str] | None,
    initiator: str,
    source_version: str | None = None,
    output_artifacts: dict[str, tuple[str, str]] | None = None,
    environment_overrides: list[dict] | None = None,
    buildspec_override: str | None = None,
    timeout_minutes: int | None = None,
    source_type: str | None = None,
    account_id: str = config.ACCOUNT_ID,
    region: str = config.REGION,
) -> str:
    """Start a build of the project; its id "<project>:<uuid>" at once, the build runs in a thread.
    `source`: (bucket, key) of the input zip (CodePipeline's artifact, or an S3 source); `output_artifacts`:
    artifact name -> (bucket, key) of each output zip (the first is the primary artifact). The rest is
    StartBuild's: buildspecOverride, timeoutInMinutesOverride, sourceTypeOverride."""
    project = project_metadata(project_name, account_id, region)
    name = project["name"]
    if (source_type or (project.get("source") or {}).get("type")) == "CODEPIPELINE" and source is None:
        raise InvalidInput(
            f"Project {project['arn']} has a CODEPIPELINE source: its build needs an input artifact"
        )
    build_uuid = str(uuid.uuid4())
    build_id = f"{name}:{build_uuid}"
    with _registry_lock:
        key = (account_id, region, name)
        _numbers[key] = number = _numbers.get(key, 0) + 1
    now = time.time()
    timeout = timeout_minutes or project.get("timeoutInMinutes") or DEFAULT_TIMEOUT_MINUTES
    source_doc = dict(project.get("source") or {})
    if source_type:
        source_doc["type"] = source_type
    if buildspec_override:
        source_doc["buildspec"] = buildspec_override
    if source and source_doc.get("type") == "S3":
        source_doc["location"] = f"{source[0]}/{source[1]}"
    source_arn = f"arn:aws:s3:::{source[0]}/{source[1]}" if source else None
    if source_doc.get("type") == "CODEPIPELINE":
        build_source_version, resolved = source_arn, source_version
    else:
        build_source_version, resolved = source_version, source_version
    group, stream = _log_names(project, build_uuid)
    doc: dict[str, Any] = {
        "id": build_id,
        "arn": f"arn:aws:codebuild:{region}:{account_id}:build/{build_id}",
        "buildNumber": number,
        "startTime": now,
        "currentPhase": "SUBMITTED",
        "buildStatus": "IN_PROGRESS",
        "projectName": name,
        "phases": [],
        "source": source_doc,
        "secondarySources": [],
        "secondarySourceVersions": [],
        "artifacts": _artifacts_doc(project, output_artifacts, build_uuid),
        "secondaryArtifacts": [],
        "cache": project.get("cache") or {"type": "NO_CACHE"},
        "environment": _environment_doc(project, environment_overrides),
        "serviceRole": project.get("serviceRole"),
        "logs": _logs_doc(group, stream, region, account_id)
        if group
        else {"cloudWatchLogs": {"status": "DISABLED"}},
        "timeoutInMinutes": timeout,
        "queuedTimeoutInMinutes": project.get("queuedTimeoutInMinutes") or 480,
        "buildComplete": False,
        "initiator": initiator,
        "encryptionKey": project.get("encryptionKey"),
        "reportArns": [],
        "fileSystemLocations": [],
    }
    if build_source_version:
        doc["sourceVersion"] = build_source_version
    if resolved:
        doc["resolvedSourceVersion"] = resolved
    build = Build(
        doc=doc,
        project=project,
        account_id=account_id,
        region=region,
        source=source,
        output_artifacts=dict(output_artifacts or {}),
        environment_overrides=list(environment_overrides or []),
        buildspec_override=buildspec_override,
        timeout_minutes=timeout,
        directory=_builds_dir() / build_uuid,
    )
    _enter(build, "SUBMITTED")
    with _registry_lock:
        _builds[build_id] = build
    threading.Thread(target=_run, args=(build,), name=f"codebuild-{build_uuid[:8]}", daemon=True).start()
    return build_id


def get_build(build_id: str) -> dict:
    """BatchGetBuilds' entry of the build (a copy); NotFound when there is none."""
    build = _find(build_id)
    with build.lock:
        return copy.deepcopy(build.doc)


def wait_build(build_id: str, timeout_s: float) -> dict:
    """Block until the build is complete (or timeout_s passed); get_build's answer."""
    _find(build_id).done.wait(timeout_s)
    return get_build(build_id)


def stop_build(build_id: str) -> dict:
    """Stop the build (its commands are killed; the build ends STOPPED); get_build's answer."""
    build = _find(build_id)
    _end(build, "STOPPED")
    return get_build(build_id)


def list_builds(
    project_name: str | None = None,
    *,
    account_id: str = config.ACCOUNT_ID,
    region: str = config.REGION,
    descending: bool = True,
) -> list[str]:
    """Build ids, newest first (ListBuilds, ListBuildsForProject)."""
    with _registry_lock:
        found = [
            b
            for b in _builds.values()
            if b.account_id == account_id
            and b.region == region
            and (project_name is None or b.doc["projectName"] == project_name)
        ]
    found.sort(key=lambda b: (b.doc["startTime"], b.doc["buildNumber"]), reverse=descending)
    return [b.id for b in found]


def project_metadata(
    project_name: str, account_id: str = config.ACCOUNT_ID, region: str = config.REGION
) -> dict:
    """The project as moto keeps it (name or ARN); NotFound naming the project ARN."""
    from moto.codebuild.models import codebuild_backends

    name = project_name.rsplit(":project/", 1)[-1]
    project = codebuild_backends[account_id][region].codebuild_projects.get(name)
    if project is None:
        raise NotFound(f"Project cannot be found: arn:aws:codebuild:{region}:{account_id}:project/{name}")
    return project.project_metadata


# ---- state -----------------------------------------------------------------------------------------------


def _find(build_id: str) -> Build:
    key = build_id.split(":build/", 1)[-1] if build_id.startswith("arn:") else build_id
    with _registry_lock:
        build = _builds.get(key)
    if build is None:
        raise NotFound(f"Build {build_id} does not exist")
    return build


def _builds_dir() -> Path:
    return config.state_dir() / "codebuild" / "builds"


def _now_text() -> str:
    return datetime.now(UTC).strftime("%Y/%m/%d %H:%M:%S.%f")


def _say(build: Build, message: str, container: bool = True) -> None:
    """A line of the build log (AWS's agent lines carry the "[Container] <date>" prefix)."""
    text = f"[Container] {_now_text()} {message}" if container else message
    with build.lock:
        build.lines.append({"timestamp": int(time.time() * 1000), "message": text})


def _enter(build: Build, phase: str) -> None:
    with build.lock:
        build.doc["currentPhase"] = phase
        build.doc["phases"].append({"phaseType": phase, "startTime": time.time()})


def _close(build: Build, status: str, contexts: list[dict] | None = None) -> None:
    """End the current phase with `status` (and contexts, AWS's [{statusCode, message}])."""
    now = time.time()
    with build.lock:
        phase = build.doc["phases"][-1]
        phase["phaseStatus"] = status
        phase["endTime"] = now
        phase["durationInSeconds"] = int(now - phase["startTime"])
        phase["contexts"] = contexts or [{"statusCode": "", "message": ""}]
        name = phase["phaseType"]
    if name in _COMMAND_PHASES or name in ("DOWNLOAD_SOURCE", "UPLOAD_ARTIFACTS"):
        _say(build, f"Phase complete: {name} State: {status}")
        context = (contexts or [{}])[0]
        _say(
            build,
            f"Phase context status code: {context.get('statusCode', '')} Message: "
            f"{context.get('message', '')}",
        )


def _end(build: Build, reason: str) -> None:
    """Stop or time out the build: remember why and kill its commands (the build thread ends it)."""
    with build.lock:
        if build.doc["buildComplete"] or build.stop_reason:
            return
        build.stop_reason = reason
        shell = build.shell
    if shell is not None:
        shell.kill()


# ---- the build thread ------------------------------------------------------------------------------------


def _run(build: Build) -> None:
    status = "FAULT"
    deadline = time.monotonic() + build.timeout_minutes * _minute_s()
    watchdog = threading.Timer(max(0.0, deadline - time.monotonic()), _end, args=(build, "TIMED_OUT"))
    watchdog.daemon = True
    watchdog.start()
    shipper = threading.Thread(
        target=_ship_loop, args=(build,), daemon=True, name=f"codebuild-logs-{build.uuid[:8]}"
    )
    try:
        _close(build, "SUCCEEDED")
        _enter(build, "QUEUED")
        _close(build, "SUCCEEDED")
        status = _phases(build, shipper)
    except Exception as err:  # a bug of ours, or the local machine: the build FAULTs with the reason
        log.exception("build %s failed unexpectedly", build.id)
        status = "FAULT"
        with contextlib.suppress(Exception):
            _fail_open_phase(build, "FAULT", "INTERNAL_ERROR", f"{type(err).__name__}: {err}")
    finally:
        watchdog.cancel()
        with contextlib.suppress(Exception):
            if build.shell is not None:
                build.shell.close()
        with contextlib.suppress(Exception):
            _finish(build, status)
        build.done.set()
        with contextlib.suppress(Exception):
            _ship_logs(build)
        with contextlib.suppress(Exception):
            shutil.rmtree(build.directory, ignore_errors=True)


def _fail_open_phase(build: Build, status: str, code: str, message: str) -> None:
    with build.lock:
        phases = build.doc["phases"]
        open_phase = bool(phases) and "phaseStatus" not in phases[-1]
    if open_phase:
        _close(build, status, [{"statusCode": code, "message": message}])


def _finish(build: Build, status: str) -> None:
    with build.lock:
        current = build.doc["currentPhase"]
    if current != "FINALIZING":
        _enter(build, "FINALIZING")
        _close(build, "SUCCEEDED")
    now = time.time()
    with build.lock:
        build.doc["phases"].append({"phaseType": "COMPLETED", "startTime": now})
        build.doc["currentPhase"] = "COMPLETED"
        build.doc["buildStatus"] = status
        build.doc["endTime"] = now
        build.doc["buildComplete"] = True


def _minute_s() -> float:
    try:
        return max(0.01, float(os.environ.get(MINUTE_ENV) or 60))
    except ValueError:
        return 60.0


def _phases(build: Build, shipper: threading.Thread) -> str:
    """Run the phases from PROVISIONING on; the build's status."""
    failed: str | None = None  # the build's status once a phase failed
    spec: spec_module.Buildspec | None = None
    next_phase = "PROVISIONING"
    runner: Runner | None = None
    while next_phase not in ("FINALIZING", "COMPLETED"):
        phase = next_phase
        next_phase = PHASES[PHASES.index(phase) + 1]
        if build.stop_reason:
            return build.stop_reason
        _enter(build, phase)
        if phase in _COMMAND_PHASES:
            _say(build, f"Entering phase {phase}")
        try:
            if phase == "PROVISIONING":
                runner = _provision(build)
                shipper.start()
            elif phase == "DOWNLOAD_SOURCE":
                spec = _download_source(build)
                for note in spec.notes:
                    _say(build, note)
            elif phase in _COMMAND_PHASES:
                assert spec is not None and runner is not None
                if phase == "INSTALL":
                    build.shell = runner.start_shell(build, spec)
                if phase == "POST_BUILD" and failed:
                    build.shell.run_quiet("export CODEBUILD_BUILD_SUCCEEDING=0")
                _command_phase(build, spec.phases.get(_COMMAND_PHASES[phase]))
            elif phase == "UPLOAD_ARTIFACTS":
                _export_variables(build, spec)
                _upload_artifacts(build, spec)
            _close(build, "SUCCEEDED")
        except Stopped:
            reason = build.stop_reason or "STOPPED"
            message = (
                f"Build has timed out.  Build timeout is {build.timeout_minutes} minutes"
                if reason == "TIMED_OUT"
                else "Build was stopped"
            )
            _close(build, reason, [{"statusCode": reason, "message": message}])
            return reason
        except PhaseFailed as err:
            if build.stop_reason:
                _close(build, build.stop_reason, [{"statusCode": build.stop_reason, "message": err.message}])
                return build.stop_reason
            _close(build, err.phase_status, [{"statusCode": err.status_code, "message": err.message}])
            failed = failed or ("FAULT" if err.phase_status == "FAULT" else "FAILED")
            if not err.go_on:
                next_phase = _ON_FAILURE_NEXT.get(phase, "FINALIZING")
    if build.stop_reason:
        return build.stop_reason
    return failed or "SUCCEEDED"


# ---- PROVISIONING ----------------------------------------------------------------------------------------


def _provision(build: Build) -> Runner:
    """The role's session, the log destination, and where the commands run (the image, in container mode)."""
    role = build.project.get("serviceRole") or ""
    try:
        build.credentials = runtime.role_credentials(
            role, build.uuid, CODEBUILD, source_arn=build.project.get("arn")
        )
    except runtime.RoleNotAssumable as err:
        raise PhaseFailed(
            "CLIENT_ERROR", f"CodeBuild is not authorized to perform: sts:AssumeRole on {role}: {err.reason}"
        ) from err
    build.may_log = _may_write_logs(build)
    for variable in build.doc["environment"].get("environmentVariables") or []:
        if variable.get("type", "PLAINTEXT") != "PLAINTEXT":
            raise PhaseFailed(
                "CLIENT_ERROR",
                f"environment variable {variable['name']} of type {variable['type']}: only PLAINTEXT "
                f"variables are supported by the local cloud",
            )
    image = build.doc["environment"].get("image") or ""
    if containers.mode() != "container":
        return Runner(build, image=None)
    from localcloud import images

    try:
        local = images.build_image_for(image)
        if local is None:
            local = containers.resolve_image(image)
    except containers.CannotPullContainerError as err:
        raise PhaseFailed(
            "CLIENT_ERROR",
            f"Failed to pull container image: Unable to pull customer's container image. "
            f"CannotPullContainerError: {image}: {err}",
        ) from err
    except images.ImageBuildError as err:
        raise PhaseFailed(
            "BUILD_CONTAINER_UNABLE_TO_PULL_IMAGE", f"Unable to pull image {image}: {err}"
        ) from err
    return Runner(build, image=local)


# ---- DOWNLOAD_SOURCE -------------------------------------------------------------------------------------


def _s3(build: Build):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=procs.endpoint(),
        region_name=build.region,
        aws_access_key_id=build.credentials.get("AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=build.credentials.get("AWS_SECRET_ACCESS_KEY"),
        aws_session_token=build.credentials.get("AWS_SESSION_TOKEN"),
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
    )


def _client_error(err: Exception) -> str:
    from botocore.exceptions import ClientError

    if isinstance(err, ClientError):
        error = err.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', str(err))}"
    return f"{type(err).__name__}: {err}"


def _download_source(build: Build) -> spec_module.Buildspec:
    build.src_dir.mkdir(parents=True, exist_ok=True)
    source = build.doc["source"]
    kind = source.get("type")
    location = build.source
    if location is None and kind == "S3" and source.get("location"):
        bucket, _, key = source["location"].partition("/")
        location = (bucket, key)
    if location is not None:
        _say(build, f"Downloading source: s3://{location[0]}/{location[1]}")
        try:
            body = _s3(build).get_object(Bucket=location[0], Key=location[1])["Body"].read()
        except Exception as err:
            version = f"arn:aws:s3:::{location[0]}/{location[1]}"
            raise PhaseFailed(
                "CLIENT_ERROR", f"{_client_error(err)} for primary source and source version {version}"
            ) from err
        try:
            _extract(body, build.src_dir)
        except (zipfile.BadZipFile, OSError) as err:
            raise PhaseFailed("CLIENT_ERROR", f"Failed to extract the source archive: {err}") from err
    elif kind not in ("NO_SOURCE", None):
        raise PhaseFailed("CLIENT_ERROR", f"Source type {kind} has no source to download here")
    return _read_buildspec(build)


def _extract(body: bytes, target: Path) -> None:
    """Unzip keeping file modes (zipfile drops them; executables must stay executable)."""
    root = target.resolve()
    with zipfile.ZipFile(io.BytesIO(body)) as archive:
        for info in archive.infolist():
            path = (root / info.filename).resolve()
            if root not in path.parents and path != root:
                raise OSError(f"archive member {info.filename} is outside the source directory")
            archive.extract(info, root)
            mode = (info.external_attr >> 16) & 0o7777
            if mode and not info.is_dir():
                path.chmod(mode)


def _read_buildspec(build: Build) -> spec_module.Buildspec:
    declared = (build.doc["source"].get("buildspec") or "").strip()
    if declared and ("\n" in declared or declared.startswith("version")):
        text = declared
    else:
        path = build.src_dir / (declared or "buildspec.yml")
        try:
            text = path.read_text()
        except OSError:
            raise PhaseFailed("YAML_FILE_ERROR", f"stat {path}: no such file or directory") from None
    try:
        return spec_module.parse(text)
    except spec_module.BuildspecError as err:
        raise PhaseFailed("YAML_FILE_ERROR", str(err)) from err


# ---- the commands ----------------------------------------------------------------------------------------


def _command_phase(build: Build, phase: spec_module.Phase | None) -> None:
    """The phase's commands (stopping at the first failure unless on-failure is CONTINUE), then its
    `finally` commands; PhaseFailed for the first failure (marked to go on when on-failure is CONTINUE)."""
    if phase is None:
        return
    failure: PhaseFailed | None = None
    for command in phase.commands:
        code = _run_command(build, command)
        if code != 0:
            failure = failure or _command_failed(command, code)
            if phase.on_failure == "ABORT":
                break
    for command in phase.finally_commands:
        code = _run_command(build, command)
        if code != 0:
            failure = failure or _command_failed(command, code)
    if failure is not None:
        failure.go_on = phase.on_failure == "CONTINUE"
        raise failure


def _command_failed(command: str, code: int) -> PhaseFailed:
    return PhaseFailed(
        "COMMAND_EXECUTION_ERROR", f"Error while executing command: {command}. Reason: exit status {code}"
    )


def _run_command(build: Build, command: str) -> int:
    if build.stop_reason:  # stopped before the shell existed, or between two commands
        raise Stopped()
    shell = build.shell
    assert shell is not None
    _say(build, f"Running command {command}")
    code = shell.run(command)
    if build.stop_reason:
        raise Stopped()
    if code is None:  # the shell itself ended (an `exit` in a command): later commands get a new one
        code = shell.exit_code()
        build.shell = shell.restart()
    if code != 0:
        _say(build, f"Command did not exit successfully {command} exit status {code}")
    return code


class Shell:
    """One shell for every command of a build: each command is sourced from a file (so exports and `cd`
    carry over, and a command cannot read the script from stdin); a line carrying a random token and the
    exit status follows each command's output."""

    def __init__(self, build: Build, argv: list[str], env: dict[str, str], cwd: Path, on_kill=None):
        self.build = build
        self.argv, self.env, self.cwd = argv, env, cwd
        self.token = uuid.uuid4().hex
        self.commands = build.directory / "commands"
        self.commands.mkdir(parents=True, exist_ok=True)
        self.count = 0
        self.results: queue.Queue[int | None] = queue.Queue()
        self.on_kill = on_kill
        self.proc = procs.start(
            argv, env, cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        threading.Thread(target=self._read, daemon=True, name=f"codebuild-shell-{build.uuid[:8]}").start()

    def _read(self) -> None:
        marker = f"{self.token}:"
        try:
            for raw in self.proc.stdout:
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                if marker in line:
                    before, _, status = line.rpartition(marker)
                    if before:
                        _say(self.build, before, container=False)
                    with contextlib.suppress(ValueError):
                        self.results.put(int(status.strip()))
                    continue
                _say(self.build, line, container=False)
        except Exception:  # the pipe broke: the shell is gone
            log.debug("shell output of %s ended", self.build.id, exc_info=True)
        finally:
            self.results.put(None)

    def _send(self, text: str) -> bool:
        try:
            self.proc.stdin.write(text.encode())
            self.proc.stdin.flush()
            return True
        except (BrokenPipeError, OSError, ValueError):
            return False

    def run(self, command: str) -> int | None:
        """The command's exit status; None when the shell ended (exit, kill)."""
        self.count += 1
        script = self.commands / f"{self.count:04d}.sh"
        script.write_text(command + "\n")
        if not self._send(f". {script} </dev/null\nprintf '%s:%d\\n' {self.token} \"$?\"\n"):
            return None
        return self.results.get()

    def run_quiet(self, command: str) -> None:
        self._send(f"{command}\n")

    def exit_code(self) -> int:
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=10)
        return self.proc.returncode if self.proc.returncode is not None else 1

    def restart(self) -> Shell:
        self.close()
        return Shell(self.build, self.argv, self.env, self.cwd, self.on_kill)

    def kill(self) -> None:
        if self.on_kill is not None:
            with contextlib.suppress(Exception):
                self.on_kill()
        procs.kill_tree(self.proc)

    def close(self) -> None:
        with contextlib.suppress(OSError, ValueError):
            self.proc.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(timeout=5)
        if self.proc.poll() is None:
            self.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.proc.wait(timeout=5)
        procs.forget(self.proc)


@dataclass
class Runner:
    """Where a build's commands run: on the host (image None) or in a container of `image`."""

    build: Build
    image: str | None

    def start_shell(self, build: Build, spec: spec_module.Buildspec) -> Shell:
        env = build_environment(build, spec, container=self.image is not None)
        shell = "sh" if spec.shell in ("sh", "/bin/sh") else "bash"
        argv = [shell, "-s"] if shell == "sh" else ["bash", "--noprofile", "--norc", "-s"]
        if self.image is None:
            return Shell(build, argv, env, build.src_dir)
        name = containers.container_name(f"codebuild-{build.uuid}")
        podman_argv, client_env = _podman_run(build, self.image, name, argv, env, spec)
        return Shell(build, podman_argv, client_env, build.src_dir, on_kill=lambda: containers.remove(name))


def _export_variables(build: Build, spec: spec_module.Buildspec | None) -> None:
    """env.exported-variables: their values in the shell at the end of the build
    (exportedEnvironmentVariables, which CodePipeline makes the action's output variables)."""
    if spec is None or not spec.exported_variables or build.shell is None:
        return
    dump = build.directory / "exported.env"
    if build.shell.run(f"env -0 > {dump}") != 0 or not dump.exists():
        return
    values = dict(item.split("=", 1) for item in dump.read_text().split("\0") if "=" in item)
    with build.lock:
        build.doc["exportedEnvironmentVariables"] = [
            {"name": name, "value": values.get(name, "")} for name in spec.exported_variables
        ]


# ---- the environment -------------------------------------------------------------------------------------

_HOST_PASSTHROUGH = ("HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "TERM", "SSL_CERT_FILE")


def build_environment(build: Build, spec: spec_module.Buildspec, *, container: bool) -> dict[str, str]:
    """What the commands see: host basics (process mode: the host's PATH, without the local cloud's own
    virtualenv), the role's session, endpoint and region, then buildspec env.variables, the project's
    variables and StartBuild's overrides (AWS's precedence, lowest first), then CODEBUILD_*."""
    if container:
        env = {
            "HOME": "/root",
            "LANG": "C.UTF-8",
            "PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        }
    else:
        env = {k: os.environ[k] for k in _HOST_PASSTHROUGH if k in os.environ}
        own = str(config.python_bin_dir())
        env["PATH"] = os.pathsep.join(
            p for p in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep) if p and p != own
        )
    env.update({k: v for k, v in os.environ.items() if k.startswith("PIP_")})  # the host's package index
    if os.environ.get(config.BOOT_ID_ENV):
        env[config.BOOT_ID_ENV] = os.environ[config.BOOT_ID_ENV]
    env.update(runtime.workload_env(procs.endpoint(), build.credentials))
    env.update(spec.variables)
    for variable in build.project.get("environment", {}).get("environmentVariables") or []:
        env[variable["name"]] = str(variable.get("value", ""))
    for variable in build.environment_overrides:
        env[variable["name"]] = str(variable.get("value", ""))
    doc = build.doc
    env.update(
        {
            "CODEBUILD_CI": "true",
            "CODEBUILD_BUILD_ID": doc["id"],
            "CODEBUILD_BUILD_ARN": doc["arn"],
            "CODEBUILD_BUILD_NUMBER": str(doc["buildNumber"]),
            "CODEBUILD_BUILD_IMAGE": doc["environment"].get("image", ""),
            "CODEBUILD_INITIATOR": doc["initiator"],
            "CODEBUILD_KMS_KEY_ID": doc.get("encryptionKey") or "",
            "CODEBUILD_LOG_PATH": doc["logs"].get("streamName", build.uuid),
            "CODEBUILD_SOURCE_VERSION": doc.get("sourceVersion", ""),
            "CODEBUILD_RESOLVED_SOURCE_VERSION": doc.get("resolvedSourceVersion", ""),
            "CODEBUILD_SOURCE_REPO_URL": doc["source"].get("location", ""),
            "CODEBUILD_SRC_DIR": str(build.src_dir),
            "CODEBUILD_START_TIME": str(int(doc["startTime"] * 1000)),
            "CODEBUILD_BUILD_SUCCEEDING": "1",
            "CODEBUILD_PROJECT_ARN": build.project.get("arn", ""),
        }
    )
    return env


def _environment_doc(project: dict, overrides: list[dict] | None) -> dict:
    environment = dict(project.get("environment") or {})
    variables = list(environment.get("environmentVariables") or [])
    for override in overrides or []:
        variables = [v for v in variables if v["name"] != override["name"]]
        variables.append({"type": "PLAINTEXT", **override})
    environment["environmentVariables"] = variables
    return environment


# ---- containers ------------------------------------------------------------------------------------------


def _podman_run(
    build: Build,
    image: str,
    name: str,
    shell_argv: list[str],
    env: dict[str, str],
    spec: spec_module.Buildspec,
) -> tuple[list[str], dict[str, str]]:
    """`podman run -i` of the build's shell: host network, the build directory at the same path, the host's
    CA bundle, pip configuration and Terraform provider mirror, limits of the compute type."""
    from localcloud import images

    environment = build.doc["environment"]
    vcpus, memory_gib = COMPUTE.get(environment.get("computeType", ""), COMPUTE["BUILD_GENERAL1_SMALL"])
    boot = os.environ.get(config.BOOT_ID_ENV, "")
    args = [
        "--log-level=error",
        "run",
        "-i",
        "--rm",
        "--name",
        name,
        "--label",
        f"{containers.BOOT_LABEL}={boot}",
        "--label",
        f"localcloud.codebuild={build.id}",
        "--network",
        "host",
        "--pull",
        "never",
        "--log-driver",
        "none",
        "--http-proxy=false",
        "--cpus",
        str(min(vcpus, os.cpu_count() or 1)),
        "--memory",
        f"{memory_gib}g",
        "-v",
        f"{build.directory}:{build.directory}",
        "-w",
        str(build.src_dir),
    ]
    if environment.get("privilegedMode"):
        args.append("--privileged")
    for host, container_path in images.build_image_mounts():
        args += ["-v", f"{host}:{container_path}:ro"]
    for host, container_path in _cache_mounts(build, spec):
        args += ["-v", f"{host}:{container_path}"]
    client_env = containers.podman_env()
    if boot:
        client_env[config.BOOT_ID_ENV] = boot
    args += containers.environment_args(env, client_env)
    args.append(image)
    args += shell_argv
    return containers.podman(*args), client_env


def _cache_mounts(build: Build, spec: spec_module.Buildspec) -> list[tuple[str, str]]:
    """LOCAL cache with LOCAL_CUSTOM_CACHE: each cache.paths directory is a host directory per project that
    outlives the build, the boot and the checkout (next to the container store: like AWS's warm build host,
    best effort), so CI's builds start warm (process mode needs none: the host's own directories stay)."""
    cache = build.doc.get("cache") or {}
    if cache.get("type") != "LOCAL" or "LOCAL_CUSTOM_CACHE" not in (cache.get("modes") or []):
        return []
    mounts = []
    root = containers.store_dir().parent / "codebuild-cache" / build.doc["projectName"]
    for pattern in spec.cache_paths:
        directory = pattern.split("*", 1)[0].rstrip("/")
        if directory.startswith("/") and len(directory) > 1:
            host = root / directory.lstrip("/")
            host.mkdir(parents=True, exist_ok=True)
            mounts.append((str(host), directory))
    return mounts


# ---- UPLOAD_ARTIFACTS ------------------------------------------------------------------------------------


def _zip(entries: list[tuple[Path, str]]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path, name in entries:
            archive.write(path, name)
    return buffer.getvalue()


def _encryption(build: Build) -> dict[str, str]:
    key = build.doc.get("encryptionKey") or ""
    if build.project.get("artifacts", {}).get("encryptionDisabled"):
        return {}
    if not key or key.endswith(":alias/aws/s3") or key == "alias/aws/s3":
        return {"ServerSideEncryption": "aws:kms"}
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key}


def _upload_artifacts(build: Build, spec: spec_module.Buildspec | None) -> None:
    if spec is None:
        return
    if spec.reports:
        _publish_reports(build, spec.reports)
    targets = _artifact_targets(build, spec)
    if not targets:
        return
    if spec.artifacts is None:
        raise PhaseFailed("CLIENT_ERROR", "no matching artifact paths found (the buildspec has no artifacts)")
    entries = spec_module.artifact_entries(build.src_dir, spec.artifacts)
    if not entries:
        raise PhaseFailed("CLIENT_ERROR", "no matching artifact paths found")
    s3 = _s3(build)
    for bucket, key, packaging in targets:
        try:
            if packaging == "NONE":
                for path, name in entries:
                    s3.put_object(
                        Bucket=bucket, Key=f"{key}/{name}", Body=path.read_bytes(), **_encryption(build)
                    )
            else:
                s3.put_object(Bucket=bucket, Key=key, Body=_zip(entries), **_encryption(build))
        except Exception as err:
            raise PhaseFailed(
                "CLIENT_ERROR", f"{_client_error(err)} (uploading s3://{bucket}/{key})"
            ) from err
        _say(build, f"Uploaded {len(entries)} artifact file(s) to s3://{bucket}/{key}")


def _artifact_targets(build: Build, spec: spec_module.Buildspec) -> list[tuple[str, str, str]]:
    """(bucket, key, packaging) of each upload: CodePipeline's output artifacts, or the project's S3 one."""
    if build.output_artifacts:
        return [(bucket, key, "ZIP") for bucket, key in list(build.output_artifacts.values())[:1]]
    artifacts = build.project.get("artifacts") or {}
    if artifacts.get("type") != "S3" or not artifacts.get("location"):
        return []
    name = (
        (spec.artifacts.name if spec.artifacts and spec.artifacts.name else None)
        or artifacts.get("name")
        or build.doc["projectName"]
    )
    parts = [artifacts.get("path") or ""]
    if artifacts.get("namespaceType") == "BUILD_ID":
        parts.append(build.uuid)
    parts.append(name)
    key = "/".join(p.strip("/") for p in parts if p)
    return [(artifacts["location"], key, artifacts.get("packaging") or "NONE")]


def _artifacts_doc(project: dict, output_artifacts: dict | None, build_uuid: str) -> dict:
    if output_artifacts:
        bucket, key = next(iter(output_artifacts.values()))
        return {"location": f"arn:aws:s3:::{bucket}/{key}"}
    artifacts = project.get("artifacts") or {}
    if artifacts.get("type") == "S3" and artifacts.get("location"):
        parts = [artifacts.get("path") or ""]
        if artifacts.get("namespaceType") == "BUILD_ID":
            parts.append(build_uuid)
        parts.append(artifacts.get("name") or project["name"])
        key = "/".join(p.strip("/") for p in parts if p)
        return {"location": f"arn:aws:s3:::{artifacts['location']}/{key}"}
    return {"location": ""}


# ---- logs ------------------------------------------------------------------------------------------------


def _log_names(project: dict, build_uuid: str) -> tuple[str | None, str]:
    cloudwatch = (project.get("logsConfig") or {}).get("cloudWatchLogs") or {}
    if cloudwatch.get("status") == "DISABLED":
        return None, build_uuid
    group = cloudwatch.get("groupName") or f"/aws/codebuild/{project['name']}"
    stream = f"{cloudwatch['streamName']}/{build_uuid}" if cloudwatch.get("streamName") else build_uuid
    return group, stream


def _logs_doc(group: str, stream: str, region: str, account_id: str) -> dict:
    from urllib.parse import quote

    return {
        "groupName": group,
        "streamName": stream,
        "deepLink": f"https://console.aws.amazon.com/cloudwatch/home?region={region}#logEvent:group="
        f"{quote(group, safe='')};stream={quote(stream, safe='')}",
        "cloudWatchLogsArn": f"arn:aws:logs:{region}:{account_id}:log-group:{group}:log-stream:{stream}",
        "cloudWatchLogs": {"status": "ENABLED", "groupName": group, "streamName": stream},
        "s3Logs": {"status": "DISABLED", "encryptionDisabled": False},
    }


def _may_write_logs(build: Build) -> bool:
    """CodeBuild ships the logs as the service role: without logs:CreateLogStream and logs:PutLogEvents on
    the group there are none, as on AWS (the build itself is not affected)."""
    from localcloud.iam import authorizer
    from localcloud.iam.model import Call

    logs = build.doc["logs"]
    if "groupName" not in logs:
        return False
    arn = logs["cloudWatchLogsArn"]
    calls = [Call("logs:CreateLogStream", arn), Call("logs:PutLogEvents", arn)]
    if _logs_backend(build).groups.get(logs["groupName"]) is None:
        group_arn = f"arn:aws:logs:{build.region}:{build.account_id}:log-group:{logs['groupName']}:*"
        calls.insert(0, Call("logs:CreateLogGroup", group_arn))
    return authorizer.role_allows(build.project["serviceRole"], calls, session=build.uuid) is None


def _logs_backend(build: Build):
    from moto.logs.models import logs_backends

    return logs_backends[build.account_id][build.region]


def _ship_loop(build: Build) -> None:
    while not build.done.wait(LOG_SHIP_INTERVAL_S):
        with contextlib.suppress(Exception):
            _ship_logs(build)


def _ship_logs(build: Build) -> None:
    if not build.may_log:
        return
    with build.lock:
        pending = build.lines[build.shipped :]
        end = len(build.lines)
    if not pending and build.shipped:
        return
    logs = build.doc["logs"]
    try:
        backend = _logs_backend(build)
        backend.ensure_log_group(logs["groupName"])
        backend.ensure_log_stream(logs["groupName"], logs["streamName"])
        for start in range(0, len(pending), 5000):
            backend.put_log_events(logs["groupName"], logs["streamName"], pending[start : start + 5000])
        build.shipped = end
    except Exception:
        log.exception("could not write the logs of build %s", build.id)


# ---- reports ---------------------------------------------------------------------------------------------

_report_groups: dict[str, dict] = {}
_reports: dict[str, dict] = {}
_test_cases: dict[str, list[dict]] = {}
_STATUS_COUNTS = ("SUCCEEDED", "FAILED", "ERROR", "SKIPPED", "UNKNOWN")


def _publish_reports(build: Build, specs: tuple[spec_module.Report, ...]) -> None:
    """Each reports group: report group <project>-<group> (created on first use), one report of the test
    cases of its JUnit XML files; as the service role (codebuild:CreateReportGroup, CreateReport,
    UpdateReport, BatchPutTestCases on the report group). A denial or a bad file is logged; the build goes
    on (its report is missing)."""
    from localcloud.iam import authorizer
    from localcloud.iam.model import Call

    for report_spec in specs:
        name = f"{build.doc['projectName']}-{report_spec.group}"
        group_arn = f"arn:aws:codebuild:{build.region}:{build.account_id}:report-group/{name}"
        actions = ["CreateReport", "UpdateReport", "BatchPutTestCases"]
        if group_arn not in _report_groups:
            actions.insert(0, "CreateReportGroup")
        denied = authorizer.role_allows(
            build.project["serviceRole"],
            [Call(f"codebuild:{a}", group_arn) for a in actions],
            session=build.uuid,
        )
        if denied is not None:
            call, decision = denied
            _say(
                build,
                f"Error in UPLOAD_ARTIFACTS phase: [{report_spec.group}: [AccessDeniedException: "
                f"{_role_session(build)} is not authorized to perform: {call.action} on resource: "
                f"{call.resource}]]",
            )
            continue
        files = spec_module.matching_files(build.src_dir, report_spec.files, report_spec.base_directory)
        base = build.src_dir / report_spec.base_directory
        report_arn = f"arn:aws:codebuild:{build.region}:{build.account_id}:report/{name}:{build.uuid}"
        cases: list[dict] = []
        for relative in files:
            try:
                cases += _junit_cases(base / relative, report_arn)
            except Exception as err:  # a file that is not JUnit XML: AWS skips it and says so
                _say(build, f"Skipping report file {relative}: {type(err).__name__}: {err}")
        now = time.time()
        _report_groups.setdefault(
            group_arn,
            {
                "arn": group_arn,
                "name": name,
                "type": "TEST",
                "created": now,
                "lastModified": now,
                "exportConfig": {"exportConfigType": "NO_EXPORT"},
                "status": "ACTIVE",
            },
        )
        counts = {status: 0 for status in _STATUS_COUNTS}
        for case in cases:
            counts[case["status"]] = counts.get(case["status"], 0) + 1
        _reports[report_arn] = {
            "arn": report_arn,
            "type": "TEST",
            "name": name,
            "reportGroupArn": group_arn,
            "executionId": build.doc["arn"],
            "created": now,
            "expired": now + 30 * 86400,
            "status": "FAILED" if counts["FAILED"] or counts["ERROR"] else "SUCCEEDED",
            "exportConfig": {"exportConfigType": "NO_EXPORT"},
            "truncated": False,
            "testSummary": {
                "total": len(cases),
                "statusCounts": counts,
                "durationInNanoSeconds": sum(c["durationInNanoSeconds"] for c in cases),
            },
        }
        _test_cases[report_arn] = cases
        with build.lock:
            build.doc["reportArns"].append(report_arn)
        _say(build, f"Report {name}: {len(cases)} test case(s) from {len(files)} file(s)")


def _role_session(build: Build) -> str:
    role = build.project["serviceRole"].rsplit("/", 1)[-1]
    return f"User: arn:aws:sts::{build.account_id}:assumed-role/{role}/{build.uuid}"


def _junit_cases(path: Path, report_arn: str) -> list[dict]:
    import xml.etree.ElementTree as ElementTree  # noqa: N813

    root = ElementTree.parse(path).getroot()  # noqa: S314 - the build's own test output
    suites = [root] if root.tag == "testsuite" else list(root.iter("testsuite"))
    cases = []
    for suite in suites:
        suite_name = suite.get("name", "")
        for case in suite.findall("testcase"):
            status, message = "SUCCEEDED", ""
            for tag, meaning in (("failure", "FAILED"), ("error", "ERROR"), ("skipped", "SKIPPED")):
                found = case.find(tag)
                if found is not None:
                    status, message = meaning, found.get("message") or (found.text or "")
                    break
            seconds = float(case.get("time") or 0)
            cases.append(
                {
                    "reportArn": report_arn,
                    "testRawDataPath": str(path),
                    "prefix": case.get("classname", ""),
                    "name": case.get("name", ""),
                    "status": status,
                    "durationInNanoSeconds": int(seconds * 1e9),
                    "message": message[:4096],
                    "expired": time.time() + 30 * 86400,
                    "testSuiteName": suite_name,
                }
            )
    return cases


def batch_get_reports(arns: list[str]) -> tuple[list[dict], list[str]]:
    found = [_reports[a] for a in arns if a in _reports]
    return found, [a for a in arns if a not in _reports]


def describe_test_cases(report_arn: str, status: str | None = None) -> list[dict]:
    if report_arn not in _reports:
        raise NotFound(f"Report {report_arn} does not exist")
    return [c for c in _test_cases.get(report_arn, []) if status is None or c["status"] == status]


def list_reports_for_report_group(group_arn: str) -> list[str]:
    if group_arn not in _report_groups:
        raise NotFound(f"Report group {group_arn} does not exist")
    found = [r for r in _reports.values() if r["reportGroupArn"] == group_arn]
    return [r["arn"] for r in sorted(found, key=lambda r: r["created"], reverse=True)]


def batch_get_report_groups(arns: list[str]) -> tuple[list[dict], list[str]]:
    found = [_report_groups[a] for a in arns if a in _report_groups]
    return found, [a for a in arns if a not in _report_groups]
