"""``seamless-services``: list, stop and read the logs of the services set_stage() launched, and
renew the TLS credentials they use (``renew-credentials [--host H]``).

Every launch through :mod:`seamless_config.launching` leaves a record in
``~/.seamless/launches/<key>.json`` (the launch dict). ``list`` shows them with their state as
remote-http-launcher reports it (locally, or over SSH for a frontend), their address, age and
idle time (which our services publish in their status file);
``stop`` stops them by PID; ``logs`` prints a service's output (RHL's ``<key>.log``, where the
service runs). A PID counts only when it is still the key's service (:mod:`.service_records`;
over SSH the client runs ``is-service KEY PID`` on the frontend); a live service that the
records miss but that recorded itself is listed and stopped too. Exit codes: 0 ok, 1 failure
(e.g. an unknown key), 2 usage.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from dataclasses import dataclass
from typing import Any, Mapping, Sequence, TextIO

from . import launching, service_records

#: Seconds between two reads of a followed log.
FOLLOW_INTERVAL = 1.0
_ANY_ADDRESS = ("0.0.0.0", "::", "")


def stop_command(key: str) -> str:
    """The shell command that stops the service ``key`` (this interpreter's seamless-services)."""
    return launching.tool_command({}, "seamless-services", "stop", key)


def logs_command(config: Mapping[str, Any]) -> str:
    """The shell command that prints the log of the service of ``config`` (wherever it runs)."""
    host = launching.ssh_host(config)
    extra = () if host is None else ("--host", host)
    return launching.tool_command({}, "seamless-services", "logs", config["key"], *extra)


# --- the state of a service -------------------------------------------------------------------


@dataclass
class Probe:
    """What remote-http-launcher knows of a key where its service runs."""

    state: dict[str, Any] | None  # its server record (pid, ports, status), None: no server
    mtime: float | None  # when the service last wrote its status
    error: str | None = None  # why nothing could be asked (e.g. the frontend is unreachable)


def probe(config: Mapping[str, Any]) -> Probe:
    """Ask (``rhl-inspect``, over SSH for a frontend) for the server record of ``config``'s key."""
    host = launching.ssh_host(config)
    try:
        result = launching.run_tool(config, ["rhl-inspect", config["key"], "--with-mtime"], timeout=30)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return Probe(None, None, f"could not ask {host or 'this machine'}: {exc}")
    if result.returncode == 255 and host is not None:
        lines = result.stderr.strip().splitlines()
        return Probe(None, None, f"ssh {host} failed: {lines[-1] if lines else 'exit code 255'}")
    if result.returncode != 0:
        return Probe(None, None)
    try:
        data = json.loads(result.stdout)
        state, mtime = data["data"], float(data["mtime"])
    except (json.JSONDecodeError, KeyError, TypeError, ValueError):
        return Probe(None, None, f"unreadable answer of rhl-inspect: {result.stdout[:200]!r}")
    return Probe(state if isinstance(state, dict) else None, mtime)


def state_of(config: Mapping[str, Any], found: Probe) -> dict[str, Any]:
    """``state`` (running, starting, failed, dead, not running or unknown), ``pid``, ``detail``.

    A recorded PID is reported as running only when it is still the key's service; locally, a
    live service that the launcher's state does not name is found through its own record.
    """
    if found.error is not None:
        return {"state": "unknown", "pid": None, "detail": found.error}
    local = launching.ssh_host(config) is None
    own = service_records.live_service_pid(config["key"]) if local else None
    if found.state is None:
        if own is not None:
            return {"state": "running", "pid": own, "detail": "the launcher's state is unreadable"}
        return {"state": "not running", "pid": None, "detail": None}
    pid = found.state.get("pid")
    status = str(found.state.get("status", "unknown"))
    if status in ("running", "starting") and isinstance(pid, int) and not launching.service_alive(config, pid):
        if own is not None:
            return {"state": "running", "pid": own, "detail": f"the launcher's state names pid {pid}"}
        return {"state": "dead", "pid": None, "detail": f"pid {pid} is not the service"}
    return {"state": status, "pid": pid if isinstance(pid, int) else None, "detail": found.state.get("reason")}


def _state_text(state: Mapping[str, Any]) -> str:
    text = state["state"]
    if state["pid"] is not None and text != "dead":
        text += f" (pid {state['pid']})"
    return text + (f": {state['detail']}" if state["detail"] else "")


def _client_payload(key: str) -> dict[str, Any]:
    """RHL's client record of ``key``: the service's address as seen from this machine."""
    from .rhl_adapter import client_state_path

    path = client_state_path(key)
    try:
        data = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def addresses(config: Mapping[str, Any], state: Mapping[str, Any] | None) -> dict[str, str]:
    """``url`` (and ``dashboard`` for a Dask scheduler) of a running service, as reachable from here.

    From the client record of the last launch from this machine (tunnelled ports included), else
    from the server record and the host the service runs on.
    """
    if not state or state.get("status") != "running" or not isinstance(state.get("port"), int):
        return {}
    payload = _client_payload(config["key"])
    if payload.get("tunneled-port", payload.get("port")) != state["port"]:
        payload = {}  # none, or the record of an earlier server under this key
    if not payload:
        interface = state.get("network_interface") or config.get("network_interface") or "127.0.0.1"
        host = config.get("hostname") or ("127.0.0.1" if interface in _ANY_ADDRESS else interface)
        payload = {"hostname": host, **{k: v for k, v in state.items() if k == "port" or k.endswith("_port")}}
    host, port = payload.get("hostname"), payload.get("port")
    tls = bool((config.get("meta") or {}).get("tls"))
    web = "https" if tls else "http"
    if "dashboard_port" in payload:
        return {"url": f"{'tls' if tls else 'tcp'}://{host}:{port}", "dashboard": f"{web}://{host}:{payload['dashboard_port']}/status"}
    return {"url": f"{web}://{host}:{port}"}


def describe(config: Mapping[str, Any], now: float | None = None) -> dict[str, Any]:
    """One service for ``list``: key, state, where, what it serves, address, age."""
    found = probe(config)
    state = state_of(config, found)
    meta = config.get("meta") or {}
    running = state["state"] == "running"
    now = now if now is not None else time.time()
    age = idle = None
    published = found.state or {}
    since = published.get("running_since", found.mtime)  # ours say; else the last status write
    if running and isinstance(since, (int, float)):
        age = max(0.0, now - since)
    if running and "idle_since" in published:  # published by our services, not by RHL
        since = published["idle_since"]
        idle = 0.0 if since is None else max(0.0, now - float(since))
    return {
        "key": config["key"],
        **state,
        "where": launching.ssh_host(config) or "this machine",
        **{k: meta.get(k) for k in ("service", "cluster", "queue", "project", "stage")},
        **addresses(config, found.state if running else None),
        "age_seconds": None if age is None else round(age, 1),
        # since the last request / client / task (0: in use); None where the service does not say
        "idle_seconds": None if idle is None else round(idle, 1),
    }


def _duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60} min"


