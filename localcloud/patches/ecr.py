"""ECR backed by the local cloud's registry (localcloud/registry.py): a repository is a repository there.

- `repositoryUri` is `127.0.0.1:<registry port>/<name>`: Terraform's `repository_url` is pushable.
- GetAuthorizationToken: base64("AWS:<the registry's per-boot password>"), proxyEndpoint
  `http://127.0.0.1:<port>`, expiresAt 12 h ahead (AWS's token lifetime).
- DescribeImages, ListImages, BatchGetImage report what the registry holds (v2 API: tags, manifests and their
  Docker-Content-Digest; untagged manifests from its storage's revision links); imageSizeInBytes = layers +
  config; imagePushedAt = when the registry stored the manifest.
- PutImage writes the manifest to the registry (retagging), refusing an existing tag of an IMMUTABLE
  repository (ImageTagAlreadyExistsException); BatchDeleteImage untags or deletes manifests there;
  DeleteRepository (force) removes the registry's repository data.
- Lifecycle policies, scan settings and tags stay moto's (stored, not enforced).
Without a registry (not installed), moto's own behaviour is kept.
"""

from __future__ import annotations

import base64
import contextlib
import datetime
import hashlib
import json
import re
import shutil
import threading
import urllib.parse
from typing import Any

from moto.core.exceptions import ServiceException
from moto.core.responses import ActionResult
from moto.ecr import models, responses
from moto.ecr.exceptions import (
    ImageAlreadyExistsException,
    ImageNotFoundException,
    InvalidParameterException,
)

from localcloud import registry

TOKEN_LIFETIME = datetime.timedelta(hours=12)
MANIFEST_TYPES = (
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)
INDEX_TYPES = MANIFEST_TYPES[2:]
_DIGEST = re.compile(r"^[0-9a-zA-Z_+.-]+:[0-9a-fA-F]{64}$")

_lock = threading.RLock()  # one sync of a repository's images at a time (moto's server is threaded)
# (repository, digest) -> (media type, manifest text): content-addressed, so never stale.
_manifests: dict[tuple[str, str], tuple[str, str]] = {}


class ImageTagAlreadyExistsException(ServiceException):
    code = "ImageTagAlreadyExistsException"


class ImageDigestDoesNotMatchException(ServiceException):
    code = "ImageDigestDoesNotMatchException"


class LayersNotFoundException(ServiceException):
    code = "LayersNotFoundException"


# --- the registry side ------------------------------------------------------------------------------------


class RegistryImage(models.Image):
    """An image the registry holds: digest, manifest and size as pushed."""

    def __init__(self, account_id: str, repository: str, digest: str, media_type: str, manifest: str):
        super().__init__(account_id, None, manifest, repository, media_type, digest)
        self.image_tag = None
        doc = json.loads(manifest)
        self.artifact_media_type = (doc.get("config") or {}).get("mediaType")
        self._size = _image_size(doc) if media_type not in INDEX_TYPES else None

    def get_image_size_in_bytes(self) -> int | None:
        return self._size


def _image_size(doc: dict) -> int:
    """What ECR reports as imageSizeInBytes: the (compressed) layers plus the config blob."""
    return sum(int(layer.get("size", 0)) for layer in doc.get("layers") or []) + int(
        (doc.get("config") or {}).get("size", 0)
    )


def _path(name: str, *rest: str) -> str:
    return "/v2/" + name + "/" + "/".join(urllib.parse.quote(p, safe=":") for p in rest)


def _tags(reg: registry.Registry, name: str) -> list[str]:
    answer = reg.api(_path(name, "tags", "list"))
    if answer.status != 200:
        return []  # 404 NAME_UNKNOWN: nothing pushed yet
    return list(json.loads(answer.body).get("tags") or [])


