"""What CodePipeline does for one action, as the pipeline's role: the CodeCommit source action and the
CodeBuild build/test action (localcloud/pipeline/codepipeline.py runs the stages and keeps the states).

The role's permissions are checked as AWS checks them: the calls CodePipeline makes to CodeCommit and
CodeBuild in process with authorizer.role_allows (a denial fails the action with AWS's message), the
artifact upload through boto3 with the role's session against this cloud (so the bucket policy, s3:PutObject
and the key's kms:GenerateDataKey are decided by the IAM layer). Any other provider fails the action: the
local cloud does not execute it.
"""

from __future__ import annotations

import json
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from localcloud import procs
from localcloud.iam.model import Call

ARTIFACT_SUFFIX = string.ascii_letters + string.digits
# What the CodeCommit source action calls on the repository (the CodePipeline guide's service role policy).
SOURCE_CALLS = (
    "codecommit:GetBranch",
    "codecommit:GetCommit",
    "codecommit:UploadArchive",
    "codecommit:GetUploadArchiveStatus",
)
BUILD_CALLS = ("codebuild:StartBuild", "codebuild:BatchGetBuilds")
BUILD_TIMEOUT_S = 8 * 3600  # CodeBuild's longest build timeout; the project's own timeout ends it sooner


class ActionFailed(Exception):
    """The action ends Failed with these errorDetails (code as AWS reports it, message naming the cause)."""

    def __init__(self, message: str, code: str = "JobFailed"):
        self.code = code
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Artifact:
    """An artifact of one execution: where its zip is, and the source revision it carries."""

    name: str
    bucket: str
    key: str
    revision_id: str | None = None
    revision_summary: str | None = None
    created: float | None = None

    def detail(self) -> dict:
        return {"name": self.name, "s3location": {"bucket": self.bucket, "key": self.key}}


@dataclass
class ActionContext:
    pipeline: str
    pipeline_arn: str
    execution_id: str
    role_arn: str
    region: str
    account_id: str
    store_bucket: str
    store_key_id: str | None  # the artifact store's encryptionKey id (SSE-KMS); None: the bucket's default
    configuration: dict[str, str]  # resolved (#{...} variables replaced)
    inputs: list[Artifact]
    output_names: list[str]
    credentials: Callable[[], dict[str, str]]  # the role's session for this execution (trust checked)
    report: Callable[[str, str | None], None]  # (externalExecutionId, externalExecutionUrl) while running


@dataclass
class Outcome:
    outputs: list[Artifact] = field(default_factory=list)
    external_id: str | None = None
    external_summary: str | None = None
    external_url: str | None = None
    output_variables: dict[str, str] = field(default_factory=dict)
    revision: Artifact | None = None  # a source action's revision (currentRevision, sourceRevisions)


def artifact_key(pipeline: str, artifact: str) -> str:
    """Where CodePipeline stores an artifact: <pipeline name[:20]>/<artifact name[:20]>/<7 random>."""
    suffix = "".join(secrets.choice(ARTIFACT_SUFFIX) for _ in range(7))
    return f"{pipeline[:20]}/{artifact[:20]}/{suffix}"


def run(ctx: ActionContext, type_id: dict) -> Outcome:
    category, owner, provider = type_id.get("category"), type_id.get("owner"), type_id.get("provider")
    if (category, owner, provider) == ("Source", "AWS", "CodeCommit"):
        return codecommit_source(ctx)
    if category in ("Build", "Test") and (owner, provider) == ("AWS", "CodeBuild"):
        return codebuild_build(ctx)
    raise ActionFailed(f"provider {provider} ({category}, {owner}) is not executed by the local cloud")


# --- IAM ------------------------------------------------------------------------------------------------


def session_arn(ctx: ActionContext) -> str:
    from localcloud import runtime

    role_name = ctx.role_arn.rsplit("/", 1)[-1]
    return f"arn:aws:sts::{ctx.account_id}:assumed-role/{role_name}/{runtime.session_name(ctx.execution_id)}"


def denial(ctx: ActionContext, calls: list[Call]) -> str | None:
    """AWS's message for the first call the role may not make, or None when it may make them all."""
    from localcloud import runtime
    from localcloud.iam import authorizer

    denied = authorizer.role_allows(ctx.role_arn, calls, session=runtime.session_name(ctx.execution_id))
    if denied is None:
        return None
    call, decision = denied
    return (
        f"User: {session_arn(ctx)} is not authorized to perform: {call.action} on resource: {call.resource} "
        f"{decision.reason}"
    ).rstrip()


