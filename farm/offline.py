"""`farm validate` and `farm render`: the render core without any cloud.

`farm render` runs the worker's own loop (render_worker.pipeline.render_slice) with a filesystem sink, and the
manifest and gallery builders PublishResults uses, so what it writes is what the farm would publish.
"""

from __future__ import annotations

import argparse
import gc
import math
import multiprocessing
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from farm.progress import Progress
from render_worker import sizing, spec
from render_worker.errors import Problem, SpecInvalid, SpecNotFound, SpecTooLarge
from render_worker.outputs import build_gallery, build_manifest, manifest_bytes
from render_worker.pipeline import render_slice
from render_worker.records import VariantRecord
from render_worker.storage import FileSink, read_spec

EXIT_INVALID = 2
EXIT_FAILED = 1
OFFLINE_RUN_ID = "offline"
_PARALLEL_FROM = 2000  # below this many variants, starting processes costs more than it saves


def register(subparsers) -> None:
    validate = subparsers.add_parser(
        "validate",
        help="check a catalog spec (exit 0 valid, 2 invalid: one `pointer: problem` line each on stderr)",
    )
    validate.add_argument("spec", help="catalog spec JSON file ('-' for stdin)")
    validate.set_defaults(func=cmd_validate)

    render = subparsers.add_parser("render", help="render every variant of a spec offline into a directory")
    render.add_argument("spec", help="catalog spec JSON file")
    render.add_argument("--out", required=True, type=Path, help="output directory (replaced atomically)")
    render.add_argument(
        "--jobs", type=int, default=os.cpu_count() or 1, help="processes (default: all cores)"
    )
    render.add_argument("--run-id", default=OFFLINE_RUN_ID, help=argparse.SUPPRESS)
    render.set_defaults(func=cmd_render)


def _report(lines: str) -> int:
    print(lines, file=sys.stderr)
    return EXIT_INVALID


def _read(source: str) -> bytes:
    if source == "-":
        data = sys.stdin.buffer.read(spec.MAX_SPEC_BYTES + 1)
        if len(data) > spec.MAX_SPEC_BYTES:
            raise SpecTooLarge(f"stdin is more than {spec.MAX_SPEC_BYTES} bytes")
        return data
    return read_spec(Path(source).absolute().as_uri(), spec.MAX_SPEC_BYTES)


def load(source: str) -> tuple[bytes, spec.Catalog]:
    """Read and validate; SpecNotFound / SpecTooLarge / SpecInvalid otherwise."""
    data = _read(source)
    return data, spec.load_catalog(data)


def load_or_report(source: str):
    """(data, catalog), or the exit code after reporting every problem: no traceback for any input."""
    try:
        return load(source)
    except SpecInvalid as exc:
        return _report(exc.report())  # every listed problem, then how many more there are
    except (SpecNotFound, SpecTooLarge) as exc:
        return _report(str(Problem("", str(exc))))
    except Exception as exc:  # whatever the input is, one line, never a traceback
        return _report(str(Problem("", f"cannot validate: {type(exc).__name__}: {exc}")))


def cmd_validate(args: argparse.Namespace) -> int:
    loaded = load_or_report(args.spec)
    if isinstance(loaded, int):
        return loaded
    _, catalog = loaded
    if catalog.override is not None:  # the deployed stack's sizing model decides otherwise (ValidateInput)
        size = sizing.array_size(catalog.variant_count, catalog.override)
        shape = f"the spec's variants_per_child {catalog.override}, array_size {size}"
    else:
        shape = "children chosen by the stack's sizing model when the workflow runs it"
    counts = f"{catalog.variant_count} variants in {len(catalog.products)} products"
    print(f"{args.spec}: valid: {counts} ({shape})")
    return 0


# Process-pool workers: each parses the (already validated) spec once.
_catalog: spec.Catalog | None = None


def _init_worker(data: bytes) -> None:
    global _catalog
    _catalog = spec.Catalog(spec.parse(data))
    gc.freeze()  # the spec's objects live as long as the process: keep the collector off them


