"""Everything we take from remote-http-launcher (RHL) 0.4.5 beyond its public API.

Its public API is ``run()`` / ``Configuration`` / ``LauncherError`` / the observer protocol and
its ``rhl-*`` helper commands. What we need beyond that, each workaround pinned by
``seamless-config/tests/test_rhl_adapter.py`` (so that a new RHL version that changes it fails
there, not in a user's launch):

1. :func:`execute` follows the steps of the private ``_execute`` (:data:`EXECUTE_STEPS`, checked
   against its source by the test) with an observer of ours (log messages, the fast start check
   of :mod:`.launching`, knowing whether a launch happened) and our executors (6, 7); pyproject
   pins RHL to 0.4.x.
2. :func:`client_state_path` / :func:`server_state_path` read RHL's state files directly (a local
   launch needs no helper process; a warm reconnect reads the client record's ``hostname``, ports
   and ``status`` as RHL's own reconnect does, without importing RHL), where its library writes
   them: ``REMOTE_HTTP_LAUNCHER_DIR`` is honoured as RHL's library does
   (:mod:`seamless_service.launcher_state`).
3. :func:`mark_stale` writes RHL's server record (``status: stale``, as ``rhl-stop`` does) without
   signalling the recorded PID, which may be another process's by now.
4. :func:`close_tunnels` finds RHL's tunnel processes by scanning ``/proc`` (its monitor's
   ``--local-port``/``--remote-pid`` arguments, its ``ssh -N -L`` children; and ours of
   workaround 9): RHL does not close a tunnel whose service died.
5. :data:`REASONS` matches RHL's message text for a service that died while starting, to say it
   in the user's terms.
6. For a local launch, :func:`execute` runs the steps of ``_execute`` itself (``LocalState``,
   ``handle_local``, ``RemoteState``, ``handle_remote``, ``create_local_file``) with an executor
   whose helpers (:data:`IN_PROCESS`: ``rhl-inspect``, ``rhl-verify-port``, ``rhl-handshake``,
   ``rhl-pid-alive`` and ``rhl-launch-service``) are function calls with the commands' exit
   status and output (reading and writing the state through ``ssh_guard``'s functions, as the
   commands do) instead of new interpreters: 25-110 ms each idle, several times that on a busy
   login node, the launch itself on the critical path and four after the service is already up.
   (Not the commands' ``main()``: that reads ``sys.argv`` and prints, and redirecting the
   process's stdout/stderr would capture other threads' output.) The launched service is then
   this process's child, in a session of its own, reaped by a thread when it ends. Everything
   that stops or kills stays a process. RHL's own code writes its state, so its tools keep working.
7. For a launch on a frontend, the same steps with :mod:`.ssh_batching`'s executor (a subclass of
   RHL's ``SSHExecutor``): at RHL's first helper call it runs RHL's whole sequence of helpers in one
   SSH session (the launch argv recorded from RHL's own ``launch_process``; the helpers' ``main``
   functions, ``rhl-launch-service``'s included, in one interpreter there, :mod:`.batch_runner`)
   and hands the results to RHL's calls in order, each when its arguments match.
8. With ``tunnel: true``, :func:`create_local_file` does what RHL's does (same client record, same
   handshake through the tunnel), but opens the tunnels of all the service's ports (the service
   port, then each of ``_gather_port_parameters``) together (workaround 9); only where no SSH
   master answers, each by RHL's own ``establish_tunnel`` in a thread (RHL opens them one after
   another). When one tunnel fails, the others are closed and the error names every failed port
   (RHL would leave those opened before it running).
9. :func:`open_tunnels` replaces RHL's tunnel monitor (``TUNNEL_MONITOR_SCRIPT``: ``ssh -N -L`` per
   port, reported ready after a fixed 0.5 s sleep, ~0.6-0.85 s per tunnel of pure waiting; and
   over the shared master each ``ssh -N`` also starts a session, login shell included, on the
   frontend) by :mod:`.tunnel_monitor`: one process per service that asks the frontend's master
   for each forwarding (``ssh -O forward``: ready when the master listens, ~10-30 ms, or
   failed with ssh's message) and keeps RHL's monitor's duties: the tunnels close when the
   service's PID is gone on the frontend (RHL's check and interval), and when the monitor is
   stopped; failed ones leave nothing open. It carries ``--local-port``/``--remote-pid`` as RHL's
   monitor does, so workaround 4 finds it; it is stopped with SIGTERM (it cancels its
   forwardings), RHL's with SIGKILL. Where no master answers, workaround 8's RHL monitors.

Stdlib only at import; ``remote_http_launcher`` and ``seamless_service`` are imported when used.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
from pathlib import Path
from typing import Any, Iterator, Mapping


#: The calls of RHL's ``_execute``, in its order, that :func:`execute` makes too.
EXECUTE_STEPS = ("LocalState.build", "handle_local", "SSHExecutor", "LocalExecutor", "ensure_conda_setup",
                 "RemoteState", "handle_remote", "create_local_file")


def execute(parameters: Mapping[str, Any], observer: Any) -> dict[str, Any]:
    """Launch or reconnect through RHL with ``observer``; return RHL's payload (workarounds 1, 6, 7)."""
    import remote_http_launcher as rhl

    cfg = rhl.Configuration.from_mapping(dict(parameters))
    client_state = rhl.LocalState.build(cfg, None)
    with contextlib.suppress(rhl.LauncherError):  # an unusable record: launch as without one
        reused = rhl.handle_local(cfg, client_state, observer)
        if reused:
            observer.on_phase(rhl.Phase.DONE, "reused-local")
            return reused
    if cfg.hostname:  # workaround 7: the helpers' sequence in one SSH session
        if not cfg.ssh_hostname:
            raise rhl.LauncherError("ssh_hostname must be provided when hostname is configured.")
        from .ssh_batching import HelperResults, executor_class

        results = getattr(observer, "batched", None) or HelperResults()
        executor = executor_class()(cfg, observer, results)
    else:
        executor = _in_process_executor()(observer)
    observer.on_phase(rhl.Phase.CONNECT, executor.host)
    if cfg.conda_env:
        executor.ensure_conda_setup()
    server_state = rhl.RemoteState(executor, cfg, rhl._default_server_directory().as_posix())
    result, how = rhl.handle_remote(cfg, server_state)
    payload = create_local_file(cfg, client_state, result, observer)
    observer.on_phase(rhl.Phase.DONE, how)
    return payload


