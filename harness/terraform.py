"""The Terraform runner: one CLI config and one data dir per env under $FARM_STATE_DIR; the state in S3.

Every Terraform call of the harness goes through `Workspace.run`, so plan, deploy, destroy, `terraform output`
and the tests all agree on where the providers come from (the filesystem mirror when this machine has one),
where the state lives, and which endpoint and credentials a local run uses.

envs/local keeps its state in an S3 bucket ON the local cloud (`backend "s3" {}`, configured here), so the
developer's `nox -s deploy` and the pipeline's deploy build (a CodeBuild build of the same cloud) share one
state: bucket farm-tfstate-<account>-<region> (modules/pipeline's default state bucket), key
render-farm/local.tfstate, native S3 locking. The bucket is the backend's prerequisite, made outside Terraform
as an account's state bucket is: the harness creates it with the cloud's admin keys when missing (versioned,
SSE-KMS, public access blocked); a build only requires it. A restarted local cloud is empty, bucket and state
included. $FARM_BACKEND_CONFIG (a backend.hcl) names another bucket/key; the harness adds the local-cloud
settings in a second file (Terraform merges them). Other envs use their own backend with $FARM_BACKEND_CONFIG.
The local backend remains for temporary copies (offline review plans, the static suite's plans).

Layout under $FARM_STATE_DIR (default <repo>/.farm):
    terraformrc                      CLI config (provider installation)
    tf/<env>/.terraform/             TF_DATA_DIR (providers, module manifest, backend settings)
    tf/<env>/backend-state.hcl       envs/local: bucket, key, region, encryption, locking of the S3 state
    tf/<env>/backend-local-cloud.hcl envs/local: the local cloud's S3 endpoint and what a non-AWS one needs
    tf/<env>/init.sha256             fingerprint of what the last `terraform init` saw (backend files too)
    tf/<env>/boot_id                 the local cloud boot the state was applied against
    tf/<env>/applied                 the boot the last complete apply reached
    tf/<env>/worker_image            the worker image (<repository>@sha256:...) the state was applied with
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
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
# envs/local's state: modules/pipeline's default bucket (<name_prefix>-tfstate-<account>-<region>).
STATE_BUCKET_PREFIX = "farm-tfstate"
LOCAL_STATE_KEY = "render-farm/local.tfstate"
STATE_FILE_NAME = "backend-state.hcl"
LOCAL_CLOUD_BACKEND_FILE_NAME = "backend-local-cloud.hcl"
_BACKEND_STRING = re.compile(r'^\s*(\w+)\s*=\s*"([^"]*)"', re.MULTILINE)


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


@dataclass(frozen=True)
class S3State:
    """Where an env's state object lives: the S3 backend's bucket, key and region."""

    bucket: str
    key: str
    region: str


def local_cloud_state() -> S3State:
    """envs/local's default state location on the local cloud (its account and region)."""
    from localcloud import config as localcloud  # late: the aws path never needs it

    bucket = f"{STATE_BUCKET_PREFIX}-{localcloud.ACCOUNT_ID}-{localcloud.REGION}"
    return S3State(bucket=bucket, key=LOCAL_STATE_KEY, region=localcloud.REGION)


def read_backend_file(path: Path, default_region: str) -> S3State:
    """The bucket, key and region a backend.hcl names (its quoted string settings)."""
    settings = dict(_BACKEND_STRING.findall(path.read_text()))
    missing = [name for name in ("bucket", "key") if not settings.get(name)]
    if missing:
        raise TerraformError(f"{path} sets no {' or '.join(missing)} (an S3 backend's partial configuration)")
    return S3State(settings["bucket"], settings["key"], settings.get("region") or default_region)


def state_backend_text(state: S3State) -> str:
    """The S3 backend's location settings: where the state object lives, encrypted, with S3-native locking."""
    return (
        "# Written by harness.terraform: where envs/local's state lives (an S3 bucket on the local cloud).\n"
        f"bucket       = {json.dumps(state.bucket)}\n"
        f"key          = {json.dumps(state.key)}\n"
        f"region       = {json.dumps(state.region)}\n"
        "encrypt      = true\n"
        "use_lockfile = true\n"
    )


def local_cloud_backend_text(endpoint_url: str) -> str:
    """The S3 backend's settings for a local cloud: its endpoint, path-style addressing (127.0.0.1 has no
    bucket subdomains) and no checks only AWS can answer (STS identity, instance metadata, region names)."""
    return (
        f"# Written by harness.terraform: the S3 backend on the local cloud at {endpoint_url}.\n"
        f"endpoints                   = {{ s3 = {json.dumps(endpoint_url)} }}\n"
        "use_path_style              = true\n"
        "skip_credentials_validation = true\n"
        "skip_metadata_api_check     = true\n"
        "skip_region_validation      = true\n"
        "skip_requesting_account_id  = true\n"
    )