# --- CodeCommit source ----------------------------------------------------------------------------------


def codecommit_source(ctx: ActionContext) -> Outcome:
    from localcloud.codecommit import repos

    repository = ctx.configuration.get("RepositoryName", "")
    branch = ctx.configuration.get("BranchName", "")
    if not ctx.output_names:
        raise ActionFailed("the CodeCommit source action declares no output artifact", "ConfigurationError")
    repository_arn = f"arn:aws:codecommit:{ctx.region}:{ctx.account_id}:{repository}"
    refused = denial(ctx, [Call(action, repository_arn) for action in SOURCE_CALLS])
    if refused:
        raise ActionFailed(
            "The service role or action role doesn't have the permissions required to access the AWS "
            f"CodeCommit repository named {repository}. Update the IAM role permissions, and then try "
            f"again. Error: {refused}",
            "PermissionError",
        )
    try:
        revision = repos.source_revision(repository, branch)
    except repos.NotFound as err:
        raise ActionFailed(str(err), "ConfigurationError") from err
    ctx.report(revision.commit_id, commit_url(ctx.region, repository, revision.commit_id))
    name = ctx.output_names[0]
    key = artifact_key(ctx.pipeline, name)
    put_artifact(ctx, key, revision.zip_bytes)
    created = time.time()
    artifact = Artifact(name, ctx.store_bucket, key, revision.commit_id, revision.message, created)
    variables = {
        "BranchName": branch,
        "CommitId": revision.commit_id,
        "CommitMessage": revision.message,
        "RepositoryName": repository,
    }
    # A's SourceRevision may carry the commit's dates (AWS: AuthorDate, CommitterDate, ISO 8601).
    for attribute, variable in (("author_date", "AuthorDate"), ("committer_date", "CommitterDate")):
        value = getattr(revision, attribute, None)
        if value:
            variables[variable] = str(value)
    return Outcome(
        outputs=[artifact],
        external_id=revision.commit_id,
        external_summary=revision.message,
        external_url=commit_url(ctx.region, repository, revision.commit_id),
        output_variables=variables,
        revision=artifact,
    )


