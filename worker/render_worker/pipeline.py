"""Render a slice of the flat order and hand each SVG to a sink: the one loop the worker
and `farm render` share.

With concurrency > 1 the calling thread renders while a thread pool uploads, so rendering never waits for a
PUT and PUTs never wait for rendering; a semaphore bounds the SVGs held in memory.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from render_worker import logs
from render_worker.records import VariantRecord
from render_worker.render import Renderer, digest
from render_worker.spec import Catalog, relative_key
from render_worker.storage import Sink

MAX_UPLOAD_FAILURES = (
    20  # past this, S3 is not going to come back within this attempt: stop and let Batch retry
)
SLOW_DELAY_S = 0.015  # test hook: a SLOW- SKU's extra render time (2,000 of them: 30 s on one child)
log = logs.get_logger("render_worker.pipeline")


@dataclass(frozen=True)
class TestHooks:
    """FARM_TEST_HOOKS=1 only (envs/local): a SKU starting with CRASH- fails on every attempt; one starting
    with FAILONCE- fails on the run's attempt 1 (every Batch retry of it) and renders on a rerun (FARM_ATTEMPT
    >= 2); one starting with SLOW- takes SLOW_DELAY_S longer to render (a run long enough to watch, with no
    change to the job definition); an optional per-variant delay lets a test kill a child mid-slice."""

    crash_prefix: str | None = None
    fail_once_prefix: str | None = None
    slow_prefix: str | None = None
    attempt: int = 1
    delay_seconds: float = 0.0

    @classmethod
    def from_env(cls, environ: dict[str, str], attempt: int = 1) -> TestHooks:
        if environ.get("FARM_TEST_HOOKS") != "1":
            return cls()
        return cls(
            crash_prefix="CRASH-",
            fail_once_prefix="FAILONCE-",
            slow_prefix="SLOW-",
            attempt=attempt,
            delay_seconds=float(environ.get("FARM_TEST_RENDER_DELAY", "0") or 0),
        )

    def failure(self, sku: str) -> str | None:
        """Why the hooks fail this SKU on this attempt; None when they let it render."""
        if self.crash_prefix and sku.startswith(self.crash_prefix):
            return f"test hook: SKU starts with {self.crash_prefix}"
        if self.fail_once_prefix and self.attempt == 1 and sku.startswith(self.fail_once_prefix):
            return f"test hook: SKU starts with {self.fail_once_prefix} (attempt 1)"
        return None

    def delay(self, sku: str) -> float:
        """Seconds to wait before rendering this SKU."""
        slow = SLOW_DELAY_S if self.slow_prefix and sku.startswith(self.slow_prefix) else 0.0
        return self.delay_seconds + slow


@dataclass
class SliceResult:
    records: list[VariantRecord] = field(default_factory=list)
    failed: list[tuple[int, str, str]] = field(default_factory=list)  # (index, sku, reason)
    rendered: int = 0
    resumed: int = 0
    seconds: float = 0.0
    render_s: float = 0.0  # the calling thread inside the renderer
    upload_wait_s: float = 0.0  # the calling thread waiting for uploads: a full queue, then the last PUTs


def render_slice(
    catalog: Catalog,
    flat: Sequence[int],
    sink: Sink,
    *,
    renderer: Renderer | None = None,
    done: dict[int, tuple[str, int]] | None = None,
    on_done: Callable[[int, str, int], None] | None = None,
    concurrency: int = 1,
    hooks: TestHooks = TestHooks(),  # noqa: B008 - frozen, immutable default
    on_progress: Callable[[int], None] | None = None,
) -> SliceResult:
    """Render every index of `flat` (sorted) not already in `done`, put it to `sink`, call
    `on_done(index, sha, bytes)` after each successful put. Returns records for the whole slice (resumed ones
    included), in flat order."""
    started = time.monotonic()
    renderer = renderer or Renderer(catalog)
    done = done or {}
    result = SliceResult()
    records: dict[int, VariantRecord] = {}
    lock = threading.Lock()
    upload_failures = 0

    def finished(index: int, product_id: str, sku: str, key: str, sha: str, size: int) -> None:
        if on_done is not None:
            try:
                on_done(index, sha, size)
            except Exception as exc:  # e.g. scratch full: the variant is uploaded but not recorded
                with lock:
                    result.failed.append((index, sku, f"recording progress failed: {exc}"))
                return
        with lock:
            records[index] = VariantRecord(index, product_id, sku, key, size, sha)
        if on_progress is not None:
            on_progress(1)

    def upload(index: int, product_id: str, sku: str, key: str, body: bytes) -> None:
        nonlocal upload_failures
        sha = digest(body)
        try:
            sink.put(key, body)
        except Exception as exc:  # recorded and reported: the child exits 1 and Batch retries it
            with lock:
                upload_failures += 1
                result.failed.append((index, sku, f"upload failed: {exc}"))
            log.warning("upload failed", extra={"index": index, "key": key, "error": str(exc)})
            return
        finished(index, product_id, sku, key, sha, len(body))

    pool = (
        ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="upload") if concurrency > 1 else None
    )
    in_flight = threading.BoundedSemaphore(concurrency * 4) if pool else None
    try:
        for index, product, variant in catalog.entries(flat):
            product_id, sku = product["product_id"], variant["sku"]
            key = relative_key(product_id, sku)  # records name keys relative to the run's output prefix
            if index in done:
                sha, size = done[index]
                records[index] = VariantRecord(index, product_id, sku, key, size, sha)
                result.resumed += 1
                if on_progress is not None:
                    on_progress(1)
                continue
            delay = hooks.delay(sku)
            if delay:
                time.sleep(delay)
            hooked = hooks.failure(sku)
            if hooked:
                with lock:
                    result.failed.append((index, sku, hooked))
                continue
            if upload_failures >= MAX_UPLOAD_FAILURES:
                break
            began = time.monotonic()
            body = renderer.render(product, variant)
            result.render_s += time.monotonic() - began
            result.rendered += 1
            if pool is None:
                began = time.monotonic()
                upload(index, product_id, sku, key, body)
                result.upload_wait_s += time.monotonic() - began
                continue
            began = time.monotonic()
            in_flight.acquire()
            result.upload_wait_s += time.monotonic() - began
            future = pool.submit(upload, index, product_id, sku, key, body)
            future.add_done_callback(lambda _f: in_flight.release())
    finally:
        if pool is not None:
            began = time.monotonic()
            pool.shutdown(wait=True)
            result.upload_wait_s += time.monotonic() - began
    # Whatever is neither recorded nor failed was given up after repeated upload failures, or lost to an
    # error after its put (recording progress): either way it is not done.
    failed = {f[0] for f in result.failed}
    missing = [i for i in flat if i not in records and i not in failed]
    reason = (
        "not attempted after repeated upload failures" if upload_failures >= MAX_UPLOAD_FAILURES else "lost"
    )
    result.failed.extend((i, "", reason) for i in missing)
    result.records = [records[i] for i in sorted(records)]
    result.failed.sort()
    result.seconds = time.monotonic() - started
    return result