def _render_chunk(start: int, stop: int, root: str) -> list[VariantRecord]:
    assert _catalog is not None
    return _checked(render_slice(_catalog, range(start, stop), FileSink(Path(root), atomic=False)))


def _checked(result) -> list[VariantRecord]:
    if result.failed:
        index, sku, reason = result.failed[0]
        raise RuntimeError(f"{len(result.failed)} variant(s) not written; first: #{index} {sku}: {reason}")
    return result.records


@dataclass
class OfflineRun:
    catalog: spec.Catalog
    records: list[VariantRecord]
    seconds: float


def render_into(data: bytes, catalog: spec.Catalog, root: Path, jobs: int, progress=None) -> OfflineRun:
    """Render every variant into `root` (which must exist); `progress(n)` is called as variants finish."""
    started = time.monotonic()
    n = catalog.variant_count
    if jobs <= 1 or n < _PARALLEL_FROM:
        gc.freeze()  # the spec's objects live as long as the run: keep the collector off them (~30% faster)
        result = render_slice(catalog, range(n), FileSink(root, atomic=False), on_progress=progress)
        return OfflineRun(catalog, _checked(result), time.monotonic() - started)
    chunk = max(250, math.ceil(n / (jobs * 16)))  # small chunks: even load and a smooth progress bar
    records: list[VariantRecord] = []
    # spawn, not fork: the progress bar's refresh thread may hold a lock at fork time.
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(jobs, mp_context=context, initializer=_init_worker, initargs=(data,)) as pool:
        futures = [
            pool.submit(_render_chunk, start, min(start + chunk, n), str(root))
            for start in range(0, n, chunk)
        ]
        for future in as_completed(futures):
            part = future.result()
            records.extend(part)
            if progress is not None:
                progress(len(part))
    records.sort(key=lambda r: r.index)
    return OfflineRun(catalog, records, time.monotonic() - started)


def write_outputs(run: OfflineRun, root: Path, *, run_id: str, spec_uri: str) -> None:
    manifest = build_manifest(run.catalog, run.records, run_id=run_id, spec_uri=spec_uri, output_uri=None)
    (root / "manifest.json").write_bytes(manifest_bytes(manifest))
    (root / "index.html").write_bytes(build_gallery(run.catalog, manifest))


def _replace_dir(new: Path, out: Path) -> None:
    """Put `new` where `out` is: readers see the old tree or the new one, never a mix."""
    if not out.exists():
        os.rename(new, out)
        return
    old = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.old-"))
    os.rename(out, old / "tree")
    os.rename(new, out)
    shutil.rmtree(old, ignore_errors=True)


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def cmd_render(args: argparse.Namespace) -> int:
    loaded = load_or_report(args.spec)
    if isinstance(loaded, int):
        return loaded
    data, catalog = loaded
    out: Path = args.out.absolute()
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / "manifest.json").exists())):
        print(f"{out}: exists and is not an earlier `farm render` output; not replacing it", file=sys.stderr)
        return EXIT_FAILED
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.tmp-"))
    try:
        # On a terminal, a bar; in logs and pipes nothing (the summary line below says it all).
        with Progress("rendering", total=catalog.variant_count, unit="variants", quiet=True) as bar:
            run = render_into(data, catalog, tmp, max(1, args.jobs), progress=bar.advance)
        write_outputs(run, tmp, run_id=args.run_id, spec_uri=Path(args.spec).absolute().as_uri())
        os.chmod(tmp, 0o777 & ~_umask())  # noqa: S103 - mkdtemp makes it 0700; give it what mkdir would
        _replace_dir(tmp, out)
    except BaseException as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        if isinstance(exc, KeyboardInterrupt):
            raise
        print(f"render failed, nothing written: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_FAILED
    rate = catalog.variant_count / run.seconds if run.seconds else float("inf")
    print(
        f"rendered {catalog.variant_count} variants into {out} in {run.seconds:.1f}s "
        f"({rate:.0f} variants/s); manifest.json and index.html written"
    )
    return 0
