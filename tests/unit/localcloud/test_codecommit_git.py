"""CodeCommit holds git: pushes and clones over smart HTTP with the cloud's credentials, API answers that
read git, push events on EventBridge, the source zip CodePipeline takes, EventBridge -> CodePipeline."""

from __future__ import annotations

import base64
import contextlib
import http.client
import io
import json
import os
import stat
import subprocess
import sys
import types
import zipfile
from pathlib import Path

import boto3
import pytest
from moto import mock_aws
from moto.codecommit.responses import CodeCommitResponse
from moto.events.models import Rule

from localcloud import config, lifecycle
from tests.unit.localcloud.conftest import allow, trust, unique, wait_for

HELPER = '!f() { test "$1" = get && echo "username=$LC_GIT_USER" && echo "password=$LC_GIT_PASSWORD"; }; f'


def git(*args: str, cwd: Path, user: str | None = None, password: str | None = None, check: bool = True):
    """The real git binary, isolated from the machine's configuration; credentials through a helper that
    reads them from the environment (a secret may hold '/' or '+', and stays off the command line)."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(cwd),
        "GIT_CONFIG_NOSYSTEM": "1",
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Ada Lovelace",
        "GIT_AUTHOR_EMAIL": "ada@example.com",
        "GIT_COMMITTER_NAME": "Ada Lovelace",
        "GIT_COMMITTER_EMAIL": "ada@example.com",
    }
    options = ["-c", "credential.helper=", "-c", "init.defaultBranch=main"]
    if user is not None:
        env.update(LC_GIT_USER=user, LC_GIT_PASSWORD=password or "")
        options += ["-c", f"credential.helper={HELPER}"]
    done = subprocess.run(
        ["git", *options, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=60
    )
    if check and done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed ({done.returncode}): {done.stderr}")
    return done


def commit_all(work: Path, message: str) -> str:
    git("add", "-A", cwd=work)
    git("commit", "-q", "-m", message, cwd=work)
    return git("rev-parse", "HEAD", cwd=work).stdout.strip()


def first_commit(work: Path) -> str:
    work.mkdir()
    git("init", "-q", cwd=work)
    (work / "README.md").write_text("hello\n")
    (work / "gone.txt").write_text("to be deleted\n")
    script = work / "scripts" / "run.sh"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\necho run\n")
    script.chmod(0o755)
    return commit_all(work, "first")


def second_commit(work: Path) -> str:
    (work / "README.md").write_text("hello again\n")
    (work / "gone.txt").unlink()
    (work / "new.txt").write_text("new\n")
    (work / "blob.bin").write_bytes(os.urandom(3 * 1024 * 1024))  # > git's http.postBuffer: a chunked push
    return commit_all(work, "second")


@pytest.fixture(scope="module", autouse=True)
def no_server_errors(request):
    """The cloud counted no unexpected error and logged no traceback while this module's tests ran."""
    if not any(
        "cloud" in item.fixturenames for item in request.session.items if item.module is request.module
    ):
        yield
        return
    cloud = request.getfixturevalue("cloud")
    mark = lifecycle.error_mark(cloud.port, cloud.state_dir)
    yield
    assert lifecycle.new_errors(mark, cloud.port, cloud.state_dir) == []


@pytest.fixture(scope="module")
def repo(cloud):
    name = unique("repo")
    created = cloud.client("codecommit").create_repository(repositoryName=name)["repositoryMetadata"]
    return created


def test_clone_url_is_this_cloud(cloud, repo):
    assert repo["cloneUrlHttp"] == f"{cloud.endpoint}/v1/repos/{repo['repositoryName']}"
    assert cloud.client("codecommit").list_branches(repositoryName=repo["repositoryName"])["branches"] == []


def test_git_refuses_missing_or_wrong_credentials(cloud, repo, tmp_path):
    work = tmp_path / "work"
    first_commit(work)
    url = repo["cloneUrlHttp"]
    anonymous = git("push", url, "main", cwd=work, check=False)
    assert anonymous.returncode != 0
    keys = cloud.credentials
    wrong = git(
        "push",
        url,
        "main",
        cwd=work,
        user=keys.access_key_id,
        password="not-" + keys.secret_access_key,
        check=False,
    )
    assert wrong.returncode != 0 and "Authentication failed" in wrong.stderr
    path = f"/v1/repos/{repo['repositoryName']}/info/refs?service=git-receive-pack"
    for secret in (None, "nope"):
        status, headers, _ = _get(cloud, path, keys.access_key_id, secret)
        assert status == 401 and headers["WWW-Authenticate"].startswith("Basic realm=")
    status, _, body = _get(
        cloud, "/v1/repos/no-such-repo/info/refs", keys.access_key_id, keys.secret_access_key
    )
    assert status == 404 and b"no-such-repo" in body
    assert cloud.client("codecommit").list_branches(repositoryName=repo["repositoryName"])["branches"] == []


