"""The developer harness: what builds, deploys, reviews and measures the farm from this repository (the
Terraform runner, Lambda zips, the worker image, plan review, the IAM report, benchmarks, the demo).

Not part of what a merchandiser installs (the `farm` CLI, the worker, the local cloud): it runs from a
checkout, through nox, and finds everything relative to one root (harness.paths.REPO).
"""
