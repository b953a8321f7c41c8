"""Patches to moto, one module per service, each with `apply()`. The server applies every module here,
sorted by name; other engineers add `tf_*.py` modules for Terraform-compatibility fixes."""
