"""`localcloud up|down|status|env|logs|serve` (also `python -m localcloud ...`)."""

from __future__ import annotations

import argparse
import shlex
import sys

from localcloud import config, credentials, lifecycle

# A session token or a profile left in the caller's shell would travel with the local keys, or beat them.
ENV_UNSET = ("AWS_SESSION_TOKEN", "AWS_SECURITY_TOKEN", "AWS_PROFILE", "AWS_DEFAULT_PROFILE")


def env_lines(found: credentials.Credentials) -> list[str]:
    """Shell lines that aim any AWS tool at the local cloud as its admin: `eval "$(localcloud env)"`."""
    return [f"unset {' '.join(ENV_UNSET)}"] + [
        f"export {name}={shlex.quote(value)}" for name, value in found.env().items()
    ]


def _env(port: int | None, state_dir: str | None) -> int:
    """The export lines of this state directory's running cloud (never another checkout's)."""
    endpoint = lifecycle.endpoint(port)
    other = lifecycle.occupant(port, state_dir)
    if other:
        problem = f"{other}, not the cloud of {config.state_dir(state_dir)}"
    elif lifecycle.health(port) is None:
        problem = f"nothing answers at {endpoint}: start it with `localcloud up`"
    else:
        try:
            print("\n".join(env_lines(credentials.for_endpoint(endpoint, state_dir))))
            return 0
        except credentials.NoCredentials as err:
            problem = str(err)
    print(f"localcloud: {problem}", file=sys.stderr)
    return 1


def _down(port: int | None, state_dir: str | None) -> int:
    state = config.state_dir(state_dir)
    if lifecycle.down(port, state_dir):
        print(f"stopped the local cloud of {state}")
        return 0
    print(f"not running: no local cloud of {state}")
    other = lifecycle.occupant(port, state_dir)
    if other:
        print(f"left alone: {other}")
    return 0


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
    sub.add_parser("down", help="stop the server, its job/Lambda processes and containers, its registry")
    sub.add_parser("status", help="running/stopped, endpoint, pid, boot id, runtime, registry, server errors")
    sub.add_parser("env", help='print export lines for endpoint, keys, region: eval "$(localcloud env)"')
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
        except (lifecycle.PortTaken, lifecycle.StateDirInUse, lifecycle.StartFailed) as err:
            print(f"localcloud: {err}", file=sys.stderr)
            return 1
        return 0
    if args.command == "down":
        return _down(args.port, args.state_dir)
    if args.command == "env":
        return _env(args.port, args.state_dir)
    if args.command == "status":
        info = lifecycle.status(args.port, args.state_dir)
        if info is None:
            print(f"stopped ({lifecycle.endpoint(args.port)})")
            return 0
        print(f"running {info['endpoint']} pid={info['pid']} boot_id={info['boot_id']}")
        print(f"state {info['state_dir']}" + ("" if info["own"] else " (another state directory's cloud)"))
        print(f"runtime {info['runtime']}")
        if info["registry"]:
            print(f"registry {info['registry']} (ECR)")
        else:
            print(
                f"registry off: {info.get('registry_off') or 'unknown'} (ECR keeps moto's in-memory images)"
            )
        print(f"unexpected server errors {info['errors']} (injected faults {info['injected']})")
        for entry in info["recent_errors"][-5:]:
            print(f"  {lifecycle.describe_error(entry)}")
        return 0
    sys.stdout.write(lifecycle.logs(args.state_dir, args.lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
