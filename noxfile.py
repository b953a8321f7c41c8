"""Every entry point a person or CI uses. `nox -l` lists them; arguments after `--` are forwarded.

All sessions but `security` and `lock` share one project environment (.venv), installed from the lock
(requirements/dev.txt, hash-checked) plus the project itself in editable mode, and reinstalled only when the
lock or pyproject.toml changes, so a chain like `nox -s lint unit smoke` installs once.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import tomllib
from pathlib import Path

import nox

ROOT = Path(__file__).parent
VENV = ROOT / ".venv"
PYPROJECT = ROOT / "pyproject.toml"
REQUIREMENTS = ROOT / "requirements"
DEV_LOCK = REQUIREMENTS / "dev.txt"
RUNTIME_LOCK = REQUIREMENTS / "runtime.txt"
# What the lock is resolved for: the Python of .venv, the worker image and the Lambda runtime (python3.11).
LOCK_TARGET = ["--python-version", "3.11", "--python-platform", "x86_64-unknown-linux-gnu"]

nox.options.reuse_existing_virtualenvs = True
nox.options.default_venv_backend = "venv"
nox.options.sessions = ["lint", "unit"]


def _pins(extra: str) -> list[str]:
    return tomllib.loads(PYPROJECT.read_text())["project"]["optional-dependencies"][extra]


def _project_env(session: nox.Session) -> dict[str, str]:
    """Create or refresh .venv (only when the lock or pyproject.toml changed) and return the env that puts it
    first. The lock installs every dependency (hash-checked); the project goes on top without dependencies."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".lock.sha256"
    digest = hashlib.sha256(DEV_LOCK.read_bytes() + b"\0" + PYPROJECT.read_bytes()).hexdigest()
    if not python.exists():
        session.log("creating .venv")
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)
    if not stamp.exists() or stamp.read_text() != digest:
        session.log(f"installing {DEV_LOCK.relative_to(ROOT)} and the project into .venv")
        pip = [str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check"]
        subprocess.run([*pip, "--require-hashes", "-r", str(DEV_LOCK)], check=True)
        subprocess.run([*pip, "--no-deps", "-e", str(ROOT)], check=True)
        stamp.write_text(digest)
    _checkout_on_path(python)
    return {
        "PATH": f"{VENV / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(VENV),
        "PYTHONUNBUFFERED": "1",
    }


def _checkout_on_path(python: Path) -> None:
    """The developer harness (harness/) is no part of the installed package: a .pth file puts the checkout
    on .venv's path, so `.venv/bin/farm` finds it (outputs through `terraform output`) from any directory."""
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()
    pth = Path(purelib) / "render_farm_checkout.pth"
    if not pth.is_file() or pth.read_text().strip() != str(ROOT):
        pth.write_text(f"{ROOT}\n")


def _run(session: nox.Session, *args: str) -> None:
    env = _project_env(session)
    session.run(str(VENV / "bin" / args[0]), *args[1:], env=env, external=True)


@nox.session
def lock(session: nox.Session) -> None:
    """Regenerate requirements/dev.txt and runtime.txt from pyproject.toml's pins (uv, its own environment).

    dev.txt: [project] dependencies + the dev extra, transitive, hashed. runtime.txt: [project] dependencies
    alone, constrained to dev.txt's versions, so .venv tests exactly what the image and the zips ship.
    Versions already locked are kept; `nox -s lock -- --upgrade` (or `--upgrade-package NAME`) moves them."""
    session.install(*_pins("lock"))
    REQUIREMENTS.mkdir(exist_ok=True)
    common = [*LOCK_TARGET, "--generate-hashes", "--custom-compile-command", "nox -s lock", "--quiet"]
    session.chdir(ROOT)  # relative paths in the files' headers and annotations
    dev, runtime = str(DEV_LOCK.relative_to(ROOT)), str(RUNTIME_LOCK.relative_to(ROOT))
    compile_ = ["uv", "pip", "compile", "pyproject.toml", *common, *session.posargs]
    session.run(*compile_, "--extra", "dev", "-o", dev)
    session.run(*compile_, "-c", dev, "-o", runtime)


@nox.session(venv_backend="none")
def lint(session: nox.Session) -> None:
    """ruff check and ruff format --check over the whole tree."""
    _run(session, "ruff", "check", ".")
    _run(session, "ruff", "format", "--check", ".")


@nox.session(venv_backend="none")
def fmt(session: nox.Session) -> None:
    """Apply ruff format and terraform fmt."""
    _run(session, "ruff", "format", ".")
    _run(session, "ruff", "check", "--fix", ".")
    session.run("terraform", "fmt", "-recursive", ".", external=True)


@nox.session(venv_backend="none")
def docs(session: nox.Session) -> None:
    """Regenerate the Inputs/Outputs tables of modules/*/README.md (`-- --check` only reports stale ones)."""
    _run(session, "python", "-m", "harness.tfdocs", *session.posargs)


@nox.session(venv_backend="none")
def unit(session: nox.Session) -> None:
    """Unit tests: render core, Lambdas, schemas, local-cloud patches. No Terraform apply.

    $FARM_UNIT_TESTS (space-separated paths) narrows the suite: envs/local's pipeline sets it on its test
    project, whose Build stage then runs a few files (modules/pipeline: unit_test_selection)."""
    paths = os.environ.get("FARM_UNIT_TESTS", "").split() or ["tests/unit"]
    _run(session, "python", "-m", "pytest", *paths, "-n", "2", *session.posargs)


@nox.session(venv_backend="none")
def localcloud(session: nox.Session) -> None:
    """The embedded AWS: `nox -s localcloud -- up|down|status|env|logs`."""
    _run(session, "python", "-m", "localcloud", *(session.posargs or ["status"]))


@nox.session(venv_backend="none")
def zips(session: nox.Session) -> None:
    """Build the Lambda zips into build/lambdas/ (plan and deploy do this themselves)."""
    _run(session, "python", "-m", "harness.lambda_zips", *session.posargs)


@nox.session(venv_backend="none")
def image(session: nox.Session) -> None:
    """`nox -s image [-- --build-only]`: build worker/Dockerfile (buildah) and push it to the deployed stack's
    ECR repository; prints `<repository>@sha256:...` (harness.image)."""
    _run(session, "python", "-m", "harness.image", *session.posargs)


@nox.session(venv_backend="none")
def plan(session: nox.Session) -> None:
    """`nox -s plan [-- ENV]`: plan JSON plus a Markdown review summary under build/plan/ENV/."""
    _run(session, "python", "-m", "harness.infra", "plan", *session.posargs)


@nox.session(venv_backend="none")
def deploy(session: nox.Session) -> None:
    """`nox -s deploy [-- ENV]`: local by default (starts the local cloud, builds zips, init, apply; in
    container mode first the ECR repository, then the worker image is built and pushed, then everything)."""
    _run(session, "python", "-m", "harness.infra", "deploy", *session.posargs)


@nox.session(venv_backend="none")
def destroy(session: nox.Session) -> None:
    """`nox -s destroy [-- ENV]`: remove everything deploy created."""
    _run(session, "python", "-m", "harness.infra", "destroy", *session.posargs)


@nox.session
def security(session: nox.Session) -> None:
    """checkov over modules/ and envs/ (its own environment: it pins boto3 below moto's needs)."""
    session.install(*_pins("security"))
    session.run(
        "checkov",
        "--directory",
        "modules",
        "--directory",
        "envs",
        "--framework",
        "terraform",
        "--quiet",
        "--compact",
        "--skip-download",  # no Prisma Cloud guidelines: no network here, and the checks need none
        *session.posargs,
    )


@nox.session(venv_backend="none")
def smoke(session: nox.Session) -> None:
    """Static: fmt, validate, module tests, env plans. Live: the deployed stack is healthy and encrypted."""
    _run(session, "python", "-m", "pytest", "tests/smoke", *session.posargs)


@nox.session(venv_backend="none")
def integration(session: nox.Session) -> None:
    """The whole workflow on the deployed stack, failure paths, DLQ, EventBridge capture; then the IAM report.

    On the local cloud the IAM report (`iam-report`, build/iam/report.md) follows pytest: it is written
    whatever pytest found, and the session fails when either failed. With arguments (a partial run), unused
    grants are listed but only denied calls fail the report."""
    local = os.environ.get("FARM_ENV", "local") == "local"
    tests_failed = None
    try:
        _run(session, "python", "-m", "pytest", "tests/integration", *session.posargs)
    except nox.command.CommandFailed as failed:
        tests_failed = failed
    if not local:
        session.log("IAM report skipped: only the local cloud records IAM decisions")
    else:
        try:
            denied_only = ["--denied-only"] if session.posargs else []
            _run(session, "python", "-m", "harness.iam_report", *denied_only)
        except nox.command.CommandFailed:
            if tests_failed is None:
                session.error(
                    "the IAM report found denied calls or unjustified unused grants (build/iam/report.md)"
                )
            session.log("the IAM report failed too (build/iam/report.md)")
    if tests_failed is not None:
        session.error("integration tests failed")


@nox.session(venv_backend="none")
def pipeline(session: nox.Session) -> None:
    """The CI/CD pipeline on the deployed stack (tests/pipeline): git pushes to its CodeCommit repository run
    Source -> Build -> Deploy; prints build/pipeline/report.md (executions, stage results, durations)."""
    report = ROOT / "build" / "pipeline" / "report.md"
    report.unlink(missing_ok=True)
    try:
        _run(session, "python", "-m", "pytest", "tests/pipeline", *session.posargs)
    finally:
        if report.is_file():
            print(report.read_text(), flush=True)


@nox.session(name="iam-report", venv_backend="none")
def iam_report(session: nox.Session) -> None:
    """`nox -s iam-report [-- --denied-only|--clear]`: denied calls and unused grants (build/iam/report.md).

    The local cloud's record of IAM decisions against the deployed stack's policies; grants only AWS itself
    exercises are listed apart. Exit 1 on denied calls or unjustified unused grants."""
    _run(session, "python", "-m", "harness.iam_report", *session.posargs)


@nox.session(venv_backend="none")
def perf(session: nox.Session) -> None:
    """`nox -s perf [-- --profile seed|stress]`: locust load and benchmarks; writes perf-report.{json,md}."""
    _run(session, "python", "-m", "tests.perf.run", *session.posargs)


@nox.session(venv_backend="none")
def chaos(session: nox.Session) -> None:
    """`nox -s chaos [-- --profile short|long]`: perf's load with faults injected; proves nothing was lost."""
    _run(session, "python", "-m", "tests.chaos.run", *session.posargs)


@nox.session(venv_backend="none")
def bench(session: nox.Session) -> None:
    """Offline benchmark: validate and render a generated 100,000-variant spec; prints variants/s/core."""
    _run(session, "python", "-m", "harness.bench", *session.posargs)


@nox.session(venv_backend="none")
def demo(session: nox.Session) -> None:
    """The main job: deploy the local stack if needed, render the example catalog, print the gallery path."""
    _run(session, "python", "-m", "harness.demo", *session.posargs)
