"""The git side of CodeCommit repositories: one bare repository per CodeCommit repository, read with dulwich.

Repositories live under `<state>/codecommit/<boot id>/<account>/<name>.git`: moto keeps the metadata in
memory, so a new boot is a new, empty CodeCommit, and the first repository a boot makes removes earlier
boots' git data. CreateRepository / DeleteRepository keep the git side in step (patches/codecommit.py).

    repository(name) -> moto's metadata dict (raises NotFound)
    create(name) / delete(name) / open_repo(name) -> dulwich Repo
    branches(name), branch_head(name, branch), commit(name, id), differences(name, before, after)
    source_revision(name, branch) -> SourceRevision (the zip CodePipeline's CodeCommit source action makes)
"""

from __future__ import annotations

import io
import os
import re
import shutil
import threading
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dulwich.diff_tree import tree_changes
from dulwich.objects import S_ISGITLINK, Commit
from dulwich.repo import Repo

from localcloud import config

BRANCH_PREFIX = b"refs/heads/"
TAG_PREFIX = b"refs/tags/"
_BOOT_DIR = re.compile(r"^[0-9a-f]{32}$")  # server.py's boot ids (uuid4().hex)
_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")
_ZIP_EPOCH = time.mktime((1980, 1, 1, 0, 0, 0, 0, 0, -1))  # zip cannot store earlier times
_root_lock = threading.Lock()
_root_ready: set[Path] = set()


class NotFound(Exception):
    """A repository, branch or commit that does not exist; the message names it. `code` is AWS's error."""

    def __init__(self, message: str, code: str = "RepositoryDoesNotExistException"):
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class SourceRevision:
    commit_id: str
    message: str
    author: str  # "Name <email>", as git records it
    zip_bytes: bytes


# ---- where repositories live -----------------------------------------------------------------------------


def root() -> Path:
    """This boot's directory of repositories; on first use, earlier boots' git data is removed (their moto
    metadata died with them)."""
    boot = os.environ.get(config.BOOT_ID_ENV) or f"in-process-{os.getpid()}"
    base = config.state_dir() / "codecommit"
    here = base / boot
    with _root_lock:
        if here not in _root_ready:
            if base.is_dir():
                for old in base.iterdir():
                    if old != here and _BOOT_DIR.match(old.name):
                        shutil.rmtree(old, ignore_errors=True)
            here.mkdir(parents=True, exist_ok=True)
            _root_ready.add(here)
    return here


def path(name: str, account: str = config.ACCOUNT_ID) -> Path:
    return root() / account / f"{name}.git"


def clone_url_http(name: str) -> str:
    """Where git reaches the repository: this cloud's endpoint (AWS: https://git-codecommit.<region>...)."""
    endpoint = os.environ.get("LOCALCLOUD_ENDPOINT") or config.endpoint()
    return f"{endpoint}/v1/repos/{name}"


def repository(name: str, account: str = config.ACCOUNT_ID, region: str = config.REGION) -> dict[str, Any]:
    """moto's metadata of the repository (the dict GetRepository answers), or NotFound."""
    from moto.codecommit.models import codecommit_backends

    found = codecommit_backends[account][region].repositories.get(name)
    if found is None:
        raise NotFound(f"{name} does not exist")
    return found.repository_metadata


def create(name: str, account: str = config.ACCOUNT_ID) -> Path:
    """A fresh, empty bare repository (any leftover of a repository of the same name is removed)."""
    target = path(name, account)
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    Repo.init_bare(str(target), mkdir=True)
    return target


def delete(name: str, account: str = config.ACCOUNT_ID) -> None:
    shutil.rmtree(path(name, account), ignore_errors=True)


def open_repo(name: str, account: str = config.ACCOUNT_ID) -> Repo:
    """The repository's git data (NotFound when CodeCommit has no such repository); made if missing."""
    repository(name, account)
    target = path(name, account)
    if not (target / "HEAD").exists():
        create(name, account)
    return Repo(str(target))


# ---- reading git -----------------------------------------------------------------------------------------


def branches(name: str) -> list[str]:
    with open_repo(name) as repo:
        return sorted(
            ref[len(BRANCH_PREFIX) :].decode() for ref in repo.refs.allkeys() if ref.startswith(BRANCH_PREFIX)
        )


def branch_head(name: str, branch: str) -> str:
    with open_repo(name) as repo:
        ref = BRANCH_PREFIX + branch.encode()
        if ref not in repo.refs:
            raise NotFound(
                f"Branch '{branch}' does not exist in repository '{name}'.", "BranchDoesNotExistException"
            )
        return repo.refs[ref].decode()


