"""The Terraform runner: one CLI config, one data dir and one state file per env, all under $FARM_STATE_DIR.

Every Terraform call of the harness goes through `Workspace.run`, so plan, deploy, destroy, `terraform output`
and the tests all agree on where the providers come from (the filesystem mirror when this machine has one),
where the state lives, and which endpoint and credentials a local run uses.

Layout under $FARM_STATE_DIR (default <repo>/.farm):
    terraformrc                      CLI config (provider installation)
    tf/<env>/.terraform/             TF_DATA_DIR (providers, module manifest, backend settings)
    tf/<env>/terraform.tfstate       the local backend's state (envs/local; envs/aws uses its S3 backend)
    tf/<env>/init.sha256             fingerprint of what the last `terraform init` saw
    tf/<env>/boot_id                 the local cloud boot the state was applied against
    tf/<env>/worker_image            the worker image (<repository>@sha256:...) the state was applied with
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from harness.paths import REPO
from harness.target import Target

ENVS_DIR = REPO / "envs"
MODULES_DIR = REPO / "modules"
BUILD_DIR = REPO / "build"
DEFAULT_MIRROR = Path("/opt/tf-plugins")
PROVIDER_PATTERN = "registry.terraform.io/hashicorp/*"
MIRROR_MARKER = Path("registry.terraform.io/hashicorp/aws")
# Variables that would point a local run at a real account, or change its output format.
_UNSET_FOR_LOCAL = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_DEFAULT_PROFILE", "AWS_CONFIG_FILE", "TF_LOG")


class TerraformError(RuntimeError):
    """A Terraform command failed; its output was already streamed to the console."""


def state_dir(environ: Mapping[str, str] = os.environ) -> Path:
    return Path(environ.get("FARM_STATE_DIR") or REPO / ".farm").resolve()


def find_mirror(environ: Mapping[str, str] = os.environ, default: Path = DEFAULT_MIRROR) -> Path | None:
    """$FARM_TF_PLUGIN_MIRROR, else the machine's mirror when it holds hashicorp/aws, else None (registry)."""
    configured = environ.get("FARM_TF_PLUGIN_MIRROR")
    if configured:
        path = Path(configured).expanduser().resolve()
        if not path.is_dir():
            raise TerraformError(f"FARM_TF_PLUGIN_MIRROR={configured} is not a directory")
        return path
    if (default / MIRROR_MARKER).is_dir():
        return default
    return None


def cli_config_text(mirror: Path | None) -> str:
    """The Terraform CLI config: hashicorp providers from the mirror when there is one, else the registry."""
    if mirror is None:
        return "# No provider mirror found: providers come from the registry.\n"
    pattern = json.dumps(PROVIDER_PATTERN)
    return (
        "# Written by harness.terraform: hashicorp providers from the local mirror, anything else direct.\n"
        "provider_installation {\n"
        "  filesystem_mirror {\n"
        f"    path    = {json.dumps(str(mirror))}\n"
        f"    include = [{pattern}]\n"
        "  }\n"
        "  direct {\n"
        f"    exclude = [{pattern}]\n"
        "  }\n"
        "}\n"
    )


def write_if_changed(path: Path, text: str) -> bool:
    """Write only when the content differs, so timestamps (and fingerprints) stay put."""
    if path.exists() and path.read_text() == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)
    return True


def write_cli_config(environ: Mapping[str, str] = os.environ) -> Path:
    path = state_dir(environ) / "terraformrc"
    write_if_changed(path, cli_config_text(find_mirror(environ)))
    return path