# --- in-process helpers (workaround 6) --------------------------------------------------------


def _inspect(args: list[str]) -> tuple[int, str, str]:
    """``rhl-inspect KEY [--with-mtime]``: the server record as JSON, exit 1 when there is none."""
    from ssh_guard._state import key_to_server_json, read_json_file, validate_key

    with_mtime = "--with-mtime" in args
    args = [a for a in args if a != "--with-mtime"]
    if len(args) != 1:
        return 1, "", "rhl-inspect: exactly one key is required\n"
    try:
        validate_key(args[0])
        path = key_to_server_json(args[0])
        data = read_json_file(path, prefix="rhl-inspect")
    except SystemExit as exc:  # how RHL's state functions report a bad key or file
        return 1, "", f"{exc.code}\n"
    if data is None:
        return 1, "", f"rhl-inspect: no state file for {args[0]!r}\n"
    if with_mtime:
        return 0, json.dumps({"mtime": path.stat().st_mtime, "data": data}, separators=(",", ":")) + "\n", ""
    return 0, json.dumps(data, indent=2, sort_keys=True) + "\n", ""


def _verify_port(args: list[str]) -> tuple[int, str, str]:
    """``rhl-verify-port HOST PORT``: exit 0 once a connection succeeds, within three tries 2 s apart."""
    import socket
    import time

    if len(args) != 2 or not args[1].isdigit() or not 1 <= int(args[1]) <= 65535 or not _plausible_host(args[0]):
        return 1, "", f"rhl-verify-port: invalid arguments {args!r}\n"
    error: OSError | None = None
    for attempt in range(3):
        try:
            with socket.create_connection((args[0], int(args[1])), timeout=2.0):
                return 0, "", ""
        except OSError as exc:
            error = exc
            if attempt < 2:
                time.sleep(2)
    return 1, "", f"{error}\n"


def _plausible_host(host: str) -> bool:
    import ipaddress
    import re

    with contextlib.suppress(ValueError):
        return bool(ipaddress.ip_address(host))
    labels = host.rstrip(".").split(".")
    return (0 < len(host) <= 253 and re.fullmatch(r"[A-Za-z0-9.-]+", host) is not None
            and all(label and label[0] != "-" and label[-1] != "-" for label in labels))