def resolve(repo: Repo, specifier: str) -> Commit | None:
    """A commit specifier as CodeCommit takes one: a full commit id, a branch or tag name, a full ref."""
    raw = specifier.encode()
    candidates = [raw] if _FULL_SHA.match(specifier) else []
    candidates += [BRANCH_PREFIX + raw, TAG_PREFIX + raw, raw]
    for candidate in candidates:
        try:
            found = repo[candidate] if _FULL_SHA.match(candidate.decode()) else repo[repo.refs[candidate]]
        except KeyError:
            continue
        while not isinstance(found, Commit) and hasattr(found, "object"):  # an annotated tag
            found = repo[found.object[1]]
        if isinstance(found, Commit):
            return found
    return None


def _user(line: bytes, when: int, offset: int) -> dict[str, str]:
    text = line.decode("utf-8", "replace")
    person, _, email = text.partition(" <")
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return {"name": person, "email": email.rstrip(">"), "date": f"{when} {sign}{hours:02d}{minutes:02d}"}


def commit(name: str, commit_id: str) -> dict[str, Any]:
    """GetCommit's `commit` (AWS's shape: the user dates are "<epoch seconds> <+hhmm>", as git keeps them)."""
    with open_repo(name) as repo:
        found = None
        if _FULL_SHA.match(commit_id):
            try:
                found = repo[commit_id.encode()]
            except KeyError:
                found = None
        if not isinstance(found, Commit):
            raise NotFound(f"Could not find Commit with ID: {commit_id}", "CommitIdDoesNotExistException")
        return {
            "commitId": found.id.decode(),
            "treeId": found.tree.decode(),
            "parents": [p.decode() for p in found.parents],
            "message": found.message.decode("utf-8", "replace"),
            "author": _user(found.author, found.author_time, found.author_timezone),
            "committer": _user(found.committer, found.commit_time, found.commit_timezone),
            "additionalData": "",
        }


def _blob(entry) -> dict[str, str]:
    return {
        "blobId": entry.sha.decode(),
        "path": entry.path.decode("utf-8", "replace"),
        "mode": f"{entry.mode:o}",
    }


def differences(name: str, before: str | None, after: str) -> list[dict[str, Any]]:
    """GetDifferences' `differences` between two commit specifiers (before None: the after commit's whole tree
    as added), blob paths in tree order, changeType A / M / D."""
    with open_repo(name) as repo:
        after_commit = resolve(repo, after)
        if after_commit is None:
            raise NotFound(f"Could not find Commit with ID: {after}", "CommitDoesNotExistException")
        before_tree = None
        if before:
            before_commit = resolve(repo, before)
            if before_commit is None:
                raise NotFound(f"Could not find Commit with ID: {before}", "CommitDoesNotExistException")
            before_tree = before_commit.tree
        found = []
        for change in tree_changes(repo.object_store, before_tree, after_commit.tree):
            if change.type == "add":
                found.append({"afterBlob": _blob(change.new), "changeType": "A"})
            elif change.type == "delete":
                found.append({"beforeBlob": _blob(change.old), "changeType": "D"})
            elif change.type == "modify":
                found.append(
                    {"beforeBlob": _blob(change.old), "afterBlob": _blob(change.new), "changeType": "M"}
                )
        return found


def source_revision(repository_name: str, branch: str) -> SourceRevision:
    """The branch head commit's tree as a zip (no .git), as CodePipeline's CodeCommit source action makes it:
    each file's mode in its external attributes (executables stay executable when extracted), symbolic links
    as links; submodules are left out (CodePipeline does not fetch them either)."""
    head = branch_head(repository_name, branch)
    with open_repo(repository_name) as repo:
        found = repo[head.encode()]
        stamp = time.localtime(max(found.commit_time, _ZIP_EPOCH))[:6]
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
            for entry in repo.object_store.iter_tree_contents(found.tree):
                if S_ISGITLINK(entry.mode):
                    continue
                info = zipfile.ZipInfo(entry.path.decode("utf-8", "replace"), date_time=stamp)
                info.external_attr = (entry.mode & 0xFFFF) << 16
                info.compress_type = zipfile.ZIP_DEFLATED
                archive.writestr(info, repo[entry.sha].as_raw_string())
        return SourceRevision(
            commit_id=head,
            message=found.message.decode("utf-8", "replace"),
            author=found.author.decode("utf-8", "replace"),
            zip_bytes=buffer.getvalue(),
        )
