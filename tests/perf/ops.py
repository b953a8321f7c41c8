"""What the load users, the verifier and the benchmarks check on top of farm.client.FarmClient: the perf
specs' uploads and the objects a run must have written.

Plain functions, no locust and no threads, so they run the same under gevent and in threads.
"""

from __future__ import annotations

from typing import Any

from tests.perf import specs


class RunFailed(Exception):
    """A run ended in a state other than SUCCEEDED, or did not end in time."""


class OutputsMissing(Exception):
    """A run reported success but objects it must have written are absent."""


def put_spec(client, run_id: str, spec: dict[str, Any]) -> str:
    """The perf specs live at s3://<specs>/perf/<run_id>.json."""
    return client.upload_spec(specs.spec_bytes(spec), "perf", f"{run_id}.json")


def missing_outputs(
    client, run_id: str, spec: dict[str, Any], array_size: int, *, published: bool
) -> list[str]:
    """Keys the run must have written that are absent: SVGs, part records, manifest/gallery if published."""
    have = set(client.keys(run_id))
    want = list(specs.expected_svg_keys(spec))
    want += [f"_parts/{child}.json" for child in specs.child_names(array_size)]
    if published:
        want += ["manifest.json", "index.html"]
    return [f"{run_id}/{key}" for key in want if key not in have]


def check_outputs(client, run_id: str, spec: dict[str, Any], array_size: int, *, published: bool) -> None:
    missing = missing_outputs(client, run_id, spec, array_size, published=published)
    if missing:
        raise OutputsMissing(f"{run_id}: {len(missing)} objects missing, first: {', '.join(missing[:5])}")


def session_messages(
    client, session: str, queue_output: str = "notifications_queue_url", wait_seconds: int = 1
):
    """One receive of the queue `queue_output` names (the notifications queue by default): this session's
    messages (run ids starting with it), deleted; everyone else's made visible again at once."""
    return client.receive(
        queue_output,
        accept=lambda message: str(message.get("run_id", "")).startswith(session),
        wait_seconds=wait_seconds,
    )
