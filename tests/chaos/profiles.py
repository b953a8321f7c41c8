"""Chaos profiles: the load (the perf suite's locust users, reused as they are) and the faults switched on.

Every fault must be survived: a Spot reclaim by the Batch retry (evaluateOnExit on the status reason) resuming
from the EFS progress file, an S3 SlowDown by boto3's standard retries, a Lambda throttle by the state
machine's Retry. The faults never hit one target more often than `max_repeats` (and a Spot reclaim never hits
a last attempt), below each of those retry budgets, so any run that does not succeed is a bug, not bad luck.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from tests.perf.profiles import Profile


@dataclass(frozen=True)
class ChaosProfile:
    name: str
    executions: int  # concurrent Step Functions executions (locust ExecutionUsers)
    jobs: int  # concurrent standalone Batch array jobs (locust BatchUsers)
    iterations: int  # runs each user starts, one after the other
    run_variants: int  # variants per run
    run_variants_per_child: int  # so each run is an array of run_variants / this children
    run_time_s: int  # hard bound on the load phase
    run_timeout_s: int  # one run may take at most this long
    faults: dict[str, Any] = field(default_factory=dict)  # localcloud.faults settings (scope: the session)
    quiet_s: int = 10  # no further completion message for this long before messages are counted

    def load_profile(self) -> Profile:
        """The perf suite's Profile for tests/perf/load.run_load (its benchmark fields are unused here)."""
        return Profile(
            name=f"chaos-{self.name}",
            execution_users=self.executions,
            batch_users=self.jobs,
            iterations=self.iterations,
            run_variants=self.run_variants,
            run_variants_per_child=self.run_variants_per_child,
            run_time_s=self.run_time_s,
            run_timeout_s=self.run_timeout_s,
            worker_variants=0,
            worker_repeats=0,
            e2e_variants=0,
            scaling_variants=0,
        )

    @property
    def runs(self) -> dict[str, int]:
        return {"execution": self.executions * self.iterations, "batch": self.jobs * self.iterations}

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


PROFILES = {
    # ~3 minutes on 2 cores: 30 runs of 3 children each; ~25 Lambda invocations, ~100 attempts, ~2000 PUTs.
    "short": ChaosProfile(
        name="short",
        executions=10,
        jobs=20,
        iterations=1,
        run_variants=60,
        run_variants_per_child=20,
        run_time_s=540,
        run_timeout_s=480,
        faults={
            "spot_reclaim": 0.3,
            "s3_put_slowdown": 0.05,
            "lambda_throttle": 0.3,
            "max_repeats": 2,
            "spot_reclaim_after_s": [0.3, 2.5],
            "seed": 12,
        },
    ),
    # ~15 minutes: 150 runs of 4 children each, twice the variants per child.
    "long": ChaosProfile(
        name="long",
        executions=25,
        jobs=50,
        iterations=2,
        run_variants=40,
        run_variants_per_child=10,
        run_time_s=1800,
        run_timeout_s=1500,
        faults={
            "spot_reclaim": 0.25,
            "s3_put_slowdown": 0.05,
            "lambda_throttle": 0.2,
            "max_repeats": 2,
            "spot_reclaim_after_s": [0.5, 4.0],
            "seed": 12,
        },
        quiet_s=20,
    ),
}
