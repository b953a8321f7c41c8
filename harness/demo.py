"""The main job (`nox -s demo`): render the example catalog on the farm and show where the gallery is.

Deploys the local stack when nothing is deployed (FARM_ENV=aws uses the deployed aws stack instead), uploads
examples/catalog.example.json, starts the workflow, shows children done / total until the run ends, downloads
the renders to build/demo/<run_id>/ and prints the number of SVGs and the path of index.html.
Exit code: 0 when the run succeeded and its gallery was downloaded, 1 otherwise (a refused AWS request is
reported in one line, not a traceback).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from farm.client import FarmClient, new_run_id
from farm.remote import describe, wait_showing
from harness.paths import REPO
from harness.target import Target

EXAMPLE = REPO / "examples" / "catalog.example.json"
OUT_ROOT = REPO / "build" / "demo"


def runtime_line(stack) -> str:
    """How the jobs run, and the worker image the job definition names (by digest in container mode)."""
    found = stack.client("batch").describe_job_definitions(jobDefinitions=[stack["job_definition_arn"]])
    definitions = found.get("jobDefinitions") or [{}]
    image = definitions[0].get("containerProperties", {}).get("image", "unknown")
    if not stack.is_local:
        return f"runtime: AWS Batch; worker image {image}"
    from urllib.parse import urlsplit

    from harness import infra
    from localcloud import lifecycle

    status = lifecycle.status(urlsplit(stack["endpoint_url"]).port) or {}
    if status.get("runtime") == "container":
        return f"runtime: container (each job runs in a podman container); worker image {image}"
    return infra.PROCESS_MODE_NOTE


CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--window-size=1280,900",
]


def screenshot(html: Path, png: Path) -> None:
    """Picture of the gallery in headless Chromium (`apt-get install chromium`), for the README."""
    browser = shutil.which("chromium") or shutil.which("chromium-browser") or shutil.which("google-chrome")
    if not browser:
        raise RuntimeError(
            "no chromium on PATH: install it (apt-get install -y chromium) to take the screenshot"
        )
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        subprocess.run(
            [
                browser,
                *CHROMIUM_FLAGS,
                f"--user-data-dir={profile}",
                f"--screenshot={png.resolve()}",
                html.resolve().as_uri(),
            ],
            check=True,
            capture_output=True,
            timeout=120,
        )


def main(argv: list[str] | None = None) -> int:
    from botocore.exceptions import BotoCoreError, ClientError

    from harness.image import ImageError

    try:
        return run_demo(argv)
    except (ClientError, BotoCoreError) as exc:
        print(f"demo: the cloud refused a request: {exc}", file=sys.stderr)
        return 1
    except ImageError as exc:
        print(f"demo: the worker image: {exc}", file=sys.stderr)
        return 1


def run_demo(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m harness.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--spec", type=Path, default=EXAMPLE, help="catalog spec (default: the example)")
    parser.add_argument("--out", type=Path, default=OUT_ROOT, help="downloads go to OUT/<run_id>/")
    parser.add_argument("--run-id", help="run id (default: generated, unique)")
    parser.add_argument("--screenshot", type=Path, metavar="PNG", help="also save a picture of the gallery")
    args = parser.parse_args(argv)

    target = Target.of()
    started = time.monotonic()
    print(f"== stack: envs/{target.env}", flush=True)
    stack = target.stack()
    client = FarmClient(stack)
    deployed = time.monotonic()
    print(f"   ready in {deployed - started:.1f} s", flush=True)
    print(f"   {runtime_line(stack)}", flush=True)

    print(f"== submitting {args.spec}", flush=True)
    run_id, arn = client.submit(args.spec, args.run_id or new_run_id("demo"))
    print(f"   run {run_id}\n   execution {arn}", flush=True)
    state = wait_showing(client, run_id, timeout=1800)
    ran = time.monotonic()
    print(describe(state), flush=True)
    if state.status != "SUCCEEDED":
        print(f"demo: the run ended {state.status}", file=sys.stderr)
        return 1

    out_dir = args.out / run_id
    fetched = client.fetch(run_id, out_dir)
    done = time.monotonic()
    if not fetched.gallery:
        print(f"demo: no index.html under {out_dir}", file=sys.stderr)
        return 1
    print(f"== {len(fetched.svgs)} SVGs downloaded to {out_dir.resolve()}")
    print(f"   gallery: {fetched.gallery.resolve()}")
    print(f"   manifest: {fetched.manifest.resolve() if fetched.manifest else 'missing'}")
    print(
        f"   time: stack {deployed - started:.1f} s, run {ran - deployed:.1f} s, "
        f"download {done - ran:.1f} s, total {done - started:.1f} s"
    )
    if args.screenshot:
        screenshot(fetched.gallery, args.screenshot)
        print(f"   screenshot: {args.screenshot.resolve()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