def _line(service: Mapping[str, Any]) -> str:
    context = " ".join(f"{k}={service[k]}" for k in ("cluster", "queue", "project", "stage") if service.get(k))
    fields = [service["key"], _state_text(service), service["where"], context]
    extra = [service[k] for k in ("url", "dashboard") if service.get(k)]
    if service["age_seconds"] is not None:
        extra.append(f"up {_duration(service['age_seconds'])}")
    if service["idle_seconds"] is not None:
        extra.append(f"idle {_duration(service['idle_seconds'])}" if service["idle_seconds"] else "in use")
    return "\t".join(fields + extra)


# --- the subcommands --------------------------------------------------------------------------


def _all_records() -> dict[str, dict[str, Any]]:
    """The launch records, plus a bare ``{"key": ...}`` for each live local service that has
    none (found through the record it wrote itself): no running service goes unlisted."""
    records = launching.records()
    for key in service_records.recorded_keys():
        if key not in records and service_records.live_service_pid(key) is not None:
            records[key] = {"key": key}
    return records


def list_services(*, as_json: bool = False, out: TextIO = sys.stdout) -> int:
    records = _all_records()
    services = [describe(config) for config in records.values()]
    if as_json:
        print(json.dumps({"services": services}, indent=2), file=out)
    elif not services:
        print("No services launched by this user (~/.seamless/launches is empty).", file=out)
    else:
        print("\n".join(_line(service) for service in services), file=out)
    return 0


def stop_services(keys: Sequence[str], *, every: bool, out=sys.stdout, err=sys.stderr) -> int:
    records = _all_records()
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