def put_artifact(ctx: ActionContext, key: str, body: bytes) -> None:
    """Upload an artifact zip to the store as the pipeline's role, SSE-KMS under the store's key."""
    import boto3
    from botocore.exceptions import BotoCoreError, ClientError

    credentials = ctx.credentials()
    s3 = boto3.client(
        "s3",
        endpoint_url=procs.endpoint(),
        region_name=ctx.region,
        aws_access_key_id=credentials["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=credentials["AWS_SECRET_ACCESS_KEY"],
        aws_session_token=credentials["AWS_SESSION_TOKEN"],
    )
    encryption = (
        {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": ctx.store_key_id} if ctx.store_key_id else {}
    )
    try:
        s3.put_object(Bucket=ctx.store_bucket, Key=key, Body=body, **encryption)
    except ClientError as err:
        error = err.response.get("Error", {})
        code = "PermissionError" if error.get("Code") == "AccessDenied" else "JobFailed"
        raise ActionFailed(
            f"Could not upload the artifact to s3://{ctx.store_bucket}/{key}: "
            f"{error.get('Code')}: {error.get('Message')}",
            code,
        ) from err
    except BotoCoreError as err:
        raise ActionFailed(f"Could not upload the artifact to s3://{ctx.store_bucket}/{key}: {err}") from err


def commit_url(region: str, repository: str, commit_id: str) -> str:
    return (
        f"https://{region}.console.aws.amazon.com/codesuite/codecommit/repositories/{repository}"
        f"/commit/{commit_id}?region={region}"
    )


# --- CodeBuild ------------------------------------------------------------------------------------------


def codebuild_build(ctx: ActionContext) -> Outcome:
    from localcloud.pipeline import codebuild

    project = ctx.configuration.get("ProjectName", "")
    project_arn = f"arn:aws:codebuild:{ctx.region}:{ctx.account_id}:project/{project}"
    refused = denial(ctx, [Call(action, project_arn) for action in BUILD_CALLS])
    if refused:
        action = "startBuild" if "codebuild:StartBuild" in refused else "batchGetBuilds"
        raise ActionFailed(
            f"Error calling {action}: {refused} (Service: AWSCodeBuild; Status Code: 400; "
            "Error Code: AccessDeniedException)",
            "PermissionError",
        )
    primary = primary_input(ctx)
    outputs = {name: (ctx.store_bucket, artifact_key(ctx.pipeline, name)) for name in ctx.output_names}
    overrides = environment_overrides(ctx.configuration.get("EnvironmentVariables"))
    try:
        build_id = codebuild.start_build(
            project,
            source=(primary.bucket, primary.key) if primary else None,
            initiator=f"codepipeline/{ctx.pipeline}",
            source_version=primary.revision_id if primary else None,
            output_artifacts=outputs or None,
            environment_overrides=overrides,
            account_id=ctx.account_id,
            region=ctx.region,
        )
    except (codebuild.NotFound, codebuild.InvalidInput) as err:
        raise ActionFailed(f"Error calling startBuild: {err}", "ConfigurationError") from err
    url = build_url(ctx.region, ctx.account_id, build_id)
    ctx.report(build_id, url)
    build = codebuild.wait_build(build_id, BUILD_TIMEOUT_S)
    status = build.get("buildStatus")
    if status != "SUCCEEDED":
        raise ActionFailed(build_failure(build))
    revision = primary.revision_id if primary else None
    summary = primary.revision_summary if primary else None
    return Outcome(
        outputs=[Artifact(name, bucket, key, revision, summary) for name, (bucket, key) in outputs.items()],
        external_id=build_id,
        external_url=url,
        output_variables={
            v["name"]: v.get("value", "") for v in build.get("exportedEnvironmentVariables") or []
        },
    )


def primary_input(ctx: ActionContext) -> Artifact | None:
    """The input artifact CodeBuild gets as its source: PrimarySource when several are declared."""
    wanted = ctx.configuration.get("PrimarySource")
    for artifact in ctx.inputs:
        if artifact.name == wanted:
            return artifact
    return ctx.inputs[0] if ctx.inputs else None


def environment_overrides(value: str | None) -> list[dict] | None:
    """The action's EnvironmentVariables configuration: a JSON list of {name, value, type}."""
    if not value:
        return None
    try:
        variables = json.loads(value)
    except ValueError as err:
        raise ActionFailed(f"EnvironmentVariables is not valid JSON: {err}", "ConfigurationError") from err
    if not isinstance(variables, list):
        raise ActionFailed("EnvironmentVariables must be a JSON list of variables", "ConfigurationError")
    return [{"type": "PLAINTEXT", **v} for v in variables]


def build_failure(build: dict) -> str:
    """How CodePipeline reports a failed build: its state and the phase that failed, with that phase's
    context."""
    status = build.get("buildStatus")
    for phase in build.get("phases") or []:
        if phase.get("phaseStatus") in (None, "SUCCEEDED"):
            continue
        context = (phase.get("contexts") or [{}])[0]
        return (
            f"Build terminated with state: {status}. Phase: {phase.get('phaseType')}, "
            f"Code: {context.get('statusCode')}, Message: {context.get('message')}"
        )
    return f"Build terminated with state: {status}. Build: {build.get('id')}"


def build_url(region: str, account_id: str, build_id: str) -> str:
    project = build_id.split(":")[0]
    return (
        f"https://{region}.console.aws.amazon.com/codesuite/codebuild/{account_id}/projects/{project}"
        f"/build/{build_id}/?region={region}"
    )


def entity_url(declaration: dict, region: str, account_id: str) -> str | None:
    """GetPipelineState's entityUrl: the console page of what the action works on (AWS's console)."""
    provider = (declaration.get("actionTypeId") or {}).get("provider")
    configuration = declaration.get("configuration") or {}
    console = f"https://{region}.console.aws.amazon.com/codesuite"
    if provider == "CodeCommit":
        repository, branch = configuration.get("RepositoryName"), configuration.get("BranchName")
        return f"{console}/codecommit/repositories/{repository}/browse/refs/heads/{branch}?region={region}"
    if provider == "CodeBuild":
        return f"{console}/codebuild/{account_id}/projects/{configuration.get('ProjectName')}?region={region}"
    return None
