"""localcloud/credentials.py without a cloud: the key shape, the 0600 file, and which file belongs to which
endpoint."""

from __future__ import annotations

import re
import stat

import pytest

from localcloud import credentials
from tests.unit.localcloud.conftest import free_port


def test_keys_look_like_aws_keys_and_are_random():
    made = [credentials.new("http://127.0.0.1:4700", "boot") for _ in range(20)]
    assert all(re.fullmatch(r"LKIA[A-Z0-9]{16}", c.access_key_id) for c in made)
    assert all(re.fullmatch(r"[A-Za-z0-9+/]{40}", c.secret_access_key) for c in made)
    assert len({c.access_key_id for c in made}) == len({c.secret_access_key for c in made}) == 20


def test_the_file_is_written_0600_and_read_back(tmp_path):
    issued = credentials.new(f"http://127.0.0.1:{free_port()}", "boot-1")
    path = credentials.write(tmp_path, issued)
    assert path == tmp_path / "credentials"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert credentials.read(tmp_path) == issued
    assert [p.name for p in tmp_path.iterdir()] == ["credentials"], "no temporary file left behind"


def test_a_missing_or_broken_file_says_so(tmp_path):
    with pytest.raises(credentials.NoCredentials, match="not running"):
        credentials.read(tmp_path)
    (tmp_path / "credentials").write_text("{}")
    with pytest.raises(credentials.NoCredentials, match="not a local cloud credentials file"):
        credentials.read(tmp_path)


def test_remove_spares_another_boots_file(tmp_path):
    credentials.write(tmp_path, credentials.new("http://127.0.0.1:4700", "boot-2"))
    credentials.remove(tmp_path, "boot-1")
    assert credentials.read(tmp_path).boot_id == "boot-2"
    credentials.remove(tmp_path, "boot-2")
    assert not (tmp_path / "credentials").exists()


def test_a_file_serves_only_its_own_endpoint(tmp_path):
    port = free_port()  # nothing listens there: the file is all there is
    issued = credentials.new(f"http://127.0.0.1:{port}", "boot-1")
    credentials.write(tmp_path, issued)
    assert credentials.for_endpoint(f"http://localhost:{port}", tmp_path) == issued
    with pytest.raises(credentials.NoCredentials, match="belongs to"):
        credentials.for_endpoint(f"http://127.0.0.1:{free_port()}", tmp_path)
    with pytest.raises(credentials.NoCredentials, match="not a local cloud endpoint"):
        credentials.for_endpoint("https://s3.us-east-1.amazonaws.com", tmp_path)


def test_same_endpoint():
    assert credentials.same_endpoint("http://127.0.0.1:4599", "http://localhost:4599/")
    assert not credentials.same_endpoint("http://127.0.0.1:4599", "http://127.0.0.1:4600")
    assert not credentials.same_endpoint("http://evil.example:4599", "http://127.0.0.1:4599")
