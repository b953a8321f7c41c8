"""One 1,000-variant execution end to end, timed: upload -> SUCCEEDED -> completion message on the queue.

The measurement goes to build/measurements/e2e-1000-<env>.json and is printed (pytest -s shows it).
"""

from __future__ import annotations

import json
import time

import pytest

from harness.paths import REPO
from tests.conftest import make_spec
from tests.integration import checks

pytestmark = pytest.mark.live


VARIANTS = 1000


def test_thousand_variant_execution_end_to_end(farm, stack):
    spec = make_spec("scale-1000", products=100, variants_per_product=10)
    started = time.monotonic()
    run = farm.run(spec, "scale")
    assert run.state.status == "SUCCEEDED", f"{run.state.error}: {run.state.cause}"
    (message,) = farm.completion(run.run_id)
    seconds = time.monotonic() - started
    assert checks.only_message(farm, run.run_id, "SUCCEEDED") == message  # and no other, after a quiet window
    assert message["variant_count"] == VARIANTS
    svgs = [k for k in farm.keys(run.run_id) if k.endswith(".svg")]
    assert len(svgs) == VARIANTS
    manifest = json.loads(farm.get(run.run_id, "manifest.json"))
    assert manifest["variant_count"] == VARIANTS and len(manifest["variants"]) == VARIANTS
    result = {
        "env": stack.env,
        "run_id": run.run_id,
        "variants": VARIANTS,
        "array_size": run.state.children_total,
        "seconds_end_to_end": round(seconds, 1),
        "seconds_execution": round(run.state.seconds or 0, 1),
        "variants_per_second": round(VARIANTS / seconds, 1),
    }
    out = REPO / "build" / "measurements" / f"e2e-1000-{stack.env}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"\n1,000-variant execution: {json.dumps(result)}")