def _manifest(reg: registry.Registry, name: str, reference: str) -> tuple[str, str, str] | None:
    """(digest, media type, manifest text) of a tag or digest, None when the registry has none."""
    if reference.startswith("sha256:") and (name, reference) in _manifests:
        return (reference, *_manifests[(name, reference)])
    answer = reg.api(_path(name, "manifests", reference), headers={"Accept": ", ".join(MANIFEST_TYPES)})
    if answer.status != 200:
        return None
    text = answer.body.decode()
    digest = (
        answer.headers.get("docker-content-digest") or "sha256:" + hashlib.sha256(answer.body).hexdigest()
    )
    media_type = json.loads(text).get("mediaType") or answer.headers.get("content-type", "").split(";")[0]
    _manifests[(name, digest)] = (media_type, text)
    return digest, media_type, text


def _revisions(reg: registry.Registry, name: str) -> dict[str, float]:
    """Every manifest the repository holds, tagged or not (the registry lists no untagged manifests; its
    storage keeps a revision link per manifest, removed when the manifest is deleted), with the time the
    registry stored it."""
    found = {}
    root = reg.repository_dir(name) / "_manifests" / "revisions"
    try:
        for link in root.glob("*/*/link"):
            with contextlib.suppress(OSError):  # deleted meanwhile
                found[f"{link.parent.parent.name}:{link.parent.name}"] = link.stat().st_mtime
    except OSError:
        pass  # the repository went away meanwhile
    return found


def sync(backend: models.ECRBackend, repository: models.Repository) -> None:
    """Make moto's image list of the repository what the registry holds (Image objects of digests already
    known are kept, with their scan state)."""
    reg = registry.current()
    if reg is None:
        return
    with _lock:
        name = repository.name
        pushed = _revisions(reg, name)
        tags: dict[str, list[str]] = {}
        for tag in _tags(reg, name):
            found = _manifest(reg, name, tag)
            if found is not None:
                tags.setdefault(found[0], []).append(tag)
        known = {image.image_digest: image for image in repository.images if isinstance(image, RegistryImage)}
        images = []
        for digest in sorted(set(pushed) | set(tags), key=lambda d: (pushed.get(d, 0.0), d)):
            image = known.get(digest)
            if image is None:
                found = _manifest(reg, name, digest)
                if found is None:
                    continue  # deleted between the listing and now
                image = RegistryImage(backend.account_id, name, digest, found[1], found[2])
                image.registry_id = repository.registry_id
            if digest in pushed:
                image.image_pushed_at = pushed[digest]
            image.image_tags = sorted(tags.get(digest, []))
            image.image_tag = image.image_tags[-1] if image.image_tags else None
            images.append(image)
        repository.images = images


def _repository(response: responses.ECRResponse) -> models.Repository:
    """The request's repository (RepositoryNotFoundException when there is none)."""
    backend = response.ecr_backend
    return backend._get_repository(response._get_param("repositoryName"), response._get_param("registryId"))


def _find(repository: models.Repository, image_id: dict[str, str]) -> tuple[models.Image | None, str | None]:
    """The image an imageId names, or None with a failure code."""
    tag, digest = image_id.get("imageTag"), image_id.get("imageDigest")
    if not tag and not digest:
        return None, "MissingDigestAndTag"
    if digest and not _DIGEST.match(digest):
        return None, "InvalidImageDigest"
    by_digest = next((i for i in repository.images if i.image_digest == digest), None) if digest else None
    by_tag = next((i for i in repository.images if tag in i.image_tags), None) if tag else None
    if digest and tag:
        if by_digest is None or by_tag is None:
            return None, "ImageNotFound"
        return (by_digest, None) if by_digest is by_tag else (None, "ImageTagDoesNotMatchDigest")
    image = by_digest or by_tag
    return (image, None) if image is not None else (None, "ImageNotFound")


_FAILURE_REASONS = {
    "MissingDigestAndTag": "Invalid request parameters: both tag and digest cannot be null",
    "InvalidImageDigest": "Invalid request parameters: image digest should satisfy the regex "
    "'[a-zA-Z0-9-_+.]+:[a-fA-F0-9]+'",
    "ImageNotFound": "Requested image not found",
    "ImageTagDoesNotMatchDigest": "Invalid request parameters: given tag does not map to the given digest",
}