def _handshake(args: list[str]) -> tuple[int, str, str]:
    """``rhl-handshake URL``: one GET; exit 0 for HTTP 2xx, 2 for another status, 1 for an error."""
    import urllib.error
    import urllib.parse
    import urllib.request

    parsed = urllib.parse.urlparse(args[0]) if len(args) == 1 else None
    if parsed is None or parsed.scheme not in ("http", "https") or not parsed.netloc:
        return 1, "", "rhl-handshake: exactly one http(s) URL with a host is required\n"
    try:
        with urllib.request.urlopen(args[0], timeout=10) as response:
            status = getattr(response, "status", 200)
    except urllib.error.HTTPError as exc:
        return 2, "", f"{exc}\n"
    except Exception as exc:  # any failure to fetch is the helper's exit status 1
        return 1, "", f"{exc}\n"
    return (0, "", "") if 200 <= status < 300 else (2, "", f"HTTP status {status}\n")


def _json_object_argument(raw: str | None, option: str) -> dict[str, Any] | None:
    """The JSON object of ``option`` (None when absent); ValueError naming the option otherwise."""
    if raw is None:
        return None
    try:
        value = json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ValueError(f"{option} must be valid JSON: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{option} must be a JSON object")
    return value


def _launch_service(args: list[str]) -> tuple[int, str, str]:
    """``rhl-launch-service --key K --workdir W [...] -- SERVICE ARGS`` (without ``--conda-env``,
    which the executor leaves to the command): start the whitelisted service in a session of its
    own, logging to RHL's log file, and write its record (``status: starting`` and the PID), as the
    command does, with the command's own functions.

    The service is this process's child instead of an exited helper's: a thread reaps it when it
    ends, so that its PID never lingers as a zombie that ``rhl-pid-alive`` would call alive. If
    its record cannot be written, it is killed: nothing runs that the launcher does not know of.
    """
    import argparse
    import shlex
    import threading

    from seamless_service.c_yaml import c_safe_load
    from ssh_guard import _state
    from ssh_guard._tools import load_service_binaries
    from ssh_guard.helpers import launch_service as helper

    parser = argparse.ArgumentParser(prog="rhl-launch-service", add_help=False, exit_on_error=False)
    for option in ("--key", "--workdir"):
        parser.add_argument(option, required=True)
    for option in ("--network-interface", "--parameters", "--meta"):
        parser.add_argument(option)
    parser.add_argument("service_argv", nargs=argparse.REMAINDER)
    process = None
    try:
        ns = parser.parse_args(args)
        service_argv = list(ns.service_argv)[1 if ns.service_argv[:1] == ["--"] else 0:]
        if not service_argv:
            return 1, "", "rhl-launch-service: service binary is required after --\n"
        _state.validate_key(ns.key)
        workdir = _state.validate_workdir(ns.workdir)
        parameters = _json_object_argument(ns.parameters, "--parameters")
        meta = _json_object_argument(ns.meta, "--meta")
        with c_safe_load():  # tools.yaml: ~5 ms instead of PyYAML's pure-Python ~20-40 ms
            binaries = load_service_binaries()
        if service_argv[0] not in binaries:
            return 1, "", f"rhl-launch-service: service binary is not whitelisted: {service_argv[0]!r}\n"
        service_argv[1:] = helper._normalize_status_file_args(service_argv[1:])
        _state.server_dir().mkdir(parents=True, exist_ok=True)
        workdir.mkdir(parents=True, exist_ok=True)
        log_path = _state.key_to_server_log(ns.key)
        with log_path.open("wb", buffering=0) as log:
            process = helper._spawn(service_argv, cwd=workdir, stdout_handle=log, conda_env=None)
        threading.Thread(target=process.wait, name=f"reap {ns.key}", daemon=True).start()
        record: dict[str, Any] = {"workdir": ns.workdir, "log": log_path.as_posix(),
                                  "command": shlex.join(service_argv), "uid": os.getuid(),
                                  "pid": process.pid, "status": "starting"}
        for name, value in (("network_interface", ns.network_interface), ("parameters", parameters),
                            ("meta", meta)):
            if value is not None:
                record[name] = value
        helper._write_state(_state.key_to_server_json(ns.key), record)
    except BaseException as exc:
        if process is not None:
            process.kill()  # started, but unrecorded: the reaper thread collects it
        if isinstance(exc, SystemExit):  # how ssh_guard's functions report: a message, or 1 after printing it
            return 1, "", f"{exc.code if isinstance(exc.code, str) else 'rhl-launch-service failed'}\n"
        if isinstance(exc, Exception):
            return 1, "", f"rhl-launch-service: {exc}\n"
        raise
    return 0, "", ""


