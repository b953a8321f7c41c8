"""The deployed stack as the live suites and the CLI see it: Terraform outputs plus boto3 clients for them.

Outputs come from $FARM_OUTPUTS_JSON (a saved `terraform output -json`) when set, else from
`terraform output -json` of envs/$FARM_ENV (default local). Every env root exports one object, `farm`
(modules/stack/outputs.tf, the contract of docs/contracts.md); nothing else describes a stack, so the same
code runs against the local cloud and a real account.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

CONTRACT_OUTPUT = "farm"  # the one output every env root exports (modules/stack/outputs.tf)


class StackNotDeployed(RuntimeError):
    """No outputs: nothing is deployed for this environment."""


@dataclass(frozen=True)
class Stack:
    env: str
    outputs: dict[str, Any]
    pool: int = 32  # connections per client: enough for 32 threads
    _clients: dict[str, Any] = field(default_factory=dict, init=False, compare=False, repr=False)

    def __getitem__(self, name: str) -> Any:
        try:
            return self.outputs[name]
        except KeyError:
            have = ", ".join(sorted(self.outputs))
            raise KeyError(f"stack output {name!r} is missing (have: {have})") from None

    def saved_outputs(self) -> dict[str, Any]:
        """The outputs in `terraform output -json`'s shape, for a $FARM_OUTPUTS_JSON file."""
        return {CONTRACT_OUTPUT: {"value": self.outputs}}

    @property
    def is_local(self) -> bool:
        return bool(self.outputs.get("endpoint_url"))

    def sizing_model(self):
        """ValidateInput's sizing model of this stack (its `sizing` output), as render_worker.sizing's."""
        from render_worker import sizing

        given = self["sizing"]
        return sizing.SizingModel(
            child_variants_per_s=float(given["child_variants_per_s"]),
            child_start_s=float(given["child_start_s"]),
            storage_puts_per_s=float(given["storage_puts_per_s"]),
            max_parallel_children=int(given["max_parallel_children"]),
        )

    def job_resources(self):
        """One child's vCPU and memory (its `job_resources` output), as render_worker.cost's Resources."""
        from render_worker import cost

        given = self["job_resources"]
        return cost.Resources(float(given["vcpu"]), int(given["memory_mib"]))

    def prices(self):
        """The stack's region's row of config/prices.json (its `prices` output), as render_worker.cost's."""
        from render_worker import cost

        return cost.RegionPrices.from_json(json.dumps(self["prices"]), "the stack's prices output")

    def local_credentials(self) -> dict[str, str]:
        """boto3 keyword arguments for the local cloud: its endpoint and the admin keys its boot issued."""
        from localcloud import credentials  # late: the aws path never needs it

        return credentials.for_endpoint(self["endpoint_url"]).client_kwargs()

    def local_env(self) -> dict[str, str]:
        """The same as environment variables (AWS_ENDPOINT_URL, keys, region), for a subprocess."""
        from localcloud import config

        return config.aws_env(self["endpoint_url"])

    def with_pool(self, pool: int) -> Stack:
        """The same stack with clients of their own, each pooling `pool` connections (load users)."""
        return dataclasses.replace(self, pool=pool)

    def client_config(self) -> Config:
        """The settings of every client made for this stack: standard retries, a pool of `pool`."""
        return Config(retries={"max_attempts": 5, "mode": "standard"}, max_pool_connections=self.pool)

    def client(self, service: str):
        """One boto3 client per service, aimed at the stack's endpoint and region."""
        if service not in self._clients:
            kwargs: dict[str, Any] = {"region_name": self["region"], "config": self.client_config()}
            if self.is_local:
                kwargs.update(self.local_credentials())
            self._clients[service] = boto3.client(service, **kwargs)
        return self._clients[service]


def unwrap(raw: dict[str, Any]) -> dict[str, Any]:
    """The contract object out of `terraform output -json` ({"farm": {"value": {...}, "type": ...}});
    {} when nothing is deployed."""
    if not raw:
        return {}
    if CONTRACT_OUTPUT not in raw:
        have = ", ".join(sorted(raw)) or "none"
        raise StackNotDeployed(
            f"the outputs have no {CONTRACT_OUTPUT!r} object (have: {have}): re-deploy the env"
        )
    return dict(raw[CONTRACT_OUTPUT]["value"])


@cache
def load(env: str | None = None) -> Stack:
    env = env or os.environ.get("FARM_ENV", "local")
    saved = os.environ.get("FARM_OUTPUTS_JSON")
    if saved:
        raw = json.loads(Path(saved).read_text())
    else:
        try:
            from harness import terraform  # the Terraform runner knows the CLI config and state location
        except ImportError:  # a plain install, away from the repository: only saved outputs can say
            raise StackNotDeployed(
                "no stack outputs: set FARM_OUTPUTS_JSON to a saved `terraform output -json` of the deployed "
                "env (or run from a checkout of the repository, where `terraform output` is read)"
            ) from None
        raw = terraform.output_json(env)
    outputs = unwrap(raw)
    if not outputs:
        raise StackNotDeployed(f"envs/{env} has no outputs: deploy it first (`nox -s deploy -- {env}`)")
    return Stack(env=env, outputs=outputs)