def _failure(image_id: dict[str, str], code: str) -> dict[str, Any]:
    wanted = {k: image_id[k] for k in ("imageDigest", "imageTag") if image_id.get(k)}
    return {"imageId": wanted, "failureCode": code, "failureReason": _FAILURE_REASONS[code]}


def _untag(reg: registry.Registry, name: str, tag: str) -> None:
    # Distribution 2.8 has no API to remove a tag: its storage's tag directory is the tag.
    shutil.rmtree(reg.repository_dir(name) / "_manifests" / "tags" / tag, ignore_errors=True)


def _delete_manifest(reg: registry.Registry, name: str, digest: str) -> None:
    # Deleting a manifest also removes every tag pointing at it.
    answer = reg.api(_path(name, "manifests", digest), method="DELETE")
    if answer.status not in (202, 404):
        raise InvalidParameterException(
            f"the registry refused to delete {digest}: {answer.body.decode()[:200]}"
        )
    for tag_dir in (reg.repository_dir(name) / "_manifests" / "tags").glob("*/current/link"):
        try:
            if tag_dir.read_text().strip() == digest:
                _untag(reg, name, tag_dir.parent.parent.name)
        except OSError:
            continue


# --- the ECR API ------------------------------------------------------------------------------------------

_original: dict[str, Any] = {}


def _describe_images(self: responses.ECRResponse) -> ActionResult:
    if registry.current() is None:
        return _original["describe_images"](self)
    repository = _repository(self)
    sync(self.ecr_backend, repository)
    image_ids = self._get_param("imageIds")
    tag_status = (self._get_param("filter") or {}).get("tagStatus", "ANY")
    if image_ids:
        images = []
        for image_id in image_ids:
            image, _code = _find(repository, image_id)
            if image is None:
                digest, tag = image_id.get("imageDigest") or "null", image_id.get("imageTag") or "null"
                shown = f"{{imageDigest:'{digest}', imageTag:'{tag}'}}"
                raise ImageNotFoundException(shown, repository.name, repository.registry_id)
            if image not in images:
                images.append(image)
    else:
        images = [i for i in repository.images if _status_matches(i, tag_status)]
    return ActionResult({"imageDetails": [_detail(repository, i) for i in images]})


def _status_matches(image: models.Image, tag_status: str) -> bool:
    return tag_status == "ANY" or (tag_status == "TAGGED") == bool(image.image_tags)


def _detail(repository: models.Repository, image: models.Image) -> dict[str, Any]:
    detail: dict[str, Any] = {
        "registryId": repository.registry_id,
        "repositoryName": repository.name,
        "imageDigest": image.image_digest,
        "imagePushedAt": datetime.datetime.fromtimestamp(image.image_pushed_at, datetime.UTC),
        "imageManifestMediaType": image.image_manifest_media_type,
    }
    if image.image_tags:
        detail["imageTags"] = list(image.image_tags)
    if image.image_size_in_bytes is not None:
        detail["imageSizeInBytes"] = image.image_size_in_bytes
    if getattr(image, "artifact_media_type", None):
        detail["artifactMediaType"] = image.artifact_media_type
    return detail


def _list_images(self: responses.ECRResponse) -> ActionResult:
    if registry.current() is None:
        return _original["list_images"](self)
    repository = _repository(self)
    sync(self.ecr_backend, repository)
    tag_status = (self._get_param("filter") or {}).get("tagStatus", "ANY")
    ids = []
    for image in repository.images:
        if _status_matches(image, tag_status):
            for tag in image.image_tags or [None]:
                ids.append({"imageDigest": image.image_digest, **({"imageTag": tag} if tag else {})})
    return ActionResult({"imageIds": ids})