def _pid_alive(args: list[str]) -> tuple[int, str, str]:
    """``rhl-pid-alive PID``: exit 0 when the process lives, 1 when not (or for a bad PID)."""
    from ssh_guard._state import pid_is_live

    if len(args) != 1 or not args[0].isdigit() or int(args[0]) <= 0:
        return 1, "", "rhl-pid-alive: PID must be a positive integer\n"
    return (0 if pid_is_live(int(args[0])) else 1), "", ""


#: The helpers of a local launch as functions of their arguments that return (exit status,
#: stdout, stderr) as the commands would: those that read RHL's state, probe a port or make the
#: handshake GET, and the launch itself.
IN_PROCESS = {
    "rhl-inspect": _inspect,
    "rhl-launch-service": _launch_service,
    "rhl-verify-port": _verify_port,
    "rhl-handshake": _handshake,
    "rhl-pid-alive": _pid_alive,
}


def run_helper(argv: list[str]) -> subprocess.CompletedProcess:
    """Run the helper ``argv[0]`` (one of :data:`IN_PROCESS`) in this process."""
    code, out, err = IN_PROCESS[argv[0]](list(argv[1:]))
    return subprocess.CompletedProcess(list(argv), code, out, err)


@functools.lru_cache(maxsize=None)
def _in_process_executor() -> type:
    """RHL's local executor, running the helpers of :data:`IN_PROCESS` as calls."""
    import remote_http_launcher as rhl

    class InProcessExecutor(rhl.LocalExecutor):
        def invoke_helper(
            self, argv: list[str], *, check: bool = True, input_data: str | None = None
        ) -> subprocess.CompletedProcess:
            if argv[0] not in IN_PROCESS or input_data is not None or "--conda-env" in argv:
                # (a conda environment is activated by a login shell: the command does that)
                return super().invoke_helper(argv, check=check, input_data=input_data)
            command = " ".join(argv)
            self.observer.on_command(self.host, command, command)
            result = run_helper(argv)
            self.observer.on_command_done(self.host, command)
            if check and result.returncode != 0:
                raise rhl.LauncherError(f"{self.host} helper failed: {command}\n{result.stderr.strip()}")
            return result

    return InProcessExecutor


# --- RHL's state files (workaround 2) ---------------------------------------------------------


def state_root() -> Path:
    """The directory of all of RHL's state (made owner-only before a launch)."""
    from seamless_service.launcher_state import launcher_root

    return launcher_root()


def client_state_path(key: str) -> Path:
    """RHL's client record of ``key``: the service's address as seen from this machine."""
    from seamless_service.launcher_state import client_dir

    return client_dir() / f"{key}.json"


def server_state_path(key: str) -> Path:
    """RHL's server record of ``key`` (the service's status file) on this machine."""
    from seamless_service.launcher_state import server_dir

    return server_dir() / f"{key}.json"


def mark_stale(key: str, state: dict[str, Any]) -> None:
    """Mark a local server record stale (as ``rhl-stop`` does, without signalling its PID)."""
    from seamless_service.private_files import write_private

    write_private(server_state_path(key), json.dumps({**state, "status": "stale"}))


# --- tunnels (workaround 4) -------------------------------------------------------------------


def own_processes() -> Iterator[tuple[int, list[str]]]:
    uid = os.getuid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            raw = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if raw:
            yield int(entry.name), raw.rstrip(b"\0").decode(errors="replace").split("\0")


