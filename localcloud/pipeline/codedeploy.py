"""CodeDeploy for Lambda: a deployment really moves the alias, as the deployment group's service role.

CreateDeployment validates the revision (AppSpecContent, String or an S3 YAML/JSON object) and starts a thread
that does what CodeDeploy does for the Lambda compute platform: assume the group's service role (trust checked
with aws:SourceArn = the group ARN), read the AppSpec (one AWS::Lambda::Function with Name, Alias,
CurrentVersion, TargetVersion; optional BeforeAllowTraffic / AfterAllowTraffic hook functions), run the
lifecycle events BeforeAllowTraffic, AllowTraffic, AfterAllowTraffic, and end Succeeded, Failed or Stopped.
Every Lambda call (GetAlias, UpdateAlias, Invoke of a hook) is made over HTTP with the role's session, so the
IAM layer decides as IAM would. A hook function is invoked asynchronously with {"DeploymentId",
"LifecycleEventHookExecutionId"} and must call PutLifecycleEventHookExecutionStatus within the hook timeout
(AWS: one hour; LOCALCLOUD_CODEDEPLOY_HOOK_TIMEOUT_S here). Only CodeDeployDefault.LambdaAllAtOnce shifts
traffic; the canary and linear configurations fail the deployment, naming them ("not executed locally").

A failed or stopped deployment leaves the alias where it found it (CurrentVersion). Deployments are kept in
moto's CodeDeploy backend (so a moto reset forgets them), beside moto's own records of non-Lambda deployments.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import string
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Any

import yaml
from botocore.exceptions import BotoCoreError, ClientError
from moto.core.exceptions import JsonRESTError

from localcloud import config, runtime

log = logging.getLogger("localcloud.codedeploy")

CODEDEPLOY = "codedeploy.amazonaws.com"
HOOK_TIMEOUT_ENV = "LOCALCLOUD_CODEDEPLOY_HOOK_TIMEOUT_S"
HOOK_TIMEOUT_S = 3600.0  # AWS: a hook must report within an hour

ACTIVE = ("Created", "Queued", "InProgress", "Baking", "Ready")
STATUSES = ("Created", "Queued", "InProgress", "Baking", "Succeeded", "Failed", "Stopped", "Ready")
BEFORE, ALLOW, AFTER = "BeforeAllowTraffic", "AllowTraffic", "AfterAllowTraffic"
HOOK_EVENTS = (BEFORE, AFTER)

INVALID_APPSPEC = (
    "The deployment failed because the AppSpec file that specifies the AWS Lambda deployment configuration "
    "is missing or has an invalid configuration."
)


# --- deployment configurations ------------------------------------------------------------------------------


def _lambda_configs() -> dict[str, dict]:
    routing = {"CodeDeployDefault.LambdaAllAtOnce": {"type": "AllAtOnce"}}
    for minutes in (5, 10, 15, 30):
        routing[f"CodeDeployDefault.LambdaCanary10Percent{minutes}Minutes"] = {
            "type": "TimeBasedCanary",
            "timeBasedCanary": {"canaryPercentage": 10, "canaryInterval": minutes},
        }
    for minutes in (1, 2, 3, 10):
        unit = "Minute" if minutes == 1 else "Minutes"
        routing[f"CodeDeployDefault.LambdaLinear10PercentEvery{minutes}{unit}"] = {
            "type": "TimeBasedLinear",
            "timeBasedLinear": {"linearPercentage": 10, "linearInterval": minutes},
        }
    return {name: {"computePlatform": "Lambda", "trafficRoutingConfig": r} for name, r in routing.items()}


SERVER_CONFIGS = {
    "CodeDeployDefault.AllAtOnce": {"type": "FLEET_PERCENT", "value": 0},
    "CodeDeployDefault.HalfAtATime": {"type": "FLEET_PERCENT", "value": 50},
    "CodeDeployDefault.OneAtATime": {"type": "HOST_COUNT", "value": 1},
}
CONFIGS = {
    **{n: {"computePlatform": "Server", "minimumHealthyHosts": h} for n, h in SERVER_CONFIGS.items()},
    **_lambda_configs(),
}
_CONFIGS_CREATED = 1420070400.0  # the predefined configurations are older than any deployment


def deployment_config(name: str | None) -> dict:
    """GetDeploymentConfig's deploymentConfigInfo of a predefined configuration."""
    if not name:
        raise CodeDeployError("DeploymentConfigNameRequiredException", "Deployment config name is required.")
    if name not in CONFIGS:
        raise CodeDeployError("DeploymentConfigDoesNotExistException", f"Deployment config {name} not found.")
    config_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"codedeploy:{name}"))
    return {"deploymentConfigId": config_id, "deploymentConfigName": name, "createTime": _CONFIGS_CREATED,
            **CONFIGS[name]}  # fmt: skip