def backend_file_texts(args: Sequence[str]) -> list[str]:
    """The content of every `-backend-config=FILE` among init arguments (key=value arguments have none)."""
    texts = []
    for arg in args:
        value = arg.removeprefix("-backend-config=")
        if value != arg and "=" not in value and Path(value).is_file():
            texts.append(Path(value).read_text())
    return texts


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


def cloud_health(endpoint_url: str, timeout: float = 5.0) -> dict | None:
    """The health document of the local cloud at an endpoint (no credentials needed); None: none answers."""
    from localcloud import lifecycle  # late: the aws path never needs it

    return lifecycle.health_at(endpoint_url, timeout)


def bucket_exists(s3, bucket: str) -> bool:
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError as err:
        if err.response.get("Error", {}).get("Code") in ("404", "NoSuchBucket"):
            return False
        raise TerraformError(f"cannot read the state bucket {bucket}: {err}") from err
    return True


def create_state_bucket(s3, state: S3State) -> None:
    """A state bucket as an account keeps one: versioned (every state kept), encrypted by default with S3's
    AWS-managed KMS key, no public access."""
    outside_us_east_1 = {"CreateBucketConfiguration": {"LocationConstraint": state.region}}
    where = {} if state.region == "us-east-1" else outside_us_east_1
    with contextlib.suppress(s3.exceptions.BucketAlreadyOwnedByYou):  # a parallel deploy made it first
        s3.create_bucket(Bucket=state.bucket, **where)
    blocked = dict.fromkeys(
        ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets"), True
    )
    s3.put_public_access_block(Bucket=state.bucket, PublicAccessBlockConfiguration=blocked)
    s3.put_bucket_versioning(Bucket=state.bucket, VersioningConfiguration={"Status": "Enabled"})
    sse = {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}
    s3.put_bucket_encryption(Bucket=state.bucket, ServerSideEncryptionConfiguration={"Rules": [sse]})


@dataclass
class Workspace:
    """Terraform for one env: the root it runs in, where its data and state live, and the endpoint."""

    env: str
    root: Path
    endpoint_url: str | None = None  # the local cloud; None for a real account
    backend_config: list[str] = field(default_factory=list)  # -backend-config=... arguments given
    lambda_zip_dir: Path = BUILD_DIR / "lambdas"
    work_dir: Path | None = None  # data dir, markers, a local backend's state; default <state dir>/tf/<env>
    stream: bool = True  # show Terraform's output on the console (long work: progress must be visible)
    # TF_VAR_worker_image of every plan/apply/destroy; None: the image recorded by the last deploy, if any
    worker_image: str | None = None
    runtime: str | None = None  # the local cloud's mode, "container" | "process"; None for a real account
    # The S3 state on the local cloud (envs/local); None: a local backend's file, or an account's backend.
    state: S3State | None = None
    # A backend.hcl naming the state's bucket and key ($FARM_BACKEND_CONFIG); None: written from `state`.
    state_config: Path | None = None
    # Inside a build of the local cloud: the build role's session from the environment, never the admin keys.
    ambient_credentials: bool = False

    @property
    def dir(self) -> Path:
        return self.work_dir or state_dir() / "tf" / self.env

    @property
    def data_dir(self) -> Path:
        return self.dir / ".terraform"

    @property
    def state_file(self) -> Path:
        """The local backend's state (temporary copies only: envs/local keeps its state in S3)."""
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

    def local_cloud_env(self) -> dict[str, str]:
        """AWS_ENDPOINT_URL, the region and the credentials a local run calls the cloud with: the admin keys
        this boot of the local cloud issued or, in a build, the build role's session (localcloud.credentials
        decides)."""
        from localcloud import config as localcloud  # late: the aws path never needs it

        return localcloud.aws_env(self.endpoint_url)

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
            for name in _UNSET_FOR_LOCAL:  # a build's own session token comes back with local_cloud_env
                env.pop(name, None)
            env.update(self.local_cloud_env(), TF_VAR_endpoint_url=self.endpoint_url)
        return env

    def client(self, service: str):
        """A boto3 client of the local cloud, with the credentials Terraform gets."""
        import boto3
        from botocore.config import Config

        from localcloud import credentials  # late: the aws path never needs it

        return boto3.client(
            service,
            **credentials.for_endpoint(self.endpoint_url).client_kwargs(),
            # path style: an endpoint such as host.containers.internal has no bucket subdomains
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3}),
        )

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

    def backend_args(self) -> list[str]:
        """The -backend-config arguments: those given, then for an S3 state on the local cloud the files
        written here: the state's location (unless a backend.hcl names it) and the local cloud's settings."""
        args = list(self.backend_config)
        if self.state is None:
            return args
        location = self.state_config or self._write_backend_file(
            STATE_FILE_NAME, state_backend_text(self.state)
        )
        settings = self._write_backend_file(
            LOCAL_CLOUD_BACKEND_FILE_NAME, local_cloud_backend_text(self.endpoint_url)
        )
        return [*args, f"-backend-config={location}", f"-backend-config={settings}"]

    def _write_backend_file(self, name: str, text: str) -> Path:
        path = self.dir / name
        write_if_changed(path, text)
        return path

    def init_args(self) -> list[str]:
        args = ["init", "-input=false"] + ([] if self.stream else ["-no-color"])
        if self.lock_file.exists():
            args.append("-lockfile=readonly")  # honour the committed lock file, never rewrite it
        args += self.backend_args()
        return args

    def init(self, force: bool = False) -> bool:
        """`terraform init` when the data dir is missing or the configuration changed. True when it ran. An S3
        state on the local cloud needs its bucket first: checked every time (a restarted cloud is empty)."""
        self.dir.mkdir(parents=True, exist_ok=True)
        if self.state is not None:
            self.ensure_state_bucket()
        args = self.init_args()
        cli_config = write_cli_config()
        seen = [*args, *backend_file_texts(args), str(self.root), cli_config.read_text()]
        fingerprint = config_fingerprint(self.root, seen)
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

    def ensure_state_bucket(self) -> bool:
        """The S3 backend's bucket, made when missing with the local cloud's admin keys (outside Terraform, as
        an account's state bucket is). A build never makes it: there it must exist. True when created."""
        s3 = self.client("s3")
        if bucket_exists(s3, self.state.bucket):
            return False
        if self.ambient_credentials:
            raise TerraformError(
                f"the state bucket {self.state.bucket} does not exist on the local cloud at "
                f"{self.endpoint_url}; a build never creates it: deploy envs/local once outside the pipeline "
                "(`nox -s deploy`), which creates it"
            )
        create_state_bucket(s3, self.state)
        print(f"envs/{self.env}: created the state bucket {self.state.bucket} on {self.endpoint_url}")
        return True

    def state_text(self) -> str | None:
        """The state as Terraform wrote it: the S3 object on the local cloud, else the local backend's file;
        None when there is none."""
        if self.state is None:
            return self.state_file.read_text() if self.state_file.exists() else None
        s3 = self.client("s3")
        try:
            return s3.get_object(Bucket=self.state.bucket, Key=self.state.key)["Body"].read().decode()
        except (s3.exceptions.NoSuchKey, s3.exceptions.NoSuchBucket):
            return None

    def state_document(self) -> dict:
        """The state as JSON; {} when there is none or it cannot be read."""
        try:
            return json.loads(self.state_text() or "{}")
        except json.JSONDecodeError:
            return {}

    def has_state(self) -> bool:
        """Is there a state with resources in it?"""
        text = self.state_text()
        if text is None:
            return False
        try:
            return bool(json.loads(text).get("resources"))
        except json.JSONDecodeError:
            return True  # unreadable: let Terraform decide

    def discard_markers(self) -> None:
        """Forget what this machine recorded about a deployment: its boot, its complete apply, its image."""
        for path in (self.boot_id_file, self.applied_file, self.worker_image_file):
            path.unlink(missing_ok=True)

    def outputs(self) -> dict:
        proc = self.run("output", "-json", "-no-color", capture=True)
        return json.loads(proc.stdout or "{}")