def tunnel_processes(local_ports: set[int]) -> list[int]:
    """PIDs of the tunnel monitors of any of ``local_ports`` (``--local-port P``: RHL's, and ours of
    workaround 9) and of RHL's ``ssh -N -L P:...``."""
    from .ssh_multiplex import ssh_argv

    pids = []
    for pid, argv in own_processes():
        ssh = ssh_argv(argv)  # ssh itself, or the shim of ssh_multiplex standing in for a tunnel
        if ssh is not None and "-N" in ssh:
            forwards = [ssh[i + 1] for i, a in enumerate(ssh[:-1]) if a == "-L"]
            if any(f.split(":", 1)[0].isdigit() and int(f.split(":", 1)[0]) in local_ports for f in forwards):
                pids.append(pid)
        elif "--local-port" in argv and "--remote-pid" in argv:  # RHL's monitor (one port) or ours (workaround 9)
            ports = {int(argv[i + 1]) for i, a in enumerate(argv[:-1]) if a == "--local-port" and argv[i + 1].isdigit()}
            if ports & local_ports:
                pids.append(pid)
    return pids


def close_tunnels(config: Mapping[str, Any]) -> list[int]:
    """Close the SSH tunnels recorded in the client state of ``config``'s key; return their PIDs."""
    try:
        state = json.loads(client_state_path(config["key"]).read_text())
    except (OSError, json.JSONDecodeError):
        return []
    ports = {
        int(v)
        for k, v in state.items()
        if (k == "port" or k.endswith("_port") or k.endswith("-port"))
        and not k.startswith("tunneled-")
        and isinstance(v, int)
    }
    if not state.get("tunneled-host") or not ports:
        return []
    from .ssh_multiplex import stop_tunnel_processes

    return stop_tunnel_processes(tunnel_processes(ports))


# --- tunnels opened together (workarounds 8, 9) -----------------------------------------------


def create_local_file(cfg: Any, client_state: Any, remote_data: dict[str, Any], observer: Any) -> dict[str, Any]:
    """RHL's ``create_local_file``: the client record of a running service, written and checked
    with one handshake; with ``tunnel: true`` its tunnels are opened together (workaround 8)."""
    import remote_http_launcher as rhl

    if not cfg.tunnel or cfg.hostname is None or cfg.ssh_hostname is None:
        return rhl.create_local_file(cfg, client_state, remote_data, observer)  # RHL's errors included
    remote_ports = {"port": int(remote_data["port"]), **rhl._gather_port_parameters(remote_data)}
    local_ports = dict(zip(remote_ports, free_local_ports(len(remote_ports)), strict=True))
    observer.on_phase(rhl.Phase.TUNNEL_SETUP, f"localhost:{local_ports['port']} -> {cfg.hostname}:{remote_ports['port']}")
    for name, remote_port in remote_ports.items():
        if name != "port":
            observer.on_detail(f"extra tunnel {name}: localhost:{local_ports[name]} -> {cfg.hostname}:{remote_port}")
    open_tunnels(cfg.ssh_hostname, cfg.hostname, remote_ports, local_ports, int(remote_data["pid"]))
    try:
        payload: dict[str, Any] = {
            "hostname": "localhost",
            "port": local_ports["port"],
            "tunneled-host": cfg.ssh_hostname,
            "tunneled-port": remote_ports["port"],
            "tunneled-network-interface": remote_data.get("network_interface", cfg.network_interface),
        }
        for name, remote_port in remote_ports.items():
            if name != "port":
                payload[name] = local_ports[name]
                payload[f"tunneled-{name}"] = remote_port
        if isinstance(remote_data.get("parameters"), dict):
            payload["parameters"] = dict(remote_data["parameters"])
        if cfg.meta is not None:
            payload["meta"] = dict(cfg.meta)
        client_state.write(payload)
        port_name = cfg.handshake.port_name if cfg.handshake is not None and cfg.handshake.port_name else "port"
        rhl.perform_local_handshake("localhost", payload[port_name], cfg.handshake, trials=5, observer=observer)
    except BaseException:
        from .ssh_multiplex import stop_tunnel_processes

        stop_tunnel_processes(tunnel_processes(set(local_ports.values())))
        raise
    observer.on_phase(rhl.Phase.LOCAL_VALIDATE, "ok")
    return payload


