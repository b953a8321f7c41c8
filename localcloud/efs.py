"""EFS file systems as directories under the state dir: <state>/efs/<fs-id>/<path>."""

from __future__ import annotations

import os
from pathlib import Path

from localcloud import config


def host_path(file_system_id: str, path: str = "/", state_dir: str | os.PathLike[str] | None = None) -> Path:
    """The host directory that stands for `path` inside EFS file system `file_system_id`."""
    relative = Path(path.lstrip("/"))
    if ".." in relative.parts:
        raise ValueError(f"EFS path must not climb out of the file system: {path!r}")
    return config.state_dir(state_dir) / "efs" / file_system_id / relative


def ensure_dir(directory: Path, posix_user: dict | None = None, creation_info: dict | None = None) -> Path:
    """Create an access point's root directory, with its owner and permissions when we are allowed to."""
    created = not directory.exists()
    directory.mkdir(parents=True, exist_ok=True)
    if created and creation_info:
        try:
            os.chown(directory, int(creation_info["OwnerUid"]), int(creation_info["OwnerGid"]))
            os.chmod(directory, int(str(creation_info.get("Permissions", "755")), 8))
        except (OSError, KeyError, ValueError):
            pass  # not root, or odd values: the directory still works for the current user
    return directory