def config_fingerprint(root: Path, extra: Sequence[str]) -> str:
    """Hash of everything `terraform init` depends on: HCL files (module calls, providers, backend),
    the lock file and the init arguments. Any change means init must run again."""
    digest = hashlib.sha256()
    for part in extra:
        digest.update(part.encode() + b"\0")
    module_roots = [root, root.parent.parent / "modules"]
    for base in module_roots:
        if not base.is_dir():
            continue
        for path in sorted(base.rglob("*")):
            if ".terraform" in path.parts or not path.is_file():
                continue
            if path.suffix in (".tf", ".hcl") or path.name.endswith(".tf.json"):
                digest.update(str(path.relative_to(base)).encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()


@dataclass
class Workspace:
    """Terraform for one env: the root it runs in, where its data and state live, and the endpoint."""

    env: str
    root: Path
    endpoint_url: str | None = None  # the local cloud; None for a real account
    backend_config: list[str] = field(default_factory=list)  # -backend-config=... arguments
    lambda_zip_dir: Path = BUILD_DIR / "lambdas"
    work_dir: Path | None = None  # where data dir and state live; default $FARM_STATE_DIR/tf/<env>
    stream: bool = True  # show Terraform's output on the console (long work: progress must be visible)
    # TF_VAR_worker_image of every plan/apply/destroy; None: the image recorded by the last deploy, if any
    worker_image: str | None = None
    runtime: str | None = None  # the local cloud's mode, "container" | "process"; None for a real account

    @property
    def dir(self) -> Path:
        return self.work_dir or state_dir() / "tf" / self.env

    @property
    def data_dir(self) -> Path:
        return self.dir / ".terraform"

    @property
    def state_file(self) -> Path:
        return self.dir / "terraform.tfstate"

    @property
    def boot_id_file(self) -> Path:
        return self.dir / "boot_id"

    @property
    def applied_file(self) -> Path:
        """Holds the boot id of the local cloud the last *complete* apply reached."""
        return self.dir / "applied"

    @property
    def worker_image_file(self) -> Path:
        """Holds the worker image (<repository>@sha256:...) the state was applied with (container mode)."""
        return self.dir / "worker_image"

    def image(self) -> str | None:
        """The worker image passed to Terraform: the one set, else the recorded one, else None (default)."""
        if self.worker_image:
            return self.worker_image
        if self.worker_image_file.exists():
            return self.worker_image_file.read_text().strip() or None
        return None

    def record_image(self, image: str) -> None:
        """Use `image` from now on, and for every later Workspace of this env (plans must re-pass it)."""
        self.worker_image = image
        self.dir.mkdir(parents=True, exist_ok=True)
        self.worker_image_file.write_text(image + "\n")

    @property
    def lock_file(self) -> Path:
        return self.root / ".terraform.lock.hcl"

    def environment(self, base: Mapping[str, str] = os.environ) -> dict[str, str]:
        env = dict(base)
        env.update(
            TF_CLI_CONFIG_FILE=str(write_cli_config(base)),
            TF_DATA_DIR=str(self.data_dir),
            TF_IN_AUTOMATION="1",
            TF_INPUT="0",
            TF_VAR_lambda_zip_dir=str(self.lambda_zip_dir.resolve()),
        )
        image = self.image()
        if image:
            env["TF_VAR_worker_image"] = image
        if self.endpoint_url:
            from localcloud import config as localcloud  # late: the aws path never needs it

            for name in _UNSET_FOR_LOCAL:
                env.pop(name, None)
            # The endpoint, the admin keys this boot of the local cloud issued, and its region.
            env.update(localcloud.aws_env(self.endpoint_url), TF_VAR_endpoint_url=self.endpoint_url)
        return env

    def run(
        self, *args: str, capture: bool = False, ok_codes: Sequence[int] = (0,)
    ) -> subprocess.CompletedProcess:
        """Run `terraform ARGS` in the root. Streams to the console unless capturing; raises on failure."""
        cmd = ["terraform", f"-chdir={self.root}", *args]
        if self.stream and not capture:
            print(f"$ terraform {' '.join(args)}   [envs/{self.env}]", flush=True)
        out = subprocess.PIPE if capture or not self.stream else None
        proc = subprocess.run(cmd, env=self.environment(), stdout=out, stderr=out, text=True, check=False)
        if proc.returncode not in ok_codes:
            detail = f"\n{proc.stdout or ''}{proc.stderr or ''}" if out else ""
            raise TerraformError(
                f"terraform {args[0]} failed in envs/{self.env} (exit {proc.returncode}){detail}"
            )
        return proc

    def init_args(self) -> list[str]:
        args = ["init", "-input=false"] + ([] if self.stream else ["-no-color"])
        if self.lock_file.exists():
            args.append("-lockfile=readonly")  # honour the committed lock file, never rewrite it
        args += self.backend_config
        return args

    def init(self, force: bool = False) -> bool:
        """`terraform init` when the data dir is missing or the configuration changed. True when it ran."""
        self.dir.mkdir(parents=True, exist_ok=True)
        args = self.init_args()
        cli_config = write_cli_config()
        fingerprint = config_fingerprint(self.root, [*args, str(self.root), cli_config.read_text()])
        stamp = self.dir / "init.sha256"
        if not force and self.data_dir.is_dir() and stamp.exists() and stamp.read_text() == fingerprint:
            return False
        if not self.lock_file.exists():
            print(
                f"warning: envs/{self.env} has no .terraform.lock.hcl; init will create one", file=sys.stderr
            )
        self.run(*args, "-reconfigure")
        stamp.write_text(fingerprint)
        return True

    def has_state(self) -> bool:
        """Only meaningful for a local backend: is there a state file with resources in it?"""
        if not self.state_file.exists():
            return False
        try:
            return bool(json.loads(self.state_file.read_text()).get("resources"))
        except json.JSONDecodeError:
            return True  # unreadable: let Terraform decide

    def discard_local_state(self) -> None:
        markers = [self.boot_id_file, self.applied_file, self.worker_image_file]
        for path in [self.state_file, *self.dir.glob("terraform.tfstate.*"), *markers]:
            path.unlink(missing_ok=True)

    def outputs(self) -> dict:
        proc = self.run("output", "-json", "-no-color", capture=True)
        return json.loads(proc.stdout or "{}")


def local_backend_args(work_dir: Path) -> list[str]:
    return [f"-backend-config=path={work_dir / 'terraform.tfstate'}"]


def workspace(env: str, endpoint_url: str | None = None) -> Workspace:
    """The Workspace of envs/<env> in this repository, with its backend arguments.

    envs/local keeps its state under $FARM_STATE_DIR. Any other env uses its own backend, configured with
    $FARM_BACKEND_CONFIG (a backend.hcl file for the S3 backend's partial configuration).
    """
    root = ENVS_DIR / env
    if not root.is_dir():
        known = ", ".join(sorted(p.name for p in ENVS_DIR.iterdir() if p.is_dir()))
        raise TerraformError(f"no such env: envs/{env} (known: {known})")
    ws = Workspace(env=env, root=root, endpoint_url=endpoint_url)
    if Target.of(env).local_cloud:
        ws.backend_config = local_backend_args(ws.dir)
    elif os.environ.get("FARM_BACKEND_CONFIG"):
        ws.backend_config = [f"-backend-config={Path(os.environ['FARM_BACKEND_CONFIG']).resolve()}"]
    return ws


def copy_roots(dest: Path, env: str) -> Path:
    """Copy modules/, config/ (the price table the env roots read) and envs/<env> into dest (same layout, no
    .terraform); return the copied env root."""
    ignore = shutil.ignore_patterns(".terraform", "terraform.tfstate*", "*.tfplan", "__pycache__")
    shutil.copytree(MODULES_DIR, dest / "modules", ignore=ignore)
    shutil.copytree(REPO / "config", dest / "config", ignore=ignore)
    shutil.copytree(ENVS_DIR / env, dest / "envs" / env, ignore=ignore)
    return dest / "envs" / env


def output_json(env: str = "local") -> dict:
    """Raw `terraform output -json` of envs/<env>; {} when nothing is deployed (no state, no init)."""
    ws = workspace(env)
    ws.stream = False
    local_cloud = Target.of(env).local_cloud
    if local_cloud and not ws.has_state():
        return {}
    if not local_cloud and not ws.data_dir.is_dir() and not ws.backend_config:
        return {}  # never initialised and no backend given: nothing this machine knows is deployed
    ws.init()
    return ws.outputs()
