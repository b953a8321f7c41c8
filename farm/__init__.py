"""The `farm` CLI and the harness that nox sessions call."""
