"""``seamless-services``: list and stop the services that set_stage() launched for this user,
and renew the TLS credentials they use (``renew-credentials [--host H]``).

Every launch through :mod:`seamless_config.launching` leaves a record in
``~/.seamless/launches/<key>.json`` (the launch dict). ``list`` shows them with their state as
remote-http-launcher reports it (locally, or over SSH for a frontend); ``stop`` stops them by
PID. Exit codes: 0 ok, 1 failure (e.g. an unknown key), 2 usage.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any, Sequence

from . import launching


def stop_command(key: str) -> str:
    """The shell command that stops the service ``key`` (this interpreter's seamless-services)."""
    return launching.tool_command({}, "seamless-services", "stop", key)


def _state(config: dict[str, Any]) -> str:
    state = launching.server_state(config)
    if not state:
        return "not running"
    pid = state.get("pid")
    status = state.get("status", "unknown")
    if status == "running" and isinstance(pid, int) and launching.ssh_host(config) is None and not launching.pid_alive(pid):
        return "dead"
    return f"{status} (pid {pid})" if pid else str(status)


def _describe(config: dict[str, Any]) -> str:
    meta = config.get("meta") or {}
    parts = [f"{k}={meta[k]}" for k in ("cluster", "queue", "project", "stage") if meta.get(k)]
    return " ".join(parts)


def list_services(out=sys.stdout) -> int:
    records = launching.records()
    if not records:
        print("No services launched by this user (~/.seamless/launches is empty).", file=out)
        return 0
    for key, config in records.items():
        where = launching.ssh_host(config) or "this machine"
        print(f"{key}\t{_state(config)}\t{where}\t{_describe(config)}", file=out)
    return 0


def stop_services(keys: Sequence[str], *, every: bool, out=sys.stdout, err=sys.stderr) -> int:
    records = launching.records()
    if every:
        keys = list(records)
    unknown = [k for k in keys if k not in records]
    for key in unknown:
        print(f"seamless-services: no launched service '{key}'; see 'seamless-services list'", file=err)
    for key in keys:
        if key in records:
            stopped = launching.stop(records[key])
            print(f"{key}: {'stopped' if stopped else 'was not running (record removed)'}", file=out)
    return 1 if unknown else 0


def renew_credentials(host: str | None, *, out=sys.stdout, err=sys.stderr) -> int:
    """Stop the services of ``host`` (None: this machine), which use the old credentials, create
    new credentials there and, for a frontend, fetch the new client copy."""
    from seamless_service.credentials import CredentialError

    from . import client_credentials

    for key, config in launching.records().items():
        if launching.ssh_host(config) == host:
            launching.stop(config)
            print(f"{key}: stopped (it used the old credentials)", file=out)
    try:
        creds = client_credentials.renew({"hostname": host} if host else {})
    except CredentialError as exc:
        print(f"seamless-services: {exc}", file=err)
        return 1
    print(f"New TLS credentials {'of ' + host if host else 'of this machine'}: {creds.directory}", file=out)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seamless-services",
        description="List or stop the services (Dask schedulers, hashservers, databases, "
        "jobservers) that seamless_config.set_stage() launched for this user.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("list", help="one line per launched service: key, state, host, cluster/queue/project")
    stop = sub.add_parser("stop", help="stop services by key (as shown by 'list')")
    stop.add_argument("keys", nargs="*", metavar="KEY", help="launcher key, e.g. pure-daskserver-local-default")
    stop.add_argument("--all", action="store_true", help="stop every launched service")
    renew = sub.add_parser(
        "renew-credentials",
        help="create a new certificate authority and certificates (after expiry or a leak); the "
        "services using the old ones are stopped first and relaunch at the next set_stage()",
    )
    renew.add_argument("--host", help="the frontend whose credentials to renew, as given to ssh "
                       "(default: this machine)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        return list_services()
    if args.command == "renew-credentials":
        return renew_credentials(args.host)
    if not args.keys and not args.all:
        parser.error("stop: give one or more KEYs, or --all")
    return stop_services(args.keys, every=args.all)


if __name__ == "__main__":
    sys.exit(main())
