"""Deploy stage, after `nox -s deploy -- aws`: move each function's alias to its newest version (CodeDeploy).

The apply publishes a new version per changed function but leaves the `live` alias alone (CodeDeploy owns it
on aws when the pipeline exists). For every function whose alias is behind, this renders deploy/appspec.yml,
creates a deployment in the CodeDeployDefault.LambdaAllAtOnce group and waits for it, one at a time (a Lambda
AppSpec names one function, and a group runs one deployment at a time). A failed deployment rolls back and
fails the build.

Environment (set by modules/pipeline on the CodeBuild project): CODEDEPLOY_APPLICATION, CODEDEPLOY_GROUP,
LAMBDA_FUNCTION_NAMES (comma-separated), LAMBDA_ALIAS (default `live`).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from string import Template

import boto3

APPSPEC = Path(__file__).with_name("appspec.yml")
DONE = {"Succeeded", "Failed", "Stopped"}


def render_appspec(function_name: str, alias: str, current_version: str, target_version: str) -> str:
    fields = {
        "function_name": function_name,
        "alias": alias,
        "current_version": current_version,
        "target_version": target_version,
    }
    return Template(APPSPEC.read_text()).substitute(fields)


def latest_version(lambda_client, function_name: str) -> str:
    """Highest published version number ($LATEST is not a version CodeDeploy can shift to)."""
    versions = []
    for page in lambda_client.get_paginator("list_versions_by_function").paginate(FunctionName=function_name):
        versions += [int(v["Version"]) for v in page["Versions"] if v["Version"].isdigit()]
    if not versions:
        raise RuntimeError(f"{function_name} has no published version")
    return str(max(versions))


def wait(codedeploy, deployment_id: str, timeout_s: float = 900, poll_s: float = 5) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        status = codedeploy.get_deployment(deploymentId=deployment_id)["deploymentInfo"]["status"]
        if status in DONE:
            return status
        time.sleep(poll_s)
    raise TimeoutError(f"deployment {deployment_id} still running after {timeout_s:.0f} s")


def shift(lambda_client, codedeploy, application: str, group: str, function_name: str, alias: str) -> str:
    current = lambda_client.get_alias(FunctionName=function_name, Name=alias)["FunctionVersion"]
    target = latest_version(lambda_client, function_name)
    if current == target:
        return f"{function_name}:{alias} already at version {target}"
    content = render_appspec(function_name, alias, current, target)
    deployment_id = codedeploy.create_deployment(
        applicationName=application,
        deploymentGroupName=group,
        description=f"{function_name}:{alias} {current} -> {target}",
        revision={"revisionType": "AppSpecContent", "appSpecContent": {"content": content}},
    )["deploymentId"]
    status = wait(codedeploy, deployment_id)
    if status != "Succeeded":
        change = f"{function_name}:{alias} {current} -> {target}"
        raise RuntimeError(f"{change}: deployment {deployment_id} ended {status}")
    return f"{function_name}:{alias} {current} -> {target} ({deployment_id})"


def main() -> int:
    application = os.environ["CODEDEPLOY_APPLICATION"]
    group = os.environ["CODEDEPLOY_GROUP"]
    alias = os.environ.get("LAMBDA_ALIAS", "live")
    names = [n for n in os.environ["LAMBDA_FUNCTION_NAMES"].split(",") if n]
    lambda_client, codedeploy = boto3.client("lambda"), boto3.client("codedeploy")
    for name in names:
        print(shift(lambda_client, codedeploy, application, group, name, alias), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
