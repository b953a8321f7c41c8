"""CodeBuild's API: UpdateProject (the Terraform provider calls it after CreateProject), and builds that
really run (localcloud/pipeline/codebuild.py): StartBuild, BatchGetBuilds, ListBuilds, ListBuildsForProject,
StopBuild, and the reports of their buildspecs (BatchGetReports, DescribeTestCases, ListReportsForReportGroup,
BatchGetReportGroups)."""

from __future__ import annotations

import json

from moto.codebuild.exceptions import InvalidInputException, ResourceNotFoundException
from moto.codebuild.responses import CodeBuildResponse
from moto.core.responses import ActionResult
from moto.core.utils import unix_time


def update_project(self) -> ActionResult:
    name = self._get_param("name")
    project = self.codebuild_backend.codebuild_projects.get(name)
    if project is None:
        raise ResourceNotFoundException(f"Project cannot be found: {name}")
    metadata = project.project_metadata
    for key, value in json.loads(self.body or "{}").items():
        if key == "name":
            continue
        if key == "badgeEnabled":
            metadata["badge"] = {"badgeEnabled": value}
        else:
            metadata[key] = value  # request members are named like the Project shape's
    if "tags" in metadata:
        project.tags = metadata["tags"]
    metadata["lastModifiedDate"] = unix_time()
    return ActionResult({"project": metadata})


_SOURCE_OVERRIDES = ("S3", "NO_SOURCE")


def _codebuild():
    from localcloud.pipeline import codebuild

    return codebuild


def _project(self, name: str) -> dict:
    codebuild = _codebuild()
    try:
        return codebuild.project_metadata(name, self.current_account, self.region)
    except codebuild.NotFound as err:
        raise ResourceNotFoundException(str(err)) from None


def start_build(self) -> ActionResult:
    """StartBuild of a project with its own source (NO_SOURCE, or S3 with location / sourceLocationOverride).
    A CODEPIPELINE project's builds are started by its pipeline (its input artifact exists only there)."""
    name = self._get_param("projectName")
    if not name:
        raise InvalidInputException(
            "1 validation error detected: Value null at 'projectName' failed to satisfy "
            "constraint: Member must not be null"
        )
    project = _project(self, name)
    source_type = self._get_param("sourceTypeOverride") or (project.get("source") or {}).get("type")
    if source_type not in _SOURCE_OVERRIDES:
        raise InvalidInputException(
            f"Source type {source_type} of project {project['arn']} cannot be started with StartBuild here: "
            f"CODEPIPELINE projects run from their pipeline (sourceTypeOverride S3 or NO_SOURCE to run one)"
        )
    source = None
    if source_type == "S3":
        location = self._get_param("sourceLocationOverride") or (project.get("source") or {}).get("location")
        bucket, _, key = (location or "").removeprefix("arn:aws:s3:::").partition("/")
        if not bucket or not key:
            raise InvalidInputException(f"Invalid S3 source location: {location} (expected <bucket>/<key>)")
        source = (bucket, key)
    elif not (self._get_param("buildspecOverride") or (project.get("source") or {}).get("buildspec")):
        raise InvalidInputException("Invalid buildspec: a NO_SOURCE build needs an inline buildspec")
    timeout = self._get_param("timeoutInMinutesOverride")
    if timeout is not None and not 5 <= int(timeout) <= 2160:
        raise InvalidInputException(f"Invalid timeoutInMinutesOverride {timeout}: must be from 5 to 2160")
    build_id = _codebuild().start_build(
        project["name"],
        source=source,
        initiator=self._initiator(),
        source_version=self._get_param("sourceVersion"),
        environment_overrides=self._get_param("environmentVariablesOverride") or [],
        buildspec_override=self._get_param("buildspecOverride"),
        timeout_minutes=int(timeout) if timeout else None,
        source_type=source_type,
        account_id=self.current_account,
        region=self.region,
    )
    return ActionResult({"build": _codebuild().get_build(build_id)})


def _initiator(self) -> str:
    """Who started the build, as AWS reports it: a user's name, an assumed role's <role>/<session>."""
    from localcloud.iam import principals

    identity = principals.caller(self.headers)
    arn = identity.principal.arn if identity is not None else ""
    if ":assumed-role/" in arn:
        return arn.split(":assumed-role/", 1)[1]
    return arn.rsplit("/", 1)[-1].rsplit(":", 1)[-1] or "root"


def batch_get_builds(self) -> ActionResult:
    ids = self._get_param("ids") or []
    codebuild = _codebuild()
    builds, missing = [], []
    for build_id in ids:
        if ":" not in build_id:
            raise InvalidInputException("Invalid build ID provided")
        try:
            builds.append(codebuild.get_build(build_id))
        except codebuild.NotFound:
            missing.append(build_id)
    return ActionResult({"builds": builds, "buildsNotFound": missing})


def list_builds(self) -> ActionResult:
    order = self._get_param("sortOrder") or "DESCENDING"
    ids = _codebuild().list_builds(
        account_id=self.current_account, region=self.region, descending=order == "DESCENDING"
    )
    return ActionResult({"ids": ids})


def list_builds_for_project(self) -> ActionResult:
    project = _project(self, self._get_param("projectName") or "")
    order = self._get_param("sortOrder") or "DESCENDING"
    ids = _codebuild().list_builds(
        project["name"], account_id=self.current_account, region=self.region, descending=order == "DESCENDING"
    )
    return ActionResult({"ids": ids})


def stop_build(self) -> ActionResult:
    codebuild = _codebuild()
    build_id = self._get_param("id") or ""
    try:
        return ActionResult({"build": codebuild.stop_build(build_id)})
    except codebuild.NotFound as err:
        raise ResourceNotFoundException(str(err)) from None


def batch_get_reports(self) -> ActionResult:
    found, missing = _codebuild().batch_get_reports(self._get_param("reportArns") or [])
    return ActionResult({"reports": found, "reportsNotFound": missing})


def batch_get_report_groups(self) -> ActionResult:
    found, missing = _codebuild().batch_get_report_groups(self._get_param("reportGroupArns") or [])
    return ActionResult({"reportGroups": found, "reportGroupsNotFound": missing})


def describe_test_cases(self) -> ActionResult:
    codebuild = _codebuild()
    status = (self._get_param("filter") or {}).get("status")
    try:
        cases = codebuild.describe_test_cases(self._get_param("reportArn") or "", status)
    except codebuild.NotFound as err:
        raise ResourceNotFoundException(str(err)) from None
    return ActionResult({"testCases": cases})


def list_reports_for_report_group(self) -> ActionResult:
    codebuild = _codebuild()
    try:
        arns = codebuild.list_reports_for_report_group(self._get_param("reportGroupArn") or "")
    except codebuild.NotFound as err:
        raise ResourceNotFoundException(str(err)) from None
    return ActionResult({"reports": arns})


def apply() -> None:
    CodeBuildResponse.update_project = update_project
    CodeBuildResponse._initiator = _initiator
    CodeBuildResponse.start_build = start_build
    CodeBuildResponse.batch_get_builds = batch_get_builds
    CodeBuildResponse.list_builds = list_builds
    CodeBuildResponse.list_builds_for_project = list_builds_for_project
    CodeBuildResponse.stop_build = stop_build
    CodeBuildResponse.batch_get_reports = batch_get_reports
    CodeBuildResponse.batch_get_report_groups = batch_get_report_groups
    CodeBuildResponse.describe_test_cases = describe_test_cases
    CodeBuildResponse.list_reports_for_report_group = list_reports_for_report_group
