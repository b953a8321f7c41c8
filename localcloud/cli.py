"""`localcloud up|down|status|logs|serve` (also `python -m localcloud ...`)."""

from __future__ import annotations

import argparse
import sys

from localcloud import lifecycle


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="localcloud", description="The embedded, Docker-free AWS on 127.0.0.1."
    )
    parser.add_argument("--port", type=int, default=None, help="default $LOCALCLOUD_PORT or 4599")
    parser.add_argument(
        "--state-dir", default=None, help="default $LOCALCLOUD_STATE_DIR or <repo>/.localcloud"
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("up", help="start (idempotent) and print the endpoint")
    sub.add_parser("down", help="stop the server and its job/Lambda processes")
    sub.add_parser("status", help="running/stopped, endpoint, pid, boot id, unexpected server errors")
    logs_parser = sub.add_parser("logs", help="print the tail of the log")
    logs_parser.add_argument("-n", "--lines", type=int, default=200)
    serve_parser = sub.add_parser("serve", help="run the server in the foreground (what `up` starts)")
    serve_parser.add_argument("--port", dest="serve_port", type=int, default=None)
    args = parser.parse_args(argv)

    if args.command == "serve":
        from localcloud import server

        server.serve(port=args.serve_port or args.port, state_dir=args.state_dir)
        return 0
    if args.command == "up":
        try:
            print(lifecycle.up(args.port, args.state_dir))
        except (lifecycle.PortTaken, lifecycle.StartFailed) as err:
            print(f"localcloud: {err}", file=sys.stderr)
            return 1
        return 0
    if args.command == "down":
        print("stopped" if lifecycle.down(args.port, args.state_dir) else "not running")
        return 0
    if args.command == "status":
        info = lifecycle.status(args.port, args.state_dir)
        if info is None:
            print(f"stopped ({lifecycle.endpoint(args.port)})")
            return 0
        print(f"running {info['endpoint']} pid={info['pid']} boot_id={info['boot_id']}")
        print(f"state {info['state_dir']}")
        print(f"unexpected server errors {info['errors']} (injected faults {info['injected']})")
        for entry in info["recent_errors"][-5:]:
            print(f"  {lifecycle.describe_error(entry)}")
        return 0
    sys.stdout.write(lifecycle.logs(args.state_dir, args.lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
