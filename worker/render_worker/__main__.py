"""`python -m render_worker [cleanup]`: the Batch container's entry point.

No argument renders this child's slice (render_worker.worker); `cleanup` removes the run's scratch directory
once the run has ended (render_worker.cleanup), as the workflow's clean-up job does.

The image has no ENTRYPOINT: the job definition's command (`python -m render_worker`, or the workflow's
`python -m render_worker cleanup`) replaces its CMD, as Batch does, so the arguments arrive here as they are.
Anything else is a usage error (exit 2, which Batch does not retry).
"""

from __future__ import annotations

import sys
from collections.abc import Callable

EXIT_USAGE = 2


def program(args: list[str]) -> Callable[[], int] | None:
    """The program the arguments name, None when they name none."""
    if not args:
        from render_worker.worker import main

        return main
    if args == ["cleanup"]:
        from render_worker.cleanup import main

        return main
    return None


def main(argv: list[str]) -> int:
    chosen = program(argv[1:])
    if chosen is None:
        print(f"usage: python -m render_worker [cleanup] (got {argv[1:]})", file=sys.stderr)
        return EXIT_USAGE
    return chosen()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