def _read_log(config: Mapping[str, Any]) -> str:
    """The service's whole log where it runs (``rhl-logs``); LookupError when there is none."""
    result = launching.run_tool(config, ["rhl-logs", config["key"]], timeout=60)
    if result.returncode != 0:
        problem = result.stderr.strip().splitlines()
        raise LookupError(problem[-1] if problem else f"rhl-logs exited with {result.returncode}")
    return result.stdout


def show_logs(key: str, *, host: str | None, tail: int | None, follow: bool,
              out: TextIO = sys.stdout, err: TextIO = sys.stderr) -> int:
    """Print the log of ``key``; with ``follow``, keep printing what is appended until interrupted."""
    config: dict[str, Any] = dict(launching.records().get(key) or {"key": key})
    if host is not None:
        config = {"key": key, "hostname": host}
    try:
        seen = _read_log(config)
    except (LookupError, OSError, subprocess.TimeoutExpired) as exc:
        where = launching.describe_target(config)
        print(f"seamless-services: no log of '{key}' {where} ({exc}); see 'seamless-services list'", file=err)
        return 1
    lines = seen.splitlines(keepends=True)
    out.write("".join(lines if tail is None else lines[-tail:] if tail else []))
    out.flush()
    try:
        while follow:
            time.sleep(FOLLOW_INTERVAL)
            try:
                now = _read_log(config)
            except (LookupError, OSError, subprocess.TimeoutExpired):
                continue  # removed or unreachable for a moment: keep trying
            if now.startswith(seen):
                out.write(now[len(seen):])
            else:  # a new server under this key rewrote the log
                print(f"seamless-services: the log of '{key}' started anew", file=err)
                out.write(now)
            out.flush()
            seen = now
    except KeyboardInterrupt:
        pass
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seamless-services",
        description="List or stop the services (Dask schedulers, hashservers, databases, "
        "jobservers) that seamless_config.set_stage() launched for this user, or read their logs.",
    )
    sub = parser.add_subparsers(dest="command", required=True)
    listing = sub.add_parser(
        "list", help="one line per launched service: key, state, host, cluster/queue/project, "
        "address (URL, Dask dashboard) and how long it has been up",
    )
    listing.add_argument("--json", action="store_true", help="one JSON document instead of lines")
    stop = sub.add_parser("stop", help="stop services by key (as shown by 'list')")
    stop.add_argument("keys", nargs="*", metavar="KEY", help="launcher key, e.g. pure-daskserver-local-default")
    stop.add_argument("--all", action="store_true", help="stop every launched service")
    logs = sub.add_parser("logs", help="print the output of a service, where it runs (locally or over SSH)")
    logs.add_argument("key", metavar="KEY", help="launcher key, as shown by 'list' or in a launch error")
    logs.add_argument("--tail", type=int, metavar="N", help="only the last N lines")
    logs.add_argument("--follow", "-f", action="store_true", help="keep printing what the service writes (Ctrl-C stops)")
    logs.add_argument("--host", help="read it on HOST over SSH (default: where the launch record says it runs)")
    renew = sub.add_parser(
        "renew-credentials",
        help="create a new certificate authority and certificates (after expiry or a leak); the "
        "services using the old ones are stopped first and relaunch at the next set_stage()",
    )
    renew.add_argument("--host", help="the frontend whose credentials to renew, as given to ssh "
                       "(default: this machine)")
    check = sub.add_parser(
        "is-service",
        help="exit 0 if PID is the running service of KEY on this machine, 1 if not (the identity "
        "check that a client runs here over SSH before it signals or lists a frontend's service)",
    )
    check.add_argument("key", metavar="KEY")
    check.add_argument("pid", metavar="PID", type=int)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command == "list":
        return list_services(as_json=args.json)
    if args.command == "logs":
        if args.tail is not None and args.tail < 0:
            parser.error("logs: --tail must be 0 or more")
        return show_logs(args.key, host=args.host, tail=args.tail, follow=args.follow)
    if args.command == "renew-credentials":
        return renew_credentials(args.host)
    if args.command == "is-service":
        return 0 if service_records.is_service_process(args.pid, args.key) else 1
    if not args.keys and not args.all:
        parser.error("stop: give one or more KEYs, or --all")
    return stop_services(args.keys, every=args.all)


if __name__ == "__main__":
    sys.exit(main())
