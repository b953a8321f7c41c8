"""The load profiles: how many concurrent users of each kind, how much work each run carries, the bounds."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class Profile:
    name: str
    execution_users: int  # concurrent Step Functions executions
    batch_users: int  # concurrent standalone Batch array jobs
    iterations: int  # runs each user starts, one after the other
    run_variants: int  # variants per load run (small: the load is about concurrency, not volume)
    run_variants_per_child: int  # so each load run is a real array job of run_variants / this children
    run_time_s: int  # hard bound on the locust phase
    run_timeout_s: int  # one run may take at most this long
    worker_variants: int  # benchmark (1): one child's slice
    worker_repeats: int  # interleaved child/bare rounds; the target is their median ratio
    e2e_variants: int  # benchmark (2), at the stack's default sizing
    scaling_variants: int  # benchmark (3): the same total at 1, 2 and 4 children
    e2e_repeats: int = 3  # 1-variant and large executions each; the targets are medians
    huge_variants: int = 0  # one more execution of this many variants at default sizing (0: none)
    teardown_counts: tuple[int, ...] = (5_000, 10_000)  # objects x 2 versions, emptied with speed-ups off, on

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


PROFILES = {
    "seed": Profile(
        name="seed",
        execution_users=5,
        batch_users=10,
        iterations=1,
        run_variants=4,
        run_variants_per_child=2,
        run_time_s=240,
        run_timeout_s=200,
        worker_variants=1500,
        worker_repeats=3,
        e2e_variants=10_000,
        scaling_variants=2000,
    ),
    "stress": Profile(
        name="stress",
        execution_users=25,
        batch_users=50,
        iterations=1,
        run_variants=4,
        run_variants_per_child=2,
        run_time_s=600,
        run_timeout_s=540,
        worker_variants=4000,
        worker_repeats=3,
        e2e_variants=10_000,
        scaling_variants=2400,
        huge_variants=100_000,
        teardown_counts=(10_000, 20_000),  # moto's own listing takes minutes here: not in CI's seed profile
    ),
}
