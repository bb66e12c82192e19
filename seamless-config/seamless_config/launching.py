"""Launch a service through remote-http-launcher (RHL), or reconnect to it, robustly.

Generic over the launch dicts of ``configure_*`` (the pure-Dask scheduler; hashserver, database,
jobserver and daskserver of persistent mode). On top of ``remote_http_launcher`` 0.4.5 (what it
takes beyond RHL's public API is in :mod:`.rhl_adapter`) this module:

* puts the interpreter's ``bin/`` first on PATH, so the ``rhl-*`` helpers and the service command
  are found when the virtualenv is not activated (``.venv/bin/python script.py``);
* serialises launches of one key across processes (``flock`` on ``~/.seamless/locks/<key>.lock``),
  so concurrent callers start one server and the others reconnect to it;
* remembers the parameters each key was launched with (``~/.seamless/launches/<key>.json``): a
  launch with other parameters under the same key stops the old server first, with a warning;
* turns RHL's bare "did not finish starting" / "already attempted and failed" into an error that
  carries the tail of the server log, and stops whatever was half launched;
* notices within 20 ms (RHL: 1 s) that a starting service runs, and within a poll (RHL: 10 s)
  that it died; drops the record of a dead local server instead of probing its port for 4 s;
* recovers from a stale SSH tunnel (``ConnectionResetError`` from RHL's reconnect check): it
  closes the tunnel, forgets the client state and launches again;
* reports through ``logging`` what is being waited for.

Top-level imports are stdlib only; ``remote_http_launcher`` is imported when a launch happens.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, Mapping

from seamless_service.errors import SeamlessError

from . import rhl_adapter, service_records

logger = logging.getLogger(__name__)

#: Keys of a launch dict that only steer RHL's own reporting (not part of what is launched).
_REPORTING_KEYS = ("log_level", "log_file", "debug_log_file")
#: Seconds between "still waiting" messages while a service starts.
HEARTBEAT_SECONDS = 5.0
#: Seconds a service may stay "starting" (RHL 0.4.5 gives up after 60 s without a status change).
START_TIMEOUT = 60.0
_LOG_TAIL_LINES = 25


class LaunchError(SeamlessError, RuntimeError):
    """A service could not be launched or reached. The message holds the cause."""


def ensure_user_messages() -> None:
    """Show this package's INFO messages on stderr unless the application configured logging.

    Called when something is launched: what is started and waited for must reach the user.
    """
    package_logger = logging.getLogger(__package__)  # "seamless_config", the documented parent
    if package_logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    package_logger.addHandler(handler)
    if package_logger.level == logging.NOTSET:
        package_logger.setLevel(logging.INFO)


# --- where things are -------------------------------------------------------------------------


def state_file_error(path: Path, exc: OSError) -> LaunchError:
    """The error for a state file or directory under the home that cannot be written."""
    hint = (
        "free some disk space" if exc.errno in (errno.ENOSPC, errno.EDQUOT)
        else f"make it (and {Path.home() / '.seamless'}) writable by you, e.g. chmod u+rwx"
    )
    return LaunchError(f"Cannot write {path}: {exc.strerror or exc}; {hint}")


def _seamless_dir(name: str) -> Path:
    from seamless_service.private_files import private_dir

    path = Path.home() / ".seamless" / name
    try:
        private_dir(path.parent)
        return private_dir(path)
    except OSError as exc:
        raise state_file_error(Path(exc.filename or path), exc) from None


def _make_state_private() -> None:
    """``~/.seamless`` 0700, and remote-http-launcher's state (records, logs, status files) owner-only."""
    from seamless_service.private_files import private_dir, tighten_tree

    try:
        private_dir(Path.home() / ".seamless")
        tighten_tree(private_dir(rhl_adapter.state_root()))
    except OSError as exc:
        raise state_file_error(Path(exc.filename or Path.home() / ".seamless"), exc) from None


def ssh_host(config: Mapping[str, Any]) -> str | None:
    """The host to ssh into for this launch dict, or None for a local launch."""
    if not config.get("hostname"):
        return None
    return config.get("ssh_hostname") or config["hostname"]


def describe_target(config: Mapping[str, Any]) -> str:
    host = ssh_host(config)
    return "on this machine" if host is None else f"on {host} (over SSH)"


def tool_command(config: Mapping[str, Any], *argv: str) -> str:
    """A shell command line that runs an ``rhl-*`` tool where the service of ``config`` runs."""
    host = ssh_host(config)
    if host is None:
        tool = Path(sys.executable).parent / argv[0]
        local = [str(tool) if tool.exists() else argv[0], *argv[1:]]
        return shlex.join(local)
    return shlex.join(["ssh", "--", host, shlex.join(argv)])