def _get(cloud, path: str, user: str, password: str | None) -> tuple[int, dict, bytes]:
    """One GET as git sends it: basic auth when a password is given."""
    headers = {"Host": f"{config.HOST}:{cloud.port}"}
    if password is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
    connection = http.client.HTTPConnection(config.HOST, cloud.port, timeout=30)
    try:
        connection.request("GET", path, headers=headers)
        answer = connection.getresponse()
        return answer.status, dict(answer.getheaders()), answer.read()
    finally:
        connection.close()


def _events_queue(cloud, repository_arn: str) -> str:
    sqs, events = cloud.client("sqs"), cloud.client("events")
    url = sqs.create_queue(QueueName=unique("push-events"))["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    rule = unique("push-rule")
    pattern = {"source": ["aws.codecommit"], "resources": [repository_arn]}
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps(pattern))["RuleArn"]
    events.put_targets(Rule=rule, Targets=[{"Id": "q", "Arn": queue_arn}])
    statement = {
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": "sqs:SendMessage",
        "Resource": queue_arn,
        "Condition": {"ArnEquals": {"aws:SourceArn": rule_arn}},
    }
    policy = {"Version": "2012-10-17", "Statement": [statement]}
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"Policy": json.dumps(policy)})
    return url


def _received(cloud, url: str, count: int) -> list[dict]:
    sqs, found = cloud.client("sqs"), []

    def more():
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return len(found) >= count

    wait_for(more, timeout=20)
    return found


def test_push_clone_and_what_codecommit_answers(cloud, repo, tmp_path):
    codecommit, name, keys = cloud.client("codecommit"), repo["repositoryName"], cloud.credentials
    queue = _events_queue(cloud, repo["Arn"])
    work = tmp_path / "work"
    first = first_commit(work)
    auth = {"user": keys.access_key_id, "password": keys.secret_access_key}
    git("push", "-q", repo["cloneUrlHttp"], "main", cwd=work, **auth)

    assert codecommit.list_branches(repositoryName=name)["branches"] == ["main"]
    assert codecommit.get_branch(repositoryName=name, branchName="main")["branch"] == {
        "branchName": "main",
        "commitId": first,
    }
    metadata = codecommit.get_repository(repositoryName=name)["repositoryMetadata"]
    assert metadata["defaultBranch"] == "main"
    assert metadata["lastModifiedDate"] >= metadata["creationDate"]
    found = codecommit.batch_get_repositories(repositoryNames=[name, "nope"])
    assert [r["repositoryName"] for r in found["repositories"]] == [name]
    assert found["repositoriesNotFound"] == ["nope"]

    second = second_commit(work)
    git("push", "-q", repo["cloneUrlHttp"], "main", cwd=work, **auth)
    commit = codecommit.get_commit(repositoryName=name, commitId=second)["commit"]
    assert commit["parents"] == [first] and commit["message"] == "second\n"
    assert commit["author"]["name"] == "Ada Lovelace" and commit["author"]["email"] == "ada@example.com"
    assert commit["treeId"] == git("rev-parse", "HEAD^{tree}", cwd=work).stdout.strip()
    differences = codecommit.get_differences(
        repositoryName=name, beforeCommitSpecifier=first, afterCommitSpecifier="main"
    )["differences"]
    changes = {(d.get("afterBlob") or d["beforeBlob"])["path"]: d["changeType"] for d in differences}
    assert changes == {"README.md": "M", "gone.txt": "D", "new.txt": "A", "blob.bin": "A"}
    whole = codecommit.get_differences(repositoryName=name, afterCommitSpecifier=first)["differences"]
    modes = {d["afterBlob"]["path"]: d["afterBlob"]["mode"] for d in whole}
    assert modes == {"README.md": "100644", "gone.txt": "100644", "scripts/run.sh": "100755"}
    with pytest.raises(codecommit.exceptions.BranchDoesNotExistException):
        codecommit.get_branch(repositoryName=name, branchName="nope")
    with pytest.raises(codecommit.exceptions.CommitIdDoesNotExistException):
        codecommit.get_commit(repositoryName=name, commitId="0" * 40)

    clone = tmp_path / "clone"
    git("clone", "-q", repo["cloneUrlHttp"], str(clone), cwd=tmp_path, **auth)
    assert git("rev-parse", "HEAD", cwd=clone).stdout.strip() == second
    assert (clone / "blob.bin").read_bytes() == (work / "blob.bin").read_bytes()
    assert os.stat(clone / "scripts" / "run.sh").st_mode & stat.S_IXUSR

    events = _received(cloud, queue, 2)
    details = [e["detail"] for e in events]
    assert [d["event"] for d in details] == ["referenceCreated", "referenceUpdated"]
    assert details[0]["commitId"] == first and "oldCommitId" not in details[0]
    assert details[1] == {
        "callerUserArn": f"arn:aws:iam::{config.ACCOUNT_ID}:root",
        "commitId": second,
        "event": "referenceUpdated",
        "oldCommitId": first,
        "referenceFullName": "refs/heads/main",
        "referenceName": "main",
        "referenceType": "branch",
        "repositoryId": repo["repositoryId"],
        "repositoryName": name,
    }
    assert all(e["source"] == "aws.codecommit" for e in events)
    assert all(e["detail-type"] == "CodeCommit Repository State Change" for e in events)
    assert all(e["resources"] == [repo["Arn"]] for e in events)