def free_local_ports(count: int) -> list[int]:
    """``count`` distinct free ports of this machine (as RHL's ``allocate_local_port`` picks one;
    all held at once, so that no two are the same)."""
    import socket

    with contextlib.ExitStack() as stack:
        sockets = [stack.enter_context(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) for _ in range(count)]
        for sock in sockets:
            sock.bind(("localhost", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]


def open_tunnels(ssh_host: str, remote_host: str, remote_ports: Mapping[str, int],
                 local_ports: Mapping[str, int], remote_pid: int) -> None:
    """Open ``localhost:local_ports[name] -> remote_host:remote_ports[name]`` over ``ssh_host`` for
    every name at once (workaround 9: forwardings of the master, one monitor for all; without a
    master, RHL's monitors of workaround 8). When any fails, none is left open and the
    ``LauncherError`` names each failed one with ssh's message."""
    from . import tunnel_monitor
    from .ssh_multiplex import control_path, ensure_master, master_control_path, real_ssh

    forwards = [(local_ports[name], remote_ports[name]) for name in remote_ports]
    ssh = real_ssh() or "ssh"
    # the forwardings are the master's, which the launch has just used: asked for at once (no
    # `ssh -O check` first); the monitor reports "no-master" when none answers on its socket
    report, _ = tunnel_monitor.start(ssh, control_path(), ssh_host, remote_host, forwards, remote_pid)
    if report["status"] == "no-master":  # gone since, or never ours: opened if need be
        ensure_master(ssh_host)
        # None: the user's own multiplexing, if any
        report, _ = tunnel_monitor.start(ssh, master_control_path(ssh_host), ssh_host, remote_host, forwards, remote_pid)
    if report["status"] == "ready":
        return
    if report["status"] == "no-master":  # e.g. the user's own ControlPath, without ControlMaster
        _open_tunnels_by_rhl(ssh_host, remote_host, remote_ports, local_ports, remote_pid)
        return
    from .ssh_multiplex import stop_tunnel_processes

    stop_tunnel_processes(tunnel_processes(set(local_ports.values())))  # a monitor that did not report
    failed = report.get("failed") or {}
    errors = {name: failed[str(local_ports[name])] for name in remote_ports if str(local_ports[name]) in failed}
    raise _tunnel_error(ssh_host, remote_host, remote_ports, local_ports,
                        errors or dict.fromkeys(remote_ports, report.get("message", "unknown error")))


def _tunnel_error(ssh_host: str, remote_host: str, remote_ports: Mapping[str, int],
                  local_ports: Mapping[str, int], errors: Mapping[str, object]) -> Exception:
    """RHL's ``LauncherError`` naming each failed tunnel and its error."""
    import remote_http_launcher as rhl

    return rhl.LauncherError("SSH tunnel(s) could not be opened: " + "; ".join(
        f"{name} localhost:{local_ports[name]} -> {remote_host}:{remote_ports[name]} via {ssh_host}: {error}"
        for name, error in errors.items()
    ))


def _open_tunnels_by_rhl(ssh_host: str, remote_host: str, remote_ports: Mapping[str, int],
                         local_ports: Mapping[str, int], remote_pid: int) -> None:
    """:func:`open_tunnels` by RHL's own ``establish_tunnel`` for each port, in threads (workaround 8).
    (Their ``ssh -N -L`` would race to become the master and the winner, a process with a
    tunnel's ``-L`` in its argv, would close them all with that tunnel: a master was opened first.)"""
    from concurrent.futures import ThreadPoolExecutor

    import remote_http_launcher as rhl

    def one(name: str) -> None:
        rhl.establish_tunnel(ssh_host, remote_host, remote_ports[name], local_ports[name], remote_pid)

    with ThreadPoolExecutor(max_workers=len(remote_ports), thread_name_prefix="tunnel") as pool:
        futures = {name: pool.submit(one, name) for name in remote_ports}
        errors = {name: future.exception() for name, future in futures.items()}
    failed = {name: error for name, error in errors.items() if error is not None}
    if not failed:
        return
    from .ssh_multiplex import stop_tunnel_processes

    stop_tunnel_processes(tunnel_processes(set(local_ports.values())))
    raise _tunnel_error(ssh_host, remote_host, remote_ports, local_ports, failed) from next(iter(failed.values()))


# --- RHL's messages (workaround 5) ------------------------------------------------------------

#: RHL 0.4.5's words for a service that died while starting, in the user's terms.
REASONS = {
    "Remote launch already attempted and failed.": "it stopped while starting",
    "Remote process did not finish starting after relaunch.": "it exited before it was running",
}


def reason(exc: Exception) -> str:
    """The reason of a failed launch, in the user's terms where RHL's words are known."""
    return REASONS.get(str(exc), str(exc))