@contextlib.contextmanager
def interpreter_tools_on_path() -> Iterator[None]:
    """Put ``dirname(sys.executable)`` first on PATH for the duration (RHL spawns its helpers)."""
    from .search_path import prepended

    with prepended(os.path.dirname(sys.executable)):
        yield


def run_tool(config: Mapping[str, Any], argv: list[str], *, timeout: float = 60) -> subprocess.CompletedProcess:
    """Run an ``rhl-*`` helper where the service of ``config`` runs (locally or over ssh)."""
    host = ssh_host(config)
    if host is None:
        cmd = argv
    else:
        from .ssh_multiplex import ssh_executable, wait_for_master

        wait_for_master(host)
        cmd = [ssh_executable(), "-o", "BatchMode=yes", "--", host, shlex.join(argv)]
    with interpreter_tools_on_path():
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)


# --- server state and log ---------------------------------------------------------------------


def server_state(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """RHL's server record (pid, ports, status) for the key of ``config``, or None."""
    result = run_tool(config, ["rhl-inspect", config["key"]])
    if result.returncode != 0:
        return None
    try:
        data = json.loads(result.stdout)
    except json.JSONDecodeError:
        return None
    return data if isinstance(data, dict) else None


def server_log_tail(config: Mapping[str, Any], lines: int = _LOG_TAIL_LINES) -> str:
    """The last lines of the service's output (RHL's ``<key>.log``), or "" when there is none."""
    try:
        result = run_tool(config, ["rhl-logs", config["key"], "--tail", str(lines)], timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return result.stdout.strip() if result.returncode == 0 else ""


def _forget_client_state(config: Mapping[str, Any]) -> None:
    rhl_adapter.close_tunnels(config)
    with contextlib.suppress(FileNotFoundError):
        rhl_adapter.client_state_path(config["key"]).unlink()


# --- the launch record (what each key was launched with) --------------------------------------


def _record_path(key: str) -> Path:
    return _seamless_dir("launches") / f"{key}.json"


def _launch_parameters(config: Mapping[str, Any]) -> dict[str, Any]:
    """What is launched (the dict without RHL's reporting keys), in its JSON form."""
    return json.loads(json.dumps({k: v for k, v in config.items() if k not in _REPORTING_KEYS}))


def _read_record(key: str) -> dict[str, Any] | None:
    try:
        data = json.loads(_record_path(key).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def records() -> dict[str, dict[str, Any]]:
    """key -> launch dict of every service launched by this user (``~/.seamless/launches``)."""
    directory = Path.home() / ".seamless" / "launches"
    found = {}
    for path in sorted(directory.glob("*.json")) if directory.is_dir() else []:
        data = _read_record(path.stem)
        if data is not None and data.get("key") == path.stem:
            found[path.stem] = data
    return found


def _write_record(config: Mapping[str, Any]) -> None:
    from seamless_service.private_files import write_private

    path = _record_path(config["key"])
    try:
        write_private(path, json.dumps(_launch_parameters(config), sort_keys=True))
    except OSError as exc:
        raise state_file_error(path, exc) from None


def _differences(old: Mapping[str, Any], new: Mapping[str, Any], prefix: str = "") -> list[str]:
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _differences(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}: {a!r} -> {b!r}")
    return out


# --- locking, reporting -----------------------------------------------------------------------


@contextlib.contextmanager
def launch_lock(key: str, what: str = "service") -> Iterator[None]:
    """Hold the cross-process lock of ``key`` (one launch at a time per key and user)."""
    path = _seamless_dir("locks") / f"{key}.lock"
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    except OSError as exc:
        raise state_file_error(path, exc) from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            logger.info("Waiting for another process that is starting the %s '%s'", what, key)
            fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def _server_record(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """:func:`server_state`, read from the file for a local launch (no helper process)."""
    if ssh_host(config) is not None:
        return server_state(config)
    try:
        data = json.loads(rhl_adapter.server_state_path(config["key"]).read_text())
    except (OSError, json.JSONDecodeError):
        return None
    return data if isinstance(data, dict) else None


def service_alive(config: Mapping[str, Any], pid: int) -> bool:
    """Whether ``pid`` is (still) the service of ``config``'s key; locally checked by identity."""
    if ssh_host(config) is None:
        return service_records.is_service_process(pid, config["key"])
    # the same identity check, run on the frontend; a frontend without it: whether the PID lives
    result = run_tool(config, ["seamless-services", "is-service", config["key"], str(pid)])
    if result.returncode in (0, 1):
        return result.returncode == 0
    result = run_tool(config, ["rhl-pid-alive", str(pid)])
    return result.returncode != 1  # 0 alive, 1 gone; anything else: cannot tell, assume alive


def wait_while_starting(config: Mapping[str, Any], timeout: float = START_TIMEOUT) -> None:
    """Return once the just-launched service of ``config`` is no longer "starting".

    RHL 0.4.5 checks a starting service once a second and notices one that died without a word
    only after 10 s. This check is faster (every 20 ms locally, 250 ms over SSH); a service that
    died while "starting" is marked stale (``rhl-stop``), so RHL reports the failure at once.
    """
    interval = 0.02 if ssh_host(config) is None else 0.25
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        state = _server_record(config)
        if state is None or state.get("status") != "starting":
            return
        pid = state.get("pid")
        if isinstance(pid, int) and not service_alive(config, pid):
            state = _server_record(config)  # it may have written its last status just before exiting
            if state is not None and state.get("status") == "starting":
                logger.debug("%s: process %s died while starting", config["key"], pid)
                if ssh_host(config) is None:
                    rhl_adapter.mark_stale(config["key"], state)  # no signal: the PID may be another process's now
                else:
                    run_tool(config, ["rhl-stop", config["key"]])
            return
        time.sleep(interval)


class _LoggingObserver:
    """An RHL observer: launch phases become log messages, with a heartbeat while waiting.

    At ``WAIT_FOR_START`` it also waits (:func:`wait_while_starting`) before RHL's own, slower
    polling resumes, so RHL finds the service running (or failed) at its first look.
    """

    def __init__(self, config: Mapping[str, Any], what: str, while_starting: Callable[[], None] | None = None):
        self.config = config
        self.while_starting = while_starting
        self.key = config["key"]
        self.what = what
        self.target = describe_target(config)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.launched = False
        from .ssh_batching import HelperResults

        self.batched = HelperResults()  # over SSH: helper results fetched ahead (ssh_batching)

    def on_phase(self, phase: Any, result: str) -> None:
        name = getattr(phase, "name", str(phase))
        logger.debug("%s: %s %s", self.key, name, result)
        if name == "LAUNCH":
            self.launched = True
            logger.info("Starting the %s '%s' %s", self.what, self.key, self.target)
        elif name == "WAIT_FOR_START":
            callback, self.while_starting = self.while_starting, None
            if callback is not None:
                callback()
            self._start_heartbeat()
            if not self.batched.settled():
                wait_while_starting(self.config)
        elif name == "TUNNEL_SETUP":
            logger.info("Opening an SSH tunnel for '%s': %s", self.key, result)
        elif name == "STALE_CLEANUP" and not self.launched:
            logger.info("The %s '%s' is no longer running; it will be started anew", self.what, self.key)
        elif name == "DONE":
            self.close()

    def on_detail(self, message: str) -> None:
        logger.debug("%s: %s", self.key, message)

    def on_command(self, host: str, command: str, full_command: str) -> None:
        logger.debug("%s: [%s] %s", self.key, host, full_command)

    def on_command_done(self, host: str, command: str) -> None:
        return

    def on_script(self, host: str, script: str) -> None:
        return

    def on_error(self, message: str) -> None:
        logger.debug("%s: error: %s", self.key, message)

    def _start_heartbeat(self) -> None:
        if self._thread is not None:
            return
        start = time.monotonic()

        def beat() -> None:
            while not self._stop.wait(HEARTBEAT_SECONDS):
                logger.info(
                    "Still waiting for the %s '%s' to start %s (%.0f s)",
                    self.what, self.key, self.target, time.monotonic() - start,
                )

        self._thread = threading.Thread(target=beat, name=f"heartbeat-{self.key}", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._stop.set()


# --- the public entry points ------------------------------------------------------------------


def _forget_dead_server(config: Mapping[str, Any]) -> None:
    """Drop the record of a server whose process is gone.

    RHL 0.4.5 would first probe its port three times, 2 s apart, before relaunching. Checked
    before every local launch (a file read); over SSH only once something is known to be wrong.
    """
    state = _server_record(config)
    if state is not None and isinstance(state.get("pid"), int) and not service_alive(config, state["pid"]):
        logger.debug("%s: server process %s is gone; forgetting it", config["key"], state["pid"])
        _forget_client_state(config)
        run_tool(config, ["rhl-rm", config["key"], "--server"])


def _read_json_file(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        return _UNREADABLE


_UNREADABLE = object()


def terminate(pid: int, timeout: float = 40) -> None:
    """SIGTERM a local service process, SIGKILL it if it has not exited after ``timeout`` s
    (the wrapper gives its cluster 30 s to close and cancel its batch jobs)."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    if not wait_for_exit(pid, timeout):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        wait_for_exit(pid, 5)


def _reconcile_local_state(config: Mapping[str, Any], what: str) -> None:
    """Make the launcher's local state agree with the service that really runs under the key.

    Unreadable client state is removed (remote-http-launcher would refuse to start). A live
    service found through its own record (:mod:`.service_records`) that the launcher's server
    state does not name is stopped, so that the launch that follows leaves exactly one.
    """
    key = config["key"]
    client = rhl_adapter.client_state_path(key)
    if _read_json_file(client) is _UNREADABLE:
        logger.warning("The launcher's client state of '%s' (%s) is unreadable; removing it", key, client)
        with contextlib.suppress(FileNotFoundError):
            client.unlink()
    server = _read_json_file(rhl_adapter.server_state_path(key))
    live = service_records.live_service_pid(key)
    if live is None:
        return
    recorded = server.get("pid") if isinstance(server, dict) else None
    if recorded == live:
        return
    state = "is unreadable" if server is _UNREADABLE or (server is not None and not isinstance(server, dict)) else (
        "is missing" if server is None else f"names pid {recorded}"
    )
    logger.warning(
        "Found the %s '%s' running as pid %d (its record %s), but the launcher's state %s; "
        "stopping it so that exactly one runs",
        what, key, live, service_records.services_dir() / f"{key}.json", state,
    )
    terminate(live)
    _forget_client_state(config)
    run_tool(config, ["rhl-rm", key, "--server"])


def ssh_connection(config: Mapping[str, Any]) -> contextlib.AbstractContextManager:
    """For a frontend: every ``ssh`` of the launch goes over the shared master (:mod:`.ssh_multiplex`)."""
    if ssh_host(config) is None:
        return contextlib.nullcontext()
    from .ssh_multiplex import multiplexed

    return multiplexed()


def launch(
    config: Mapping[str, Any], *, what: str = "service", on_start: Callable[[], None] | None = None,
    while_starting: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Launch the service of the RHL launch dict ``config``, or reconnect to it; return RHL's payload.

    The payload holds ``hostname`` and ``port`` (plus e.g. ``dashboard_port``) as seen from this
    process, tunnelled when the dict says ``tunnel: true``. Raises :class:`LaunchError` with the
    tail of the service's log when it does not start; nothing half-launched is left running.
    ``on_start`` is called after a successful launch that started the service (not a reconnect);
    ``while_starting`` once the service has been started and is being waited for: the moment to
    begin other work (e.g. an import) without slowing the launch itself.
    """
    from seamless_service.private_files import private_umask

    ensure_user_messages()
    config = dict(config)
    key = config["key"]
    # umask 077: what remote-http-launcher and a local service create is owner-only
    with interpreter_tools_on_path(), ssh_connection(config), private_umask(), launch_lock(key, what):
        previous = _read_record(key)
        wanted = _launch_parameters(config)
        if previous is not None and previous != wanted:
            logger.warning(
                "The %s '%s' was launched with other parameters (%s); stopping it and starting it anew",
                what, key, "; ".join(_differences(previous, wanted)),
            )
            stop(previous)
        if ssh_host(config) is None:
            _reconcile_local_state(config, what)
            _forget_dead_server(config)
        if previous == wanted:
            running = _running_payload(config)
            if running is not None:
                logger.debug("%s: reconnecting to the running %s", key, what)
                return running
        if while_starting is not None and ssh_host(config) is not None:
            # over SSH the launch runs (and waits) in one remote session: overlap all of it
            callback: Callable[[], None] = while_starting
            while_starting = None
            callback()
        return _launch_with_rhl(config, what, record=previous != wanted, on_start=on_start,
                                while_starting=while_starting)


def _running_payload(config: Mapping[str, Any]) -> dict[str, Any] | None:
    """The launcher's client record of ``config``'s service when the service answers its health
    check; else None.

    This is remote-http-launcher's own reconnect (read the client record, one handshake GET), done
    without importing the launcher and urllib: a warm ``set_stage()`` costs a file read and one
    request. Anything else (no record, a stale one, no answer) goes through the launcher.
    """
    from seamless_service.health_probe import answers

    state = _read_json_file(rhl_adapter.client_state_path(config["key"]))
    if not isinstance(state, dict) or state.get("status") == "stale":
        return None
    handshake = config.get("handshake")
    if not isinstance(handshake, Mapping):
        return None
    port = state.get(handshake.get("port_name") or "port")
    host = state.get("hostname")
    if not isinstance(port, int) or not isinstance(host, str):
        return None
    return state if answers(host, port, str(handshake.get("path") or "")) else None


def _launch_with_rhl(
    config: dict[str, Any], what: str, *, record: bool, on_start: Callable[[], None] | None = None,
    while_starting: Callable[[], None] | None = None,
) -> dict[str, Any]:
    """Launch or reconnect through remote-http-launcher; ``record``: write the launch record;
    ``on_start`` and ``while_starting`` as for :func:`launch`."""
    import remote_http_launcher as rhl

    key = config["key"]
    _make_state_private()
    for attempt in (1, 2):
        observer = _LoggingObserver(config, what, while_starting)
        try:
            payload = rhl_adapter.execute(_launch_parameters(config), observer)
            if observer.launched and on_start is not None:
                on_start()
            break
        except ConnectionError as exc:
            # RHL 0.4.5: a tunnel whose service died still accepts connections and resets
            # them; its reconnect check lets the reset escape instead of relaunching.
            if attempt == 2:
                raise LaunchError(f"The {what} '{key}' is unreachable {describe_target(config)}: {exc!r}") from None
            logger.info("The tunnel to the %s '%s' leads nowhere (%r); closing it and relaunching", what, key, exc)
            _forget_client_state(config)
            _forget_dead_server(config)
        except rhl.LauncherError as exc:
            raise _launch_failure(config, what, exc, observer.launched) from None
        finally:
            observer.close()
            while_starting = observer.while_starting  # called at most once, across attempts
    if record:  # a warm reconnect leaves the record as it is
        _write_record(config)
    return payload


def _launch_failure(config: Mapping[str, Any], what: str, exc: Exception, launched: bool) -> LaunchError:
    """Build the error for a failed launch (with the log tail) and stop what was half launched."""
    tail = server_log_tail(config)
    reason = rhl_adapter.reason(exc)
    message = f"The {what} '{config['key']}' could not be started {describe_target(config)}: {reason}"
    if tail:
        from .services_cli import logs_command

        message += f"\nLast lines of its output ({logs_command(config)}):\n{tail}"
    if launched:
        with contextlib.suppress(Exception):
            stop(config)
    return LaunchError(message)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` of this machine exists and is not a zombie."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


def wait_for_exit(pid: int, timeout: float = 15) -> bool:
    """Wait until process ``pid`` of this machine is gone; return whether it is."""
    deadline = time.monotonic() + timeout
    while pid_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def stop(config: Mapping[str, Any]) -> bool:
    """Stop the server of ``config``'s key (by its PID in RHL's state) and forget it everywhere.

    Closes its tunnels, removes RHL's client and server records and the launch record. A local
    server is waited for until it has exited (its ports are free again).
    Returns True when a running server was stopped.
    """
    key = config["key"]
    _forget_client_state(config)
    stopped = False
    if ssh_host(config) is None:
        # locally, only a process verified to be the service is signalled (PIDs get reused)
        state = _server_record(config)
        pids = {p for p in ((state or {}).get("pid"), service_records.live_service_pid(key)) if p is not None}
        for pid in pids:
            if service_records.is_service_process(pid, key):
                terminate(pid)
                stopped = True
            else:
                logger.info("'%s': the recorded pid %s is not the service any more; not signalling it", key, pid)
        service_records.forget_service_record(key)
    else:
        state = server_state(config)
        pid = (state or {}).get("pid")
        if isinstance(pid, int) and not service_alive(config, pid):
            logger.info("'%s': the recorded pid %s on %s is not the service any more; not signalling it",
                        key, pid, ssh_host(config))
        else:
            result = run_tool(config, ["rhl-stop", key])
            stopped = result.returncode == 0 and any(
                word in result.stdout for word in (": stopped", ": kill required")
            )
    run_tool(config, ["rhl-rm", key, "--server"])
    with contextlib.suppress(FileNotFoundError):
        _record_path(key).unlink()
    if stopped:
        logger.info("Stopped the server '%s' %s", key, describe_target(config))
    return stopped


def record_differences(config: Mapping[str, Any]) -> list[str] | None:
    """How ``config`` differs from what its key was launched with (None: no launch record)."""
    previous = _read_record(config["key"])
    return None if previous is None else _differences(previous, _launch_parameters(config))
