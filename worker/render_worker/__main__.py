"""`python -m render_worker`: the Batch container's entry point."""

import sys

from render_worker.worker import main

sys.exit(main())
