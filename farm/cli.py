"""`farm`: the merchandiser's and operator's command line.

Offline commands (validate, render) live in farm.offline; commands against a deployed stack (submit, status,
fetch) live in farm.remote. Each module registers its own subcommands.
"""

from __future__ import annotations

import argparse
import sys

from farm import offline, remote


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="farm", description="Product-catalog render farm.")
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    offline.register(subparsers)
    remote.register(subparsers)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
