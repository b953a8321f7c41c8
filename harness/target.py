"""Where the farm is deployed: the local cloud on this machine, or an AWS account.

What differs between them is a property of one `Target`, read wherever it matters (the Terraform backend, the
Lambda zips' platform, the image's base and pull policy, who deploys a missing stack), instead of comparing an
env's name in many places. `Target.of(env)` is the only place that looks at the name.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

LOCAL_ENV = "local"


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