def local_backend_args(work_dir: Path) -> list[str]:
    """A local backend's state file in work_dir (temporary copies: offline review plans, the static suite)."""
    return [f"-backend-config=path={work_dir / 'terraform.tfstate'}"]


def workspace(env: str, endpoint_url: str | None = None) -> Workspace:
    """The Workspace of envs/<env> in this repository, with its backend.

    envs/local keeps its state in S3 on its local cloud (`endpoint_url`, default the Target's): the location
    from $FARM_BACKEND_CONFIG when set, else farm-tfstate-<account>-<region>/render-farm/local.tfstate. Any
    other env uses its own backend, configured with $FARM_BACKEND_CONFIG (the S3 backend's partial config).
    """
    root = ENVS_DIR / env
    if not root.is_dir():
        known = ", ".join(sorted(p.name for p in ENVS_DIR.iterdir() if p.is_dir()))
        raise TerraformError(f"no such env: envs/{env} (known: {known})")
    target = Target.of(env)
    given = os.environ.get("FARM_BACKEND_CONFIG")
    given_file = Path(given).resolve() if given else None
    ws = Workspace(env=env, root=root, endpoint_url=endpoint_url or target.local_cloud_endpoint)
    if target.local_cloud:
        ws.ambient_credentials = target.build_endpoint is not None
        ws.state_config = given_file
        default = local_cloud_state()
        ws.state = read_backend_file(given_file, default.region) if given_file else default
    elif given_file:
        ws.backend_config = [f"-backend-config={given_file}"]
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
    if Target.of(env).local_cloud:
        # A local cloud that does not answer holds nothing; one that does holds the state, if any, in S3.
        if cloud_health(ws.endpoint_url) is None or not ws.has_state():
            return {}
    elif not ws.data_dir.is_dir() and not ws.backend_config:
        return {}  # never initialised and no backend given: nothing this machine knows is deployed
    ws.init()
    return ws.outputs()
