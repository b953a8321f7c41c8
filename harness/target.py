"""Where the farm is deployed: the local cloud on this machine, or an AWS account.

What differs between them is a property of one `Target`, read wherever it matters (the Terraform backend, the
Lambda zips' platform, the image's base and pull policy, who deploys a missing stack), instead of comparing an
env's name in many places. `Target.of(env)` is the only place that looks at the name.

A third place runs envs/local: a CodeBuild build of the local cloud (the pipeline's Deploy stage runs
`./noxw -s deploy -- local` in one). `build_endpoint` is the one decision: when CODEBUILD_BUILD_ID and
AWS_ENDPOINT_URL are both set, the harness deploys to THAT cloud, never starts, stops or restarts one, reads
its boot id and runtime mode from the cloud's health document, and calls it with the build role's session
from the environment (never the admin key file of a cloud it did not start).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

LOCAL_ENV = "local"


def build_endpoint(environ: Mapping[str, str] = os.environ) -> str | None:
    """The endpoint of the local cloud running this process's build, None outside such a build (the rule
    lives with the credentials it decides: localcloud.credentials.build_endpoint)."""
    from localcloud import credentials  # late: the aws path never needs it

    return credentials.build_endpoint(environ)


@dataclass(frozen=True)
class Target:
    env: str  # the root under envs/
    local_cloud: bool  # the embedded AWS on 127.0.0.1, which the harness starts, deploys and tears down

    @classmethod
    def of(cls, env: str | None = None) -> Target:
        """The target of envs/<env> (default $FARM_ENV, else local)."""
        env = env or os.environ.get("FARM_ENV") or LOCAL_ENV
        return cls(env=env, local_cloud=env == LOCAL_ENV)

    @property
    def build_endpoint(self) -> str | None:
        """Inside a build of the local cloud, the cloud the build runs on: envs/local is deployed there with
        the build's own credentials. None elsewhere, and always for an account."""
        return build_endpoint() if self.local_cloud else None

    @property
    def manages_local_cloud(self) -> bool:
        """The harness starts (and, to retry a failed apply, restarts) the local cloud: not in a build."""
        return self.local_cloud and self.build_endpoint is None

    @property
    def local_cloud_endpoint(self) -> str | None:
        """Where envs/<env>'s local cloud answers: the build's, else $LOCALCLOUD_PORT's; None: an account."""
        if not self.local_cloud:
            return None
        from localcloud import config  # late: the aws path never needs it

        return self.build_endpoint or config.endpoint()

    @property
    def zip_platform(self) -> str:
        """Which Lambda zips to build: `local` (the local cloud runs them) or `aws`."""
        return "local" if self.local_cloud else "aws"

    @property
    def reads_saved_outputs(self) -> bool:
        """$FARM_OUTPUTS_JSON names saved outputs: the stack is only read, never deployed."""
        return bool(os.environ.get("FARM_OUTPUTS_JSON"))

    @property
    def deploys_when_missing(self) -> bool:
        """The harness deploys the local stack itself when nothing is deployed; an account never."""
        return self.local_cloud and not self.reads_saved_outputs

    def stack(self):
        """The deployed stack (farm.stack.Stack), deploying the local one first when nothing is deployed."""
        if self.deploys_when_missing:
            from harness import infra

            return infra.ensure_deployed(self.env)
        from farm import stack

        return stack.load(self.env)
