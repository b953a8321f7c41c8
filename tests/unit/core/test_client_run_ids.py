"""The cloud path takes the same run ids as the worker: a trailing newline never reaches an execution name."""

from __future__ import annotations

import argparse

import pytest

from farm import remote
from farm.client import FarmClient


@pytest.mark.parametrize("run_id", ["run-1\n", "", "-leading", "a" * 81, "has space"])
def test_start_run_refuses_bad_run_ids_before_calling_the_cloud(run_id):
    with pytest.raises(ValueError, match="run_id"):
        FarmClient(stack=None).start("s3://bucket/spec.json", run_id)


def test_submit_refuses_a_bad_run_id_with_a_usage_error(tmp_path, capsys):
    spec = tmp_path / "spec.json"
    spec.write_text("{}")
    args = argparse.Namespace(spec=str(spec), run_id="run-1\n", wait=False)
    assert remote._cmd_submit(args) == remote.EXIT_USAGE
    assert "--run-id" in capsys.readouterr().err