def test_iam_user_needs_git_push(cloud, repo, tmp_path):
    iam, user = cloud.client("iam"), unique("dev")
    iam.create_user(UserName=user)
    key = iam.create_access_key(UserName=user)["AccessKey"]
    auth = {"user": key["AccessKeyId"], "password": key["SecretAccessKey"]}
    clone = tmp_path / "clone"
    pull = allow("codecommit:GitPull", repo["Arn"])
    iam.put_user_policy(
        UserName=user,
        PolicyName="pull",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": [pull]}),
    )
    git("clone", "-q", repo["cloneUrlHttp"], str(clone), cwd=tmp_path, **auth)
    (clone / "more.txt").write_text("more\n")
    commit_all(clone, "more")
    refused = git("push", "origin", "HEAD:refs/heads/feature", cwd=clone, check=False, **auth)
    assert refused.returncode != 0 and "403" in refused.stderr


# ---- in process: the source zip, and EventBridge -> CodePipeline ------------------------------------------


@pytest.fixture
def in_process(monkeypatch, tmp_path):
    """moto in this process, with the CodeCommit and EventBridge patches, and a state dir of the test's."""
    from localcloud.patches import codecommit, events_codepipeline

    monkeypatch.setenv("LOCALCLOUD_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv(config.BOOT_ID_ENV, raising=False)
    for variable in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(variable, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", config.REGION)
    with mock_aws(), _restored(CodeCommitResponse), _restored(Rule):
        codecommit.apply()
        events_codepipeline.apply()
        yield


@contextlib.contextmanager
def _restored(cls: type):
    """The class as it was once the block ends (other tests of this process see moto unpatched)."""
    before = dict(vars(cls))
    try:
        yield
    finally:
        for name in [n for n in vars(cls) if n not in before]:
            delattr(cls, name)
        for name, value in before.items():
            if vars(cls).get(name) is not value:
                setattr(cls, name, value)


def test_source_revision_zips_the_branch_head(in_process, tmp_path):
    from localcloud.codecommit import repos

    name = unique("repo")
    boto3.client("codecommit", region_name=config.REGION).create_repository(repositoryName=name)
    work = tmp_path / "work"
    first_commit(work)
    head = second_commit(work)
    git("push", "-q", str(repos.path(name)), "main", cwd=work)

    revision = repos.source_revision(name, "main")
    assert revision.commit_id == head and revision.message == "second\n"
    assert revision.author == "Ada Lovelace <ada@example.com>"
    with zipfile.ZipFile(io.BytesIO(revision.zip_bytes)) as archive:
        assert sorted(archive.namelist()) == ["README.md", "blob.bin", "new.txt", "scripts/run.sh"]
        assert archive.read("README.md") == b"hello again\n"
        archive.extractall(tmp_path / "out")
        mode = archive.getinfo("scripts/run.sh").external_attr >> 16
    assert mode & stat.S_IXUSR
    os.chmod(tmp_path / "out" / "scripts" / "run.sh", mode & 0o777)  # what unzip does with the attributes
    assert (
        subprocess.run([str(tmp_path / "out" / "scripts" / "run.sh")], capture_output=True).stdout == b"run\n"
    )
    with pytest.raises(repos.NotFound, match="nope"):
        repos.source_revision(name, "nope")


@pytest.fixture
def started(monkeypatch) -> list[tuple]:
    """Calls of C's codepipeline.start_execution (stubbed: this test checks the delivery only)."""
    calls: list[tuple] = []

    def start_execution(
        name, *, trigger_type, trigger_detail, account_id=config.ACCOUNT_ID, region=config.REGION
    ):
        calls.append((name, trigger_type, trigger_detail))
        return "execution-1"

    try:
        from localcloud.pipeline import codepipeline

        monkeypatch.setattr(codepipeline, "start_execution", start_execution)
    except ImportError:  # not written yet
        module = types.ModuleType("localcloud.pipeline.codepipeline")
        module.start_execution = start_execution
        monkeypatch.setitem(sys.modules, "localcloud.pipeline.codepipeline", module)
    return calls


def _pipeline_rule(role_arn: str) -> tuple[str, str]:
    events = boto3.client("events", region_name=config.REGION)
    rule = unique("push")
    pattern = {
        "source": ["aws.codecommit"],
        "detail": {"event": ["referenceUpdated"], "referenceName": ["main"]},
    }
    rule_arn = events.put_rule(Name=rule, EventPattern=json.dumps(pattern))["RuleArn"]
    pipeline_arn = f"arn:aws:codepipeline:{config.REGION}:{config.ACCOUNT_ID}:farm-pipeline"
    events.put_targets(Rule=rule, Targets=[{"Id": "p", "Arn": pipeline_arn, "RoleArn": role_arn}])
    return rule_arn, pipeline_arn


def _push_event(branch: str = "main", event: str = "referenceUpdated") -> None:
    detail = {"event": event, "referenceName": branch, "referenceType": "branch"}
    entry = {
        "Source": "aws.codecommit",
        "DetailType": "CodeCommit Repository State Change",
        "Detail": json.dumps(detail),
    }
    boto3.client("events", region_name=config.REGION).put_events(Entries=[entry])


def _role(service: str, *statements: dict) -> str:
    iam = boto3.client("iam", region_name=config.REGION)
    name = unique("trigger")
    arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=trust(service))["Role"]["Arn"]
    if statements:
        policy = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
        iam.put_role_policy(RoleName=name, PolicyName="start", PolicyDocument=policy)
    return arn


def test_rule_starts_the_pipeline_as_its_role(in_process, started):
    pipeline_arn = f"arn:aws:codepipeline:{config.REGION}:{config.ACCOUNT_ID}:farm-pipeline"
    role = _role("events.amazonaws.com", allow("codepipeline:StartPipelineExecution", pipeline_arn))
    rule_arn, _ = _pipeline_rule(role)
    _push_event(branch="other")
    _push_event(event="referenceDeleted")
    assert started == []
    _push_event()
    assert started == [("farm-pipeline", "CloudWatchEvent", rule_arn)]


@pytest.mark.parametrize(
    ("why", "logged"),
    [
        ("no permission", "may not codepipeline:StartPipelineExecution"),
        ("no trust", "events.amazonaws.com is not authorized to assume the role"),
    ],
)
def test_refused_delivery_is_dropped(in_process, started, caplog, why, logged):
    pipeline_arn = f"arn:aws:codepipeline:{config.REGION}:{config.ACCOUNT_ID}:farm-pipeline"
    if why == "no permission":
        role = _role("events.amazonaws.com", allow("codepipeline:GetPipeline", pipeline_arn))
    else:
        role = _role("lambda.amazonaws.com", allow("codepipeline:StartPipelineExecution", pipeline_arn))
    _pipeline_rule(role)
    _push_event()  # never raises into whoever put the event
    assert started == []
    assert logged in caplog.text


def test_role_session_pushes_with_its_token(cloud, repo, tmp_path):
    iam, name = cloud.client("iam"), unique("pusher")
    document = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{config.ACCOUNT_ID}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(document))["Role"]["Arn"]
    grants = {
        "Version": "2012-10-17",
        "Statement": [allow(["codecommit:GitPull", "codecommit:GitPush"], repo["Arn"])],
    }
    iam.put_role_policy(RoleName=name, PolicyName="git", PolicyDocument=json.dumps(grants))
    session = cloud.client("sts").assume_role(RoleArn=role, RoleSessionName="ci")["Credentials"]
    key, secret, token = session["AccessKeyId"], session["SecretAccessKey"], session["SessionToken"]
    clone = tmp_path / "clone"
    git("clone", "-q", repo["cloneUrlHttp"], str(clone), cwd=tmp_path, user=f"{key}%{token}", password=secret)
    (clone / "role.txt").write_text("pushed by a role\n")
    commit_all(clone, "by a role")
    without_token = git(
        "push", "origin", "HEAD:refs/heads/by-role", cwd=clone, check=False, user=key, password=secret
    )
    assert without_token.returncode != 0
    git("push", "-q", "origin", "HEAD:refs/heads/by-role", cwd=clone, user=f"{key}%{token}", password=secret)
    assert (
        "by-role"
        in cloud.client("codecommit").list_branches(repositoryName=repo["repositoryName"])["branches"]
    )
