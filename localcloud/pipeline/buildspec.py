"""CodeBuild buildspec version 0.2: parse, validate, and pick the artifact files.

A buildspec that cannot be read fails the build in DOWNLOAD_SOURCE with YAML_FILE_ERROR; BuildspecError's
message is that phase context's message, naming the problem as AWS's does (the key and what it expected).
Supported: env.variables / env.shell / env.exported-variables, the four command phases with commands,
on-failure (ABORT | CONTINUE) and finally, install.runtime-versions, artifacts (files, base-directory,
discard-paths, name), reports (JUnit XML files) and cache.paths. Parameter Store and Secrets Manager
variables, run-as, proxy and batch are refused with a message saying so (the local cloud has neither
service).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

PHASES = ("install", "pre_build", "build", "post_build")
ON_FAILURE = ("ABORT", "CONTINUE")
SHELLS = ("bash", "/bin/sh", "sh")
# runtime-versions the build image provides; others are accepted on AWS's standard images but not here.
SUPPORTED_RUNTIMES = {"python": ("3.11",)}
REPORT_FORMATS = ("JUNITXML",)
_UNSUPPORTED_TOP = ("batch", "proxy", "run-as")
_UNSUPPORTED_ENV = ("parameter-store", "secrets-manager", "git-credential-helper")


class BuildspecError(ValueError):
    """The buildspec is malformed; str() is the YAML_FILE_ERROR message."""


@dataclass(frozen=True)
class Phase:
    name: str
    commands: tuple[str, ...] = ()
    finally_commands: tuple[str, ...] = ()
    on_failure: str = "ABORT"
    runtime_versions: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Artifacts:
    files: tuple[str, ...]
    base_directory: str = ""
    discard_paths: bool = False
    name: str = ""


@dataclass(frozen=True)
class Report:
    group: str
    files: tuple[str, ...]
    base_directory: str = ""
    file_format: str = "JUNITXML"


@dataclass(frozen=True)
class Buildspec:
    variables: dict[str, str]
    shell: str = "bash"
    exported_variables: tuple[str, ...] = ()
    phases: dict[str, Phase] = field(default_factory=dict)
    artifacts: Artifacts | None = None
    reports: tuple[Report, ...] = ()
    cache_paths: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()  # what the build log should say (runtime versions not provided here)


def parse(text: str) -> Buildspec:
    """The buildspec of `text` (YAML); BuildspecError naming the problem when it is not a valid 0.2 one."""
    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as err:
        raise BuildspecError(f"Invalid buildspec: {_yaml_problem(err)}") from err
    if not isinstance(doc, dict):
        raise BuildspecError("Invalid buildspec: expected a YAML map at the top level")
    version = doc.get("version")
    if version is None:
        raise BuildspecError("Missing required field: version")
    if str(version) != "0.2":
        raise BuildspecError(f"Unsupported buildspec version: {version} (the local cloud runs 0.2)")
    for key in _UNSUPPORTED_TOP:
        if key in doc:
            raise BuildspecError(f"buildspec key '{key}' is not supported by the local cloud")
    notes: list[str] = []
    env = _map(doc.get("env"), "env")
    for key in _UNSUPPORTED_ENV:
        if key in env:
            raise BuildspecError(f"env/{key} is not supported by the local cloud (no such service here)")
    variables = {
        str(k): _scalar(v, f"env/variables/{k}")
        for k, v in _map(env.get("variables"), "env/variables").items()
    }
    shell = str(env.get("shell") or "bash")
    if shell not in SHELLS:
        raise BuildspecError(f"Unsupported env/shell: {shell} (expected one of {', '.join(SHELLS)})")
    exported = tuple(str(v) for v in _list(env.get("exported-variables"), "env/exported-variables"))
    phases_doc = _map(doc.get("phases"), "phases")
    phases: dict[str, Phase] = {}
    for name, body in phases_doc.items():
        if name not in PHASES:
            raise BuildspecError(f"Unknown phase: {name} (expected one of {', '.join(PHASES)})")
        phases[name] = _phase(name, body, notes)
    return Buildspec(
        variables=variables,
        shell=shell,
        exported_variables=exported,
        phases=phases,
        artifacts=_artifacts(doc.get("artifacts")),
        reports=_reports(doc.get("reports")),
        cache_paths=tuple(str(p) for p in _list(_map(doc.get("cache"), "cache").get("paths"), "cache/paths")),
        notes=tuple(notes),
    )


def _yaml_problem(err: yaml.YAMLError) -> str:
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None) or str(err)
    return f"{problem} at line {mark.line + 1}" if mark is not None else problem


def _map(value: Any, where: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise BuildspecError(f"Expected {where} to be of map type: found {_kind(value)} instead")
    return value


def _list(value: Any, where: str) -> list:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise BuildspecError(f"Expected {where} to be of list type: found {_kind(value)} instead")
    return value


def _scalar(value: Any, where: str) -> str:
    if isinstance(value, dict | list):
        raise BuildspecError(f"Expected {where} to be of string type: found subkeys instead")
    if isinstance(value, bool):
        return "true" if value else "false"
    return "" if value is None else str(value)


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "subkeys"
    if isinstance(value, list):
        return "a list"
    return f"{type(value).__name__} {value!r}"


def _commands(value: Any, where: str) -> tuple[str, ...]:
    found = []
    for index, command in enumerate(_list(value, where)):
        if isinstance(command, dict | list) or command is None:
            raise BuildspecError(
                f"Expected {where}[{index}] to be of string type: found {_kind(command)} instead"
            )
        found.append(str(command))
    return tuple(found)


def _phase(name: str, body: Any, notes: list[str]) -> Phase:
    body = _map(body, f"phases/{name}")
    known = {"commands", "finally", "on-failure", "runtime-versions", "run-as"}
    unknown = sorted(set(body) - known)
    if unknown:
        raise BuildspecError(f"Unknown key in phases/{name}: {unknown[0]}")
    if "run-as" in body:
        raise BuildspecError(f"phases/{name}/run-as is not supported by the local cloud")
    on_failure = str(body.get("on-failure") or "ABORT")
    if on_failure not in ON_FAILURE:
        raise BuildspecError(
            f"Invalid value for phases/{name}/on-failure: {on_failure} (expected ABORT or CONTINUE)"
        )
    runtimes = {}
    if "runtime-versions" in body:
        if name != "install":
            raise BuildspecError(f"runtime-versions is only allowed in phases/install, not phases/{name}")
        for runtime, version in _map(body["runtime-versions"], "phases/install/runtime-versions").items():
            runtimes[str(runtime)] = str(version)
            if str(version) not in SUPPORTED_RUNTIMES.get(str(runtime), ()):
                notes.append(
                    f"runtime-versions {runtime}: {version} is not installed here; the image has "
                    f"python 3.11 only, the build continues with it"
                )
    return Phase(
        name=name,
        commands=_commands(body.get("commands"), f"phases/{name}/commands"),
        finally_commands=_commands(body.get("finally"), f"phases/{name}/finally"),
        on_failure=on_failure,
        runtime_versions=runtimes,
    )


def _yes(value: Any, where: str) -> bool:
    if isinstance(value, bool) or value is None:
        return bool(value)
    text = str(value).strip().lower()
    if text in ("yes", "true"):
        return True
    if text in ("no", "false"):
        return False
    raise BuildspecError(f"Invalid value for {where}: {value} (expected yes or no)")


def _artifacts(value: Any) -> Artifacts | None:
    if value is None:
        return None
    body = _map(value, "artifacts")
    files = tuple(str(f) for f in _list(body.get("files"), "artifacts/files"))
    if not files:
        raise BuildspecError("Missing required field: artifacts/files")
    return Artifacts(
        files=files,
        base_directory=str(body.get("base-directory") or ""),
        discard_paths=_yes(body.get("discard-paths"), "artifacts/discard-paths"),
        name=str(body.get("name") or ""),
    )


def _reports(value: Any) -> tuple[Report, ...]:
    found = []
    for group, body in _map(value, "reports").items():
        body = _map(body, f"reports/{group}")
        files = tuple(str(f) for f in _list(body.get("files"), f"reports/{group}/files"))
        if not files:
            raise BuildspecError(f"Missing required field: reports/{group}/files")
        file_format = str(body.get("file-format") or "JUNITXML")
        if file_format not in REPORT_FORMATS:
            raise BuildspecError(
                f"reports/{group}/file-format {file_format} is not supported by the local "
                f"cloud (JUNITXML only)"
            )
        found.append(Report(str(group), files, str(body.get("base-directory") or ""), file_format))
    return tuple(found)


def matching_files(root: Path, patterns: tuple[str, ...], base_directory: str = "") -> list[Path]:
    """The files under root/base_directory that the patterns name (`**/*`: every file below), sorted,
    without duplicates; paths relative to the base directory."""
    base = (root / base_directory).resolve() if base_directory else root.resolve()
    found: set[Path] = set()
    if not base.is_dir():
        return []
    for pattern in patterns:
        pattern = pattern.strip().removeprefix("./")
        for path in base.glob(pattern):
            if path.is_file():
                found.add(path.relative_to(base))
    return sorted(found)


def artifact_entries(root: Path, artifacts: Artifacts) -> list[tuple[Path, str]]:
    """(file on disk, name in the archive) of each artifact file; discard-paths keeps the base name only."""
    base = (root / artifacts.base_directory).resolve() if artifacts.base_directory else root.resolve()
    entries = []
    for relative in matching_files(root, artifacts.files, artifacts.base_directory):
        entries.append((base / relative, relative.name if artifacts.discard_paths else relative.as_posix()))
    return entries