def deployment_config_names() -> list[str]:
    return sorted(CONFIGS)


# --- errors -----------------------------------------------------------------------------------------------


class CodeDeployError(JsonRESTError):
    """An API error as CodeDeploy answers it (HTTP 400, __type = the exception's name)."""

    code = 400

    def __init__(self, error_type: str, message: str):
        super().__init__(error_type, message)


class Failure(Exception):
    """Ends a deployment Failed with errorInformation {code, message}."""

    def __init__(self, code: str, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


class Stopped(Exception):
    """StopDeployment was called."""


# --- the AppSpec ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class AppSpec:
    function: str
    alias: str
    current_version: str
    target_version: str
    hooks: dict[str, str]  # lifecycle event -> hook function name


def parse_appspec(text: str) -> AppSpec:
    """The Lambda AppSpec (YAML or JSON), validated as CodeDeploy validates it; Failure otherwise."""

    def invalid(detail: str) -> Failure:
        return Failure("INVALID_LAMBDA_CONFIGURATION", f"{INVALID_APPSPEC} {detail}")

    try:
        doc = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise invalid(f"The AppSpec file cannot be parsed: {exc}".replace("\n", " ")) from exc
    if not isinstance(doc, dict):
        raise invalid("The AppSpec file must be a YAML or JSON object.")
    resources = doc.get("Resources")
    if not isinstance(resources, list) or len(resources) != 1:
        raise invalid("The AppSpec file must specify exactly one Lambda function resource.")
    entry = resources[0]
    if not isinstance(entry, dict) or len(entry) != 1:
        raise invalid("A resource must be a name mapped to its Type and Properties.")
    (resource,) = entry.values()
    if not isinstance(resource, dict) or resource.get("Type") != "AWS::Lambda::Function":
        raise invalid("The resource Type must be AWS::Lambda::Function.")
    properties = resource.get("Properties") if isinstance(resource.get("Properties"), dict) else {}
    values = {}
    for key in ("Name", "Alias", "CurrentVersion", "TargetVersion"):
        value = properties.get(key)
        if value is None or str(value).strip() == "":
            raise invalid(f"The {key} property of the Lambda function resource is missing or empty.")
        values[key] = str(value)
    if values["CurrentVersion"] == values["TargetVersion"]:
        raise invalid("The target version must be different from the current version.")
    return AppSpec(
        function=values["Name"],
        alias=values["Alias"],
        current_version=values["CurrentVersion"],
        target_version=values["TargetVersion"],
        hooks=_hooks(doc.get("Hooks"), invalid),
    )


def _hooks(raw: Any, invalid) -> dict[str, str]:
    if raw is None:
        return {}
    items = raw if isinstance(raw, list) else [raw] if isinstance(raw, dict) else None
    if items is None:
        raise invalid("Hooks must be a list of lifecycle events, each naming a Lambda function.")
    hooks: dict[str, str] = {}
    for item in items:
        if not isinstance(item, dict):
            raise invalid("Hooks must be a list of lifecycle events, each naming a Lambda function.")
        for event, function in item.items():
            if event not in HOOK_EVENTS:
                raise invalid(
                    f"{event} is not a lifecycle event of a Lambda deployment ({', '.join(HOOK_EVENTS)})."
                )
            if function is None or str(function).strip() == "":
                raise invalid("The Lambda function name cannot be null or empty")
            hooks[event] = str(function)
    return hooks


# --- the deployment record --------------------------------------------------------------------------------


@dataclass
class LifecycleEvent:
    name: str
    status: str = "Pending"
    start_time: float | None = None
    end_time: float | None = None
    diagnostics: dict | None = None

    def describe(self) -> dict:
        found = {"lifecycleEventName": self.name, "status": self.status}
        if self.start_time is not None:
            found["startTime"] = self.start_time
        if self.end_time is not None:
            found["endTime"] = self.end_time
        if self.diagnostics:
            found["diagnostics"] = self.diagnostics
        return found


@dataclass
class Deployment:
    deployment_id: str
    application_name: str
    deployment_group_name: str
    deployment_config_name: str
    group_arn: str
    role_arn: str
    revision: dict
    description: str | None
    auto_rollback: dict | None
    deployment_style: dict | None
    create_time: float = field(default_factory=time.time)
    creator: str = "user"
    status: str = "Created"
    start_time: float | None = None
    complete_time: float | None = None
    error: dict | None = None
    rollback_info: dict | None = None
    appspec: AppSpec | None = None
    target_status: str = "Pending"
    target_updated: float = field(default_factory=time.time)
    events: dict[str, LifecycleEvent] = field(
        default_factory=lambda: {n: LifecycleEvent(n) for n in (BEFORE, ALLOW, AFTER)}
    )
    hook_reports: dict[str, str | None] = field(default_factory=dict)  # execution id -> reported status
    stop_requested: bool = False
    stop_rollback: bool = False
    changed: threading.Condition = field(default_factory=threading.Condition)

    @property
    def target_id(self) -> str:
        return f"{self.appspec.function}:{self.appspec.alias}" if self.appspec else ""

    def describe(self) -> dict:
        """GetDeployment's deploymentInfo."""
        overview = dict.fromkeys(("Pending", "InProgress", "Succeeded", "Failed", "Skipped", "Ready"), 0)
        overview[self.target_status if self.target_status in overview else "Pending"] = 1
        info = {
            "applicationName": self.application_name,
            "deploymentGroupName": self.deployment_group_name,
            "deploymentConfigName": self.deployment_config_name,
            "deploymentId": self.deployment_id,
            "revision": self.revision,
            "status": self.status,
            "createTime": self.create_time,
            "deploymentOverview": overview,
            "creator": self.creator,
            "ignoreApplicationStopFailures": False,
            "updateOutdatedInstancesOnly": False,
            "instanceTerminationWaitTimeStarted": False,
            "deploymentStatusMessages": [],
            "computePlatform": "Lambda",
        }
        optional = {
            "errorInformation": self.error,
            "startTime": self.start_time,
            "completeTime": self.complete_time,
            "description": self.description,
            "autoRollbackConfiguration": self.auto_rollback,
            "rollbackInfo": self.rollback_info,
            "deploymentStyle": self.deployment_style,
        }
        info.update({k: v for k, v in optional.items() if v})
        return info

    def describe_target(self) -> dict:
        """GetDeploymentTarget's deploymentTarget (the one Lambda target)."""
        spec = self.appspec
        target = {
            "deploymentId": self.deployment_id,
            "targetId": self.target_id,
            "targetArn": f"{self.group_arn.split(':deploymentgroup:')[0]}:function:{self.target_id}".replace(
                ":codedeploy:", ":lambda:"
            ),
            "status": self.target_status,
            "lastUpdatedAt": self.target_updated,
            "lifecycleEvents": [e.describe() for e in self.events.values()],
            "lambdaFunctionInfo": {
                "functionName": spec.function,
                "functionAlias": spec.alias,
                "currentVersion": spec.current_version,
                "targetVersion": spec.target_version,
                "targetVersionWeight": 100.0 if self.status == "Succeeded" else 0.0,
            },
        }
        return {"deploymentTargetType": "LambdaTarget", "lambdaTarget": target}


_ID_ALPHABET = string.ascii_uppercase + string.digits


def _new_id() -> str:
    return "d-" + "".join(secrets.choice(_ID_ALPHABET) for _ in range(9))


def _group_arn(backend, application: str, group: str) -> str:
    return (
        f"arn:aws:codedeploy:{backend.region_name}:{backend.account_id}:deploymentgroup:{application}/{group}"
    )


def _rollback_on(auto_rollback: dict | None, event: str) -> bool:
    return bool(
        auto_rollback and auto_rollback.get("enabled") and event in (auto_rollback.get("events") or [])
    )


# --- the API ----------------------------------------------------------------------------------------------


def is_lambda_application(backend, application_name: str | None) -> bool:
    app = backend.applications.get(application_name or "")
    return app is not None and app.compute_platform == "Lambda"


def create_deployment(backend, params: dict) -> str:
    """CreateDeployment for a Lambda application: checks, records and starts the deployment."""
    application, group_name = params.get("applicationName"), params.get("deploymentGroupName")
    group = backend.get_deployment_group(application, group_name)  # moto's *DoesNotExist errors
    revision = _checked_revision(params.get("revision"))
    config_name = params.get("deploymentConfigName") or str(group.deployment_config_name or "")
    if config_name not in CONFIGS:
        raise CodeDeployError(
            "DeploymentConfigDoesNotExistException", f"Deployment config {config_name} not found."
        )
    if CONFIGS[config_name]["computePlatform"] != "Lambda":
        raise CodeDeployError(
            "InvalidDeploymentConfigNameException",
            f"The deployment config {config_name} is not for the Lambda compute platform.",
        )
    description = params.get("description")
    if description and len(description) > 512:
        raise CodeDeployError("DescriptionTooLongException", "The description is too long.")
    deployment = Deployment(
        deployment_id=_new_id(),
        application_name=application,
        deployment_group_name=group_name,
        deployment_config_name=config_name,
        group_arn=_group_arn(backend, application, group_name),
        role_arn=group.service_role_arn,
        revision=revision,
        description=description,
        auto_rollback=params.get("autoRollbackConfiguration") or group.auto_rollback_configuration or None,
        deployment_style=group.deployment_style or None,
    )
    with _lock:  # one deployment at a time per group
        for other in backend.deployments.values():
            same_group = (other.application_name, other.deployment_group_name) == (application, group_name)
            if same_group and other.status in ACTIVE:
                raise CodeDeployError(
                    "DeploymentLimitExceededException",
                    f"The Deployment Group '{group_name}' already has an active Deployment "
                    f"'{other.deployment_id}'",
                )
        backend.deployments[deployment.deployment_id] = deployment
    thread = threading.Thread(
        target=_run, args=(deployment,), name=f"codedeploy-{deployment.deployment_id}", daemon=True
    )
    thread.start()
    return deployment.deployment_id


_lock = threading.Lock()


def _checked_revision(revision: dict | None) -> dict:
    """The revision as GetDeployment reports it; InvalidRevisionException as CreateDeployment answers."""
    if not revision:
        raise CodeDeployError("RevisionRequiredException", "Revision is required.")
    kind = revision.get("revisionType")
    if kind == "AppSpecContent":
        content = (revision.get("appSpecContent") or {}).get("content")
        if not content:
            raise CodeDeployError("InvalidRevisionException", "AppSpecContent content is required.")
        digest = hashlib.sha256(content.encode()).hexdigest()
        given = (revision.get("appSpecContent") or {}).get("sha256")
        if given and given.lower() != digest:
            raise CodeDeployError(
                "InvalidRevisionException", "The sha256 does not match the AppSpec content."
            )
        return {"revisionType": kind, "appSpecContent": {"content": content, "sha256": digest}}
    if kind == "String":
        content = (revision.get("string") or {}).get("content")
        if not content:
            raise CodeDeployError("InvalidRevisionException", "String content is required.")
        return {"revisionType": kind, "string": dict(revision["string"])}
    if kind == "S3":
        location = revision.get("s3Location") or {}
        if not location.get("bucket") or not location.get("key"):
            raise CodeDeployError("InvalidRevisionException", "S3 bucket and key are required.")
        if location.get("bundleType") not in ("YAML", "JSON"):
            raise CodeDeployError("InvalidRevisionException", "BundleType must be either YAML or JSON")
        return {"revisionType": kind, "s3Location": dict(location)}
    raise CodeDeployError(
        "InvalidRevisionException", f"Revision type {kind} is not supported for the Lambda compute platform."
    )


def find(backend, deployment_id: str | None):
    """The deployment (ours or moto's record of a non-Lambda one); the AWS errors otherwise."""
    if not deployment_id:
        raise CodeDeployError("DeploymentIdRequiredException", "Deployment id is required.")
    found = backend.deployments.get(deployment_id)
    if found is None:
        raise CodeDeployError(
            "DeploymentDoesNotExistException",
            f"The deployment {deployment_id} could not be found.",
        )
    return found


def list_deployments(backend, params: dict) -> list[str]:
    application, group = params.get("applicationName"), params.get("deploymentGroupName")
    if application and not group:
        raise CodeDeployError(
            "DeploymentGroupNameRequiredException",
            "If applicationName is specified, then deploymentGroupName must be specified.",
        )
    if group and not application:
        raise CodeDeployError(
            "ApplicationNameRequiredException",
            "If deploymentGroupName is specified, applicationName must be specified.",
        )
    if application:
        backend.get_deployment_group(application, group)
    statuses = params.get("includeOnlyStatuses") or []
    for status in statuses:
        if status not in STATUSES:
            raise CodeDeployError("InvalidDeploymentStatusException", f"Invalid deployment status: {status}")
    window = params.get("createTimeRange") or {}
    start, end = (_epoch(window.get(k)) for k in ("start", "end"))
    if start is not None and end is not None and start > end:
        raise CodeDeployError(
            "InvalidTimeRangeException", "The start time must be earlier than the end time."
        )

    def wanted(d) -> bool:
        created = _epoch(d.create_time)
        return (
            (not application or (d.application_name, d.deployment_group_name) == (application, group))
            and (not statuses or d.status in statuses)
            and (start is None or created >= start)
            and (end is None or created <= end)
        )

    chosen = [d for d in backend.deployments.values() if wanted(d)]
    chosen.sort(key=lambda d: _epoch(d.create_time), reverse=True)
    return [d.deployment_id for d in chosen]


def _epoch(value: Any) -> float | None:
    if value is None or isinstance(value, int | float):
        return value
    if hasattr(value, "timestamp"):
        return value.timestamp()
    from datetime import datetime

    return datetime.fromisoformat(str(value).replace("Z", "+00:00")).timestamp()


def stop_deployment(deployment: Deployment, auto_rollback_enabled: bool | None) -> dict:
    with deployment.changed:
        if deployment.status not in ACTIVE:
            raise CodeDeployError(
                "DeploymentAlreadyCompletedException",
                f"The deployment {deployment.deployment_id} has already completed.",
            )
        deployment.stop_requested = True
        deployment.stop_rollback = (
            auto_rollback_enabled
            if auto_rollback_enabled is not None
            else _rollback_on(deployment.auto_rollback, "DEPLOYMENT_STOP_ON_REQUEST")
        )
        deployment.changed.notify_all()
    return {"status": "Pending", "statusMessage": "Stop deployment request submitted."}


def put_hook_status(deployment: Deployment, execution_id: str | None, status: str | None) -> dict:
    """PutLifecycleEventHookExecutionStatus: a hook function reports Succeeded or Failed."""
    if status not in ("Succeeded", "Failed"):
        raise CodeDeployError(
            "InvalidLifecycleEventHookExecutionStatusException",
            f"The status {status} is not valid: a hook reports Succeeded or Failed.",
        )
    with deployment.changed:
        if execution_id not in deployment.hook_reports:
            raise CodeDeployError(
                "InvalidLifecycleEventHookExecutionIdException",
                f"The lifecycle event hook execution id {execution_id} is not valid for deployment "
                f"{deployment.deployment_id}.",
            )
        if deployment.hook_reports[execution_id] is not None or deployment.status not in ACTIVE:
            raise CodeDeployError(
                "LifecycleEventAlreadyCompletedException",
                f"The lifecycle event of hook execution {execution_id} has already completed.",
            )
        deployment.hook_reports[execution_id] = status
        deployment.changed.notify_all()
    return {"lifecycleEventHookExecutionId": execution_id}


def target(deployment: Deployment, target_id: str | None) -> dict:
    if deployment.appspec is None:
        raise CodeDeployError(
            "DeploymentNotStartedException", f"The deployment {deployment.deployment_id} has not started."
        )
    if not target_id:
        raise CodeDeployError("DeploymentTargetIdRequiredException", "A deployment target id is required.")
    if target_id != deployment.target_id:
        raise CodeDeployError(
            "DeploymentTargetDoesNotExistException", f"The deployment target {target_id} does not exist."
        )
    return deployment.describe_target()


def target_ids(deployment: Deployment, filters: dict | None) -> list[str]:
    if deployment.appspec is None:
        raise CodeDeployError(
            "DeploymentNotStartedException", f"The deployment {deployment.deployment_id} has not started."
        )
    wanted = (filters or {}).get("TargetStatus")
    return [deployment.target_id] if not wanted or deployment.target_status in wanted else []


# --- the execution ----------------------------------------------------------------------------------------


def hook_timeout_s() -> float:
    raw = os.environ.get(HOOK_TIMEOUT_ENV)
    try:
        return float(raw) if raw else HOOK_TIMEOUT_S
    except ValueError:
        return HOOK_TIMEOUT_S


class _Run:
    """One deployment's execution, as the service role."""

    def __init__(self, deployment: Deployment):
        self.d = deployment
        self.clients: dict[str, Any] = {}
        self.moved = False

    def client(self, service: str):
        if service not in self.clients:
            import boto3
            from botocore.config import Config

            from localcloud import procs

            credentials = self.credentials
            self.clients[service] = boto3.client(
                service,
                endpoint_url=procs.endpoint(),
                region_name=config.REGION,
                aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
                aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
                aws_session_token=credentials["AWS_SESSION_TOKEN"],
                config=Config(retries={"max_attempts": 2}, read_timeout=60),
            )
        return self.clients[service]

    def execute(self) -> None:
        d = self.d
        with d.changed:
            d.status, d.start_time = "InProgress", time.time()
        try:
            self.credentials = runtime.role_credentials(
                d.role_arn, d.deployment_id, CODEDEPLOY, source_arn=d.group_arn
            )
        except runtime.RoleNotAssumable as exc:
            raise Failure(
                "IAM_ROLE_PERMISSIONS",
                f"CodeDeploy does not have the permissions required to assume the role {d.role_arn}. ({exc})",
            ) from exc
        spec = parse_appspec(self.revision_content())
        with d.changed:
            d.appspec = spec
            self._target("InProgress")
        routing = CONFIGS[d.deployment_config_name]["trafficRoutingConfig"]
        if routing["type"] != "AllAtOnce":
            raise Failure(
                "INVALID_LAMBDA_CONFIGURATION",
                f"{d.deployment_config_name} ({routing['type']}) is not executed locally: only "
                "CodeDeployDefault.LambdaAllAtOnce shifts traffic in the local cloud.",
            )
        alias = self.lambda_call("GetAlias", FunctionName=spec.function, Name=spec.alias)
        if alias["FunctionVersion"] != spec.current_version:
            raise Failure(
                "INVALID_LAMBDA_CONFIGURATION",
                f"{INVALID_APPSPEC} The Lambda function alias version does not match the current version in "
                f"AppSpec file. (alias {spec.alias} of {spec.function} points to version "
                f"{alias['FunctionVersion']}, CurrentVersion is {spec.current_version})",
            )
        self.hook(BEFORE)
        self.allow_traffic()
        self.hook(AFTER)
        self.finish("Succeeded")

    def revision_content(self) -> str:
        revision = self.d.revision
        if revision["revisionType"] == "AppSpecContent":
            return revision["appSpecContent"]["content"]
        if revision["revisionType"] == "String":
            return revision["string"]["content"]
        location = revision["s3Location"]
        extra = {"VersionId": location["version"]} if location.get("version") else {}
        try:
            found = self.client("s3").get_object(Bucket=location["bucket"], Key=location["key"], **extra)
            return found["Body"].read().decode("utf-8")
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") in ("AccessDenied", "403"):
                raise Failure(
                    "IAM_ROLE_PERMISSIONS", _denied_message(self.d.role_arn, "AmazonS3", exc)
                ) from exc
            raise Failure(
                "REVISION_MISSING",
                f"The revision s3://{location['bucket']}/{location['key']} cannot be read: "
                f"{error.get('Code')}: {error.get('Message')}",
            ) from exc
        except UnicodeDecodeError as exc:
            raise Failure("INVALID_REVISION", "The AppSpec file is not UTF-8 text.") from exc

    def lambda_call(self, operation: str, **params) -> dict:
        method = getattr(self.client("lambda"), _snake(operation))
        try:
            return method(**params)
        except ClientError as exc:
            error = exc.response.get("Error", {})
            if error.get("Code") in ("AccessDeniedException", "AccessDenied"):
                raise Failure(
                    "IAM_ROLE_PERMISSIONS", _denied_message(self.d.role_arn, "AWSLambda", exc)
                ) from exc
            code = (
                "INVALID_LAMBDA_FUNCTION"
                if error.get("Code") == "ResourceNotFoundException"
                else "INTERNAL_ERROR"
            )
            raise Failure(
                code, f"Lambda {operation} failed: {error.get('Code')}: {error.get('Message')}"
            ) from exc
        except BotoCoreError as exc:
            raise Failure("INTERNAL_ERROR", f"Lambda {operation} failed: {exc}") from exc

    def allow_traffic(self) -> None:
        d, spec = self.d, self.d.appspec
        self.check_stop()
        self._event(ALLOW, "InProgress")
        try:
            self.lambda_call(
                "UpdateAlias",
                FunctionName=spec.function,
                Name=spec.alias,
                FunctionVersion=spec.target_version,
                RoutingConfig={"AdditionalVersionWeights": {}},
            )
        except Failure:
            self._event(ALLOW, "Failed")
            raise
        self.moved = True
        self._event(ALLOW, "Succeeded")
        log.info(
            "deployment %s moved %s:%s to %s", d.deployment_id, spec.function, spec.alias, spec.target_version
        )

    def hook(self, event: str) -> None:
        d = self.d
        function = d.appspec.hooks.get(event)
        self.check_stop()
        if not function:
            self._event(event, "Skipped")
            return
        execution_id = secrets.token_urlsafe(48)
        with d.changed:
            d.hook_reports[execution_id] = None
        self._event(event, "InProgress")
        payload = {"DeploymentId": d.deployment_id, "LifecycleEventHookExecutionId": execution_id}
        try:
            self.lambda_call(
                "Invoke", FunctionName=function, InvocationType="Event", Payload=json.dumps(payload).encode()
            )
        except Failure:
            self._event(
                event, "Failed", "UnknownError", f"The hook function {function} could not be invoked."
            )
            raise
        deadline = time.monotonic() + hook_timeout_s()
        with d.changed:
            while d.hook_reports[execution_id] is None and not d.stop_requested:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                d.changed.wait(timeout=min(left, 5.0))
            reported = d.hook_reports[execution_id]
            if reported is None:
                d.hook_reports[execution_id] = "Failed"  # a late report is refused as already completed
        if reported == "Succeeded":
            self._event(event, "Succeeded")
            return
        self.check_stop()
        if reported is None:
            why = (
                f"The {event} hook function {function} did not report a status within {hook_timeout_s():g} s."
            )
        else:
            why = f"The {event} hook function {function} reported Failed."
        self._event(event, "Failed", "ScriptFailed" if reported else "ScriptTimedOut", why)
        raise Failure(
            "HOOK_EXECUTION_FAILURE", f"The deployment failed because a lifecycle event hook failed. {why}"
        )

    def check_stop(self) -> None:
        if self.d.stop_requested:
            raise Stopped()

    def restore(self) -> str | None:
        """Put the alias back on CurrentVersion after traffic moved; a message when that failed."""
        if not self.moved:
            return None
        spec = self.d.appspec
        try:
            self.lambda_call(
                "UpdateAlias",
                FunctionName=spec.function,
                Name=spec.alias,
                FunctionVersion=spec.current_version,
            )
            self.moved = False
            return None
        except Failure as exc:
            log.warning(
                "deployment %s could not restore %s: %s", self.d.deployment_id, spec.alias, exc.message
            )
            return exc.message

    def finish(self, status: str, error: dict | None = None, rollback: dict | None = None) -> None:
        d = self.d
        with d.changed:
            for event in d.events.values():
                if event.status in ("Pending", "InProgress") and status != "Succeeded":
                    event.status = "Skipped" if event.status == "Pending" else "Failed"
            d.status, d.complete_time, d.error, d.rollback_info = status, time.time(), error, rollback
            self._target({"Succeeded": "Succeeded", "Failed": "Failed", "Stopped": "Failed"}[status])
            d.changed.notify_all()
        log.info("deployment %s %s%s", d.deployment_id, status, f": {error['message']}" if error else "")

    def _event(
        self, name: str, status: str, error_code: str | None = None, message: str | None = None
    ) -> None:
        d = self.d
        with d.changed:
            event = d.events[name]
            now = time.time()
            if status == "InProgress" or event.start_time is None:
                event.start_time = now
            if status in ("Succeeded", "Failed", "Skipped"):
                event.end_time = now
            event.status = status
            if error_code:
                event.diagnostics = {
                    "errorCode": error_code,
                    "message": message or "",
                    "scriptName": "",
                    "logTail": "",
                }
            d.target_updated = now

    def _target(self, status: str) -> None:
        self.d.target_status, self.d.target_updated = status, time.time()


def _snake(operation: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in operation).lstrip("_")


def _denied_message(role_arn: str, service: str, exc: ClientError) -> str:
    """AWS's message for a service role missing a permission, then the local denial naming the action."""
    return (
        f"The IAM role {role_arn} does not give you permission to perform operations in the following AWS "
        f"service: {service}. Contact your AWS administrator if you need help. If you are an AWS "
        "administrator, you can grant permissions to your users or groups by creating IAM policies. "
        f"({exc.response.get('Error', {}).get('Message', '')})"
    )


def _run(deployment: Deployment) -> None:
    """The deployment thread: every outcome, an unexpected exception included, ends in a final status."""
    run = _Run(deployment)
    try:
        run.execute()
        return
    except Stopped:
        restore_error = run.restore()
        message = "The deployment was stopped by the user."
        if restore_error:
            message += f" Restoring the alias failed: {restore_error}"
        rollback = (
            {"rollbackMessage": "Traffic restored to CurrentVersion."} if deployment.stop_rollback else None
        )
        run.finish("Stopped", {"code": "MANUAL_STOP", "message": message}, rollback)
        return
    except Failure as exc:
        failure = exc
    except Exception as exc:  # the server counts uncaught thread exceptions: end Failed instead
        log.exception("deployment %s", deployment.deployment_id)
        failure = Failure("INTERNAL_ERROR", f"{type(exc).__name__}: {exc}")
    try:
        restore_error = run.restore()
        message = failure.message
        if restore_error:
            message += f" Restoring the alias failed: {restore_error}"
        rollback = None
        if _rollback_on(deployment.auto_rollback, "DEPLOYMENT_FAILURE"):
            rollback = {
                "rollbackMessage": "Automatic rollback: the alias was restored to CurrentVersion in place."
            }
        run.finish("Failed", {"code": failure.code, "message": message}, rollback)
    except Exception as exc:
        log.exception("deployment %s: ending it", deployment.deployment_id)
        with deployment.changed:
            deployment.status, deployment.complete_time = "Failed", time.time()
            deployment.error = {"code": "INTERNAL_ERROR", "message": f"{type(exc).__name__}: {exc}"}
