"""Placeholder: subcommands are registered here (see farm/cli.py)."""


def register(subparsers) -> None:
    pass
