"""farm.client's own logic against in-process moto: names and ranges, the one polling loop, the progress
display, and a fetch that resumes (journal, `.part` files with ranged GETs) so each object is downloaded once.
The operations against a deployed stack are tested live (tests/integration/test_operations.py)."""

from __future__ import annotations

import io
import json

import pytest

from farm import client as client_module
from farm.client import FarmClient, FetchJournal
from farm.polling import poll
from farm.progress import Progress


def test_poll_returns_the_first_look_that_holds_and_names_the_last_on_timeout(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda _s: None)
    looks = iter(range(10))
    seen: list[int] = []
    assert poll(lambda: next(looks), lambda n: n == 3, timeout=60, on_look=seen.append) == 3
    assert seen == [0, 1, 2, 3]
    with pytest.raises(TimeoutError, match="still 7 after 0 s"):
        poll(lambda: 7, lambda n: False, timeout=0, what=lambda n: f"still {n}")


class _Stream(io.StringIO):
    def __init__(self, tty: bool):
        super().__init__()
        self._tty = tty

    def isatty(self) -> bool:
        return self._tty


def test_progress_in_a_log_prints_a_line_per_change_of_note_and_the_final_count():
    stream = _Stream(tty=False)
    with Progress("run r1", unit="children", stream=stream) as progress:
        progress.update(note="RUNNING ValidateInput")
        for done in range(1, 50):  # counts alone are throttled: no line each
            progress.update(done=done, total=50)
        progress.update(done=50, note="SUCCEEDED")
    lines = stream.getvalue().splitlines()
    assert len(lines) <= 4, lines
    assert "RUNNING ValidateInput" in lines[0]
    assert lines[-1].endswith("run r1 SUCCEEDED 50/50 children")
    assert "\r" not in stream.getvalue() and "\x1b" not in stream.getvalue()


def test_progress_on_a_terminal_redraws_one_line_with_a_bar():
    stream = _Stream(tty=True)
    with Progress("rendering", total=4, unit="variants", stream=stream, quiet=True) as progress:
        progress.advance(2)
    shown = stream.getvalue()
    assert shown.count("\n") == 1 and "\r" in shown and "\x1b[K" in shown
    assert "|##############--------------| 2/4 variants" in shown


def test_quiet_progress_prints_nothing_in_a_log():
    stream = _Stream(tty=False)
    with Progress("rendering", total=4, stream=stream, quiet=True) as progress:
        progress.advance(4)
    assert stream.getvalue() == ""


class _Stack(dict):
    def __init__(self, s3, key_id):
        super().__init__(renders_bucket="renders", specs_bucket="specs", kms_key_arns={"storage": key_id})
        self.s3 = s3

    def client(self, _service):
        return self.s3


@pytest.fixture
def run_in_s3(cloud):
    s3, key_id = cloud
    bodies = {f"p/{i:03d}.svg": (f"<svg>{i}</svg>" * (i + 1)).encode() for i in range(12)}
    bodies["manifest.json"] = b"{}"
    bodies["_parts/plain.json"] = b"{}"
    for key, body in bodies.items():
        s3.put_object(
            Bucket="renders", Key=f"run-1/{key}", Body=body, **FarmClient(_Stack(s3, key_id)).sse_kms()
        )
    return FarmClient(_Stack(s3, key_id)), bodies


def test_fetch_downloads_everything_but_part_records(run_in_s3, tmp_path):
    client, bodies = run_in_s3
    fetched = client.fetch("run-1", tmp_path)
    assert (fetched.downloaded, fetched.kept) == (13, 0)
    assert fetched.manifest and len(fetched.svgs) == 12
    for key, body in bodies.items():
        assert (tmp_path / key).is_file() == (not key.startswith("_parts/"))
        if not key.startswith("_parts/"):
            assert (tmp_path / key).read_bytes() == body


def test_an_interrupted_fetch_resumes_journal_and_part_files_without_downloading_twice(
    run_in_s3, tmp_path, monkeypatch
):
    client, bodies = run_in_s3
    s3 = client.stack.s3
    got: list[tuple[str, str | None]] = []
    real_get = s3.get_object

    def counting_get(**kwargs):
        got.append((kwargs["Key"], kwargs.get("Range")))
        return real_get(**kwargs)

    monkeypatch.setattr(s3, "get_object", counting_get)
    journal = FetchJournal(tmp_path / client_module.FETCH_LOG)
    # A first fetch finished 5 objects and was killed while writing a sixth: 7 bytes of it in a .part.
    finished = sorted(k for k in bodies if not k.startswith("_parts/"))[:5]
    for key in finished:
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(bodies[key])
        journal.add(key, s3.head_object(Bucket="renders", Key=f"run-1/{key}")["ETag"])
    cut = "p/007.svg"
    (tmp_path / f"{cut}.part").write_bytes(bodies[cut][:7])

    fetched = client.fetch("run-1", tmp_path)
    assert (fetched.downloaded, fetched.kept) == (8, 5)
    fetched_keys = [key.removeprefix("run-1/") for key, _ in got]
    assert sorted(fetched_keys) == sorted(set(bodies) - set(finished) - {"_parts/plain.json"})
    assert (f"run-1/{cut}", "bytes=7-") in got  # the cut object resumed from where it stopped
    assert (tmp_path / cut).read_bytes() == bodies[cut] and not list(tmp_path.rglob("*.part"))
    logged = [
        json.loads(line)["key"] for line in (tmp_path / client_module.FETCH_LOG).read_text().splitlines()
    ]
    assert sorted(logged) == sorted(k for k in bodies if not k.startswith("_parts/"))


def test_a_changed_object_is_fetched_again(run_in_s3, tmp_path):
    client, _bodies = run_in_s3
    client.fetch("run-1", tmp_path)
    s3 = client.stack.s3
    s3.put_object(Bucket="renders", Key="run-1/manifest.json", Body=b'{"new": 1}', **client.sse_kms())
    fetched = client.fetch("run-1", tmp_path)
    assert (fetched.downloaded, fetched.kept) == (1, 12)
    assert (tmp_path / "manifest.json").read_bytes() == b'{"new": 1}'


def test_fetch_refuses_a_key_that_leaves_the_directory(run_in_s3, tmp_path):
    client, _bodies = run_in_s3
    client.stack.s3.put_object(Bucket="renders", Key="run-1/../escape.svg", Body=b"x", **client.sse_kms())
    with pytest.raises(ValueError, match="leaves"):
        client.fetch("run-1", tmp_path / "out")