def _batch_get_image(self: responses.ECRResponse) -> ActionResult:
    """acceptedMediaTypes is not applied (the registry converts nothing)."""
    if registry.current() is None:
        return _original["batch_get_image"](self)
    repository = _repository(self)
    sync(self.ecr_backend, repository)
    found: list[dict[str, Any]] = []
    failures: list[dict[str, Any]] = []
    for image_id in self._get_param("imageIds") or []:
        image, code = _find(repository, image_id)
        if image is None:
            failures.append(_failure(image_id, code or "ImageNotFound"))
            continue
        wanted = {"imageDigest": image.image_digest}
        if image_id.get("imageTag"):
            wanted["imageTag"] = image_id["imageTag"]
        found.append(
            {
                "registryId": repository.registry_id,
                "repositoryName": repository.name,
                "imageId": wanted,
                "imageManifest": image.image_manifest,
                "imageManifestMediaType": image.image_manifest_media_type,
            }
        )
    return ActionResult({"images": found, "failures": failures})


def _batch_delete_image(self: responses.ECRResponse) -> ActionResult:
    """A tag of an image that has others is removed; the last tag, or a digest, deletes the manifest."""
    reg = registry.current()
    if reg is None:
        return _original["batch_delete_image"](self)
    repository = _repository(self)
    deleted: list[dict[str, str]] = []
    failures: list[dict[str, Any]] = []
    with _lock:
        for image_id in self._get_param("imageIds") or []:
            sync(self.ecr_backend, repository)
            image, code = _find(repository, image_id)
            if image is None:
                failures.append(_failure(image_id, code or "ImageNotFound"))
                continue
            digest, tag = image.image_digest, image_id.get("imageTag")
            if tag and not image_id.get("imageDigest") and len(image.image_tags) > 1:
                _untag(reg, repository.name, tag)
                deleted.append({"imageDigest": digest, "imageTag": tag})
                continue
            _delete_manifest(reg, repository.name, digest)
            deleted.extend({"imageDigest": digest, "imageTag": t} for t in image.image_tags)
            if not image.image_tags:
                deleted.append({"imageDigest": digest})
        sync(self.ecr_backend, repository)
    return ActionResult({"imageIds": deleted, "failures": failures})


def _put_image(self: responses.ECRResponse) -> ActionResult:
    """The manifest goes to the registry (its layers must be there: pushed with docker/podman/buildah)."""
    reg = registry.current()
    if reg is None:
        return _original["put_image"](self)
    backend = self.ecr_backend
    repository = _repository(self)
    manifest = self._get_param("imageManifest") or ""
    tag = self._get_param("imageTag")
    try:
        doc = json.loads(manifest)
    except ValueError as err:
        raise InvalidParameterException(
            "Invalid parameter at 'ImageManifest' failed to satisfy constraint: 'Invalid JSON syntax'"
        ) from err
    media_type = self._get_param("imageManifestMediaType") or doc.get("mediaType")
    if not media_type:
        raise InvalidParameterException("image manifest mediatype not provided in manifest or parameter")
    digest = "sha256:" + hashlib.sha256(manifest.encode()).hexdigest()
    claimed = self._get_param("imageDigest")
    if claimed and claimed != digest:
        raise ImageDigestDoesNotMatchException(
            f"Invalid parameter at 'imageDigest' failed to satisfy constraint: 'The digest {claimed} does "
            f"not match the digest of the manifest {digest}'"
        )
    with _lock:
        sync(backend, repository)
        existing = next((i for i in repository.images if i.image_digest == digest), None)
        if tag:
            if existing is not None and tag in existing.image_tags:
                raise ImageAlreadyExistsException(repository.name, repository.registry_id, digest, tag)
            try:  # moto's rule: IMMUTABLE, and the exclusion filters of the *_WITH_EXCLUSION settings
                backend._resolve_image_tag_mutability(repository, tag)
            except ImageAlreadyExistsException as err:
                raise ImageTagAlreadyExistsException(
                    f"The image tag '{tag}' already exists in the '{repository.name}' repository and cannot "
                    "be overwritten because the repository is immutable."
                ) from err
        elif existing is not None:
            raise ImageAlreadyExistsException(repository.name, repository.registry_id, digest, "null")
        answer = reg.api(
            _path(repository.name, "manifests", tag or digest),
            method="PUT",
            headers={"Content-Type": media_type},
            body=manifest.encode(),
        )
        if answer.status == 400 and b"BLOB_UNKNOWN" in answer.body:
            raise LayersNotFoundException(
                "The image manifest references layers that are not in the repository "
                f"'{repository.name}': push them first"
            )
        if answer.status != 201:
            raise InvalidParameterException(
                f"Invalid parameter at 'imageManifest': the registry answered {answer.status} "
                f"{answer.body.decode(errors='replace')[:300]}"
            )
        sync(backend, repository)
        image = next(i for i in repository.images if i.image_digest == digest)
    return ActionResult(
        {
            "image": {
                "registryId": repository.registry_id,
                "repositoryName": repository.name,
                "imageId": {"imageDigest": digest, **({"imageTag": tag} if tag else {})},
                "imageManifest": image.image_manifest,
                "imageManifestMediaType": image.image_manifest_media_type,
            }
        }
    )


