"""CodeCommit API answers that read git (methods of moto's CodeCommitResponse; patches/codecommit.py installs
them): ListBranches, GetBranch, GetCommit, GetDifferences, BatchGetRepositories; CreateRepository and
DeleteRepository keep the bare repository in step with moto's metadata. Errors carry AWS's names."""

from __future__ import annotations

import json
from collections.abc import Callable

from moto.core.exceptions import JsonRESTError

from localcloud.codecommit import repos

PAGE = 100  # GetDifferences' default page (AWS: MaxResults, default 100)


def _error(found: repos.NotFound) -> JsonRESTError:
    return JsonRESTError(found.code, str(found))


def _required(self, member: str, code: str) -> str:
    value = self._get_param(member)
    if not value:
        raise JsonRESTError(code, f"{member} is required")  # AWS: e.g. BranchNameRequiredException
    return value


def _reading(method: Callable) -> Callable:
    def answer(self) -> str:
        try:
            return json.dumps(method(self))
        except repos.NotFound as found:
            raise _error(found) from None

    answer.__name__ = method.__name__
    return answer


@_reading
def list_branches(self) -> dict:
    name = _required(self, "repositoryName", "RepositoryNameRequiredException")
    return {"branches": repos.branches(name)}


@_reading
def get_branch(self) -> dict:
    name = _required(self, "repositoryName", "RepositoryNameRequiredException")
    branch = _required(self, "branchName", "BranchNameRequiredException")
    return {"branch": {"branchName": branch, "commitId": repos.branch_head(name, branch)}}


@_reading
def get_commit(self) -> dict:
    name = _required(self, "repositoryName", "RepositoryNameRequiredException")
    commit_id = _required(self, "commitId", "CommitIdRequiredException")
    return {"commit": repos.commit(name, commit_id)}


@_reading
def get_differences(self) -> dict:
    name = _required(self, "repositoryName", "RepositoryNameRequiredException")
    after = _required(self, "afterCommitSpecifier", "CommitRequiredException")
    found = repos.differences(name, self._get_param("beforeCommitSpecifier"), after)
    for side, member in (("beforeBlob", "beforePath"), ("afterBlob", "afterPath")):
        prefix = (self._get_param(member) or "").strip("/")
        if prefix:
            found = [d for d in found if _under(d.get(side, {}).get("path"), prefix)]
    try:
        start = int(self._get_param("NextToken") or 0)
    except ValueError:
        raise JsonRESTError(
            "InvalidContinuationTokenException", "The continuation token is not valid."
        ) from None
    size = int(self._get_param("MaxResults") or PAGE)
    page = {"differences": found[start : start + size]}
    if start + size < len(found):
        page["NextToken"] = str(start + size)
    return page


def _under(path: str | None, prefix: str) -> bool:
    return path is not None and (path == prefix or path.startswith(prefix + "/"))


def batch_get_repositories(self) -> str:
    names = self._get_param("repositoryNames") or []
    if not names:
        raise JsonRESTError("RepositoryNamesRequiredException", "At least one repository name is required.")
    if len(names) > 100:
        raise JsonRESTError(
            "MaximumRepositoryNamesExceededException", "The maximum number of repository names is 100."
        )
    found, missing = [], []
    for name in names:
        try:
            found.append(repos.repository(name, self.current_account, self.region))
        except repos.NotFound:
            missing.append(name)
    errors = [
        {
            "repositoryName": n,
            "errorCode": "RepositoryDoesNotExistException",
            "errorMessage": f"{n} does not exist",
        }
        for n in missing
    ]
    return json.dumps({"repositories": found, "repositoriesNotFound": missing, "errors": errors})


def create_repository_with_git(original: Callable) -> Callable:
    """moto's CreateRepository, then an empty bare repository and its local cloneUrlHttp."""

    def create_repository(self) -> str:
        body = original(self)
        name = self._get_param("repositoryName")
        metadata = repos.repository(name, self.current_account, self.region)
        repos.create(name, self.current_account)
        metadata["cloneUrlHttp"] = repos.clone_url_http(name)
        answer = json.loads(body)
        answer["repositoryMetadata"]["cloneUrlHttp"] = metadata["cloneUrlHttp"]
        return json.dumps(answer)

    return create_repository


def delete_repository_with_git(original: Callable) -> Callable:
    def delete_repository(self) -> str:
        body = original(self)
        repos.delete(self._get_param("repositoryName"), self.current_account)
        return body

    return delete_repository
