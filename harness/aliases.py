"""After an apply, CodeDeploy moves each function's `live` alias to its newest version (both envs).

With the pipeline, the stack lets CodeDeploy own the `live` aliases (`codedeploy_shifts_aliases`): an apply
publishes a new version per changed function and leaves the alias where it was. `harness.infra deploy` then
calls `shift_live_aliases`, whether a developer or the pipeline's Deploy stage runs it: for every function
whose alias is behind, it renders deploy/appspec.yml, creates a deployment in the stack's
CodeDeployDefault.LambdaAllAtOnce group and waits for it, one at a time (a Lambda AppSpec names one function,
and a group runs one deployment at a time). A failed deployment rolls the alias back and fails the deploy.

Who calls: the deploy's own credentials (a developer's, or the deploy build role's: its FindVersionsToShift
and ShiftAliases grants in modules/pipeline/iam.tf).
"""

from __future__ import annotations

import time
from pathlib import Path
from string import Template

from harness.paths import REPO

APPSPEC = REPO / "deploy" / "appspec.yml"
ALIAS = "live"
DONE = {"Succeeded", "Failed", "Stopped"}


class ShiftFailed(RuntimeError):
    """A deployment did not succeed (CodeDeploy rolled the alias back); the message names it."""


def render_appspec(function_name: str, alias: str, current_version: str, target_version: str) -> str:
    fields = {
        "function_name": function_name,
        "alias": alias,
        "current_version": current_version,
        "target_version": target_version,
    }
    return Template(Path(APPSPEC).read_text()).substitute(fields)


def latest_version(lambda_client, function_name: str) -> str:
    """Highest published version number ($LATEST is not a version CodeDeploy can shift to)."""
    versions = []
    for page in lambda_client.get_paginator("list_versions_by_function").paginate(FunctionName=function_name):
        versions += [int(v["Version"]) for v in page["Versions"] if v["Version"].isdigit()]
    if not versions:
        raise ShiftFailed(f"{function_name} has no published version")
    return str(max(versions))


def wait(codedeploy, deployment_id: str, timeout_s: float = 900, poll_s: float = 1) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["status"]
        if status in DONE:
            return status
        time.sleep(poll_s)
    raise ShiftFailed(f"deployment {deployment_id} still running after {timeout_s:.0f} s")


def shift(lambda_client, codedeploy, application: str, group: str, function_name: str, alias: str) -> str:
    """Move one alias to the function's newest version through CodeDeploy; returns what happened."""
    current = lambda_client.get_alias(FunctionName=function_name, Name=alias)["FunctionVersion"]
    target = latest_version(lambda_client, function_name)
    change = f"{function_name}:{alias} {current} -> {target}"
    if current == target:
        return f"{function_name}:{alias} already at version {target}"
    content = render_appspec(function_name, alias, current, target)
    deployment_id = codedeploy.create_deployment(
        applicationName=application,
        deploymentGroupName=group,
        description=change,
        revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": content}},
    )["deploymentId"]
    status = wait(codedeploy, deployment_id)
    if status != "Succeeded":
        info = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]
        reason = info.get("errorInformation", {}).get("message", "")
        raise ShiftFailed(f"{change}: deployment {deployment_id} ended {status} {reason}".rstrip())
    return f"{change} ({deployment_id})"


def shift_live_aliases(stack) -> list[str]:
    """Every function's `live` alias to its newest version, when CodeDeploy owns the aliases of `stack`
    (a farm.stack.Stack); [] when it does not (no pipeline, or Terraform moves them)."""
    pipeline = stack.outputs.get("pipeline") or {}
    if not pipeline.get("codedeploy_shifts_aliases"):
        return []
    lambda_client, codedeploy = stack.client("lambda"), stack.client("codedeploy")
    application, group = pipeline["codedeploy_application"], pipeline["codedeploy_group"]
    return [
        shift(lambda_client, codedeploy, application, group, name, ALIAS)
        for name in sorted(stack["lambda_function_names"].values())
    ]