def _get_authorization_token(self: responses.ECRResponse) -> ActionResult:
    reg = registry.current()
    if reg is None:
        return _original["get_authorization_token"](self)
    user, password = registry.credentials()
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    expires = datetime.datetime.now(datetime.UTC) + TOKEN_LIFETIME
    ids = self._get_param("registryIds") or [self.current_account]
    return ActionResult(
        {
            "authorizationData": [
                {"authorizationToken": token, "expiresAt": expires, "proxyEndpoint": f"http://{reg.address}"}
                for _ in ids
            ]
        }
    )


def _delete_repository(
    self: models.ECRBackend, repository_name: str, registry_id: str | None = None, force: bool = False
) -> models.Repository:
    reg = registry.current()
    if reg is not None and repository_name in self.repositories:
        sync(self, self.repositories[repository_name])  # not empty unless forced, as on AWS
    repository = _original["delete_repository"](self, repository_name, registry_id, force)
    if reg is not None:
        with _lock:
            shutil.rmtree(reg.repository_dir(repository_name), ignore_errors=True)
            for key in [k for k in _manifests if k[0] == repository_name]:
                del _manifests[key]
    return repository


def _synced(name: str):
    """A backend method (registry_id, repository_name, ...) that sees the registry's images (scans)."""
    original = getattr(models.ECRBackend, name)

    def wrapped(self: models.ECRBackend, *args, **kwargs):
        repository_name = kwargs.get("repository_name", args[1] if len(args) > 1 else None)
        if registry.current() is not None and repository_name in self.repositories:
            sync(self, self.repositories[repository_name])
        return original(self, *args, **kwargs)

    wrapped.__name__ = name
    return wrapped


def _uri_get(self: models.Repository) -> str:
    address = registry.address()
    return f"{address}/{self.name}" if address else self.__dict__.get("_moto_uri", "")


def _uri_set(self: models.Repository, value: str) -> None:
    self.__dict__["_moto_uri"] = value


def apply() -> None:
    if _original:
        return
    for name in (
        "describe_images",
        "list_images",
        "batch_get_image",
        "batch_delete_image",
        "put_image",
        "get_authorization_token",
    ):
        _original[name] = getattr(responses.ECRResponse, name)
    _original["delete_repository"] = models.ECRBackend.delete_repository
    responses.ECRResponse.describe_images = _describe_images
    responses.ECRResponse.list_images = _list_images
    responses.ECRResponse.batch_get_image = _batch_get_image
    responses.ECRResponse.batch_delete_image = _batch_delete_image
    responses.ECRResponse.put_image = _put_image
    responses.ECRResponse.get_authorization_token = _get_authorization_token
    models.ECRBackend.delete_repository = _delete_repository
    for name in ("start_image_scan", "describe_image_scan_findings"):
        setattr(models.ECRBackend, name, _synced(name))
    models.Repository.uri = property(_uri_get, _uri_set)
