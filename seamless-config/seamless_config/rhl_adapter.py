"""Everything we take from remote-http-launcher (RHL) 0.4.5 beyond its public API.

Its public API is ``run()`` / ``Configuration`` / ``LauncherError`` / the observer protocol and
its ``rhl-*`` helper commands. What we need beyond that, each workaround pinned by
``seamless-config/tests/test_rhl_adapter.py`` (so that a new RHL version that changes it fails
there, not in a user's launch):

1. :func:`execute` calls the private ``_execute`` to pass an observer (log messages, the fast
   start check of :mod:`.launching`, knowing whether a launch happened); pyproject pins RHL to 0.4.x.
2. :func:`client_state_path` / :func:`server_state_path` read RHL's state files directly (a local
   launch needs no helper process; a warm reconnect reads the client record's ``hostname``, ports
   and ``status`` as RHL's own reconnect does, without importing RHL), where its library writes
   them: ``REMOTE_HTTP_LAUNCHER_DIR`` is honoured as RHL's library does
   (:mod:`seamless_service.launcher_state`).
3. :func:`mark_stale` writes RHL's server record (``status: stale``, as ``rhl-stop`` does) without
   signalling the recorded PID, which may be another process's by now.
4. :func:`close_tunnels` finds RHL's tunnel processes by scanning ``/proc`` (its monitor's
   ``--local-port``/``--remote-pid`` arguments, its ``ssh -N -L`` children): RHL does not close a
   tunnel whose service died.
5. :data:`REASONS` matches RHL's message text for a service that died while starting, to say it
   in the user's terms.
6. For a local launch, :func:`execute` runs the steps of ``_execute`` itself (``LocalState``,
   ``handle_local``, ``RemoteState``, ``handle_remote``, ``create_local_file``) with an executor
   whose read-only helpers (:data:`IN_PROCESS`: ``rhl-inspect``, ``rhl-verify-port``,
   ``rhl-handshake``, ``rhl-pid-alive``) are calls of their ``ssh_guard.helpers.<name>.main()``
   (which reads ``sys.argv`` and prints) instead of new interpreters: 25-110 ms each idle, several
   times that on a busy login node, four of them after the service is already up.
   ``rhl-launch-service`` stays a process, so that the service's parent exits at once; so does
   everything that stops or kills. RHL's own code writes its state, so its tools keep working.
7. For a launch on a frontend, the same steps with :mod:`.ssh_batching`'s executor (a subclass of
   RHL's ``SSHExecutor``): at RHL's first helper call it runs RHL's whole sequence of helpers in one
   SSH session (the launch argv recorded from RHL's own ``launch_process``) and hands the results
   to RHL's calls in order, each when its arguments match.

Stdlib only at import; ``remote_http_launcher`` and ``seamless_service`` are imported when used.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import io
import json
import os
import subprocess
import sys
import threading
import traceback
from pathlib import Path
from typing import Any, Iterator, Mapping


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
    payload = rhl.create_local_file(cfg, client_state, result, observer)
    observer.on_phase(rhl.Phase.DONE, how)
    return payload


# --- in-process helpers (workaround 6) --------------------------------------------------------

#: helper command -> the module whose ``main()`` it runs: helpers that only read the state, probe
#: a port or make the handshake GET.
IN_PROCESS = {
    "rhl-inspect": "ssh_guard.helpers.inspect",
    "rhl-verify-port": "ssh_guard.helpers.verify_port",
    "rhl-handshake": "ssh_guard.helpers.handshake",
    "rhl-pid-alive": "ssh_guard.helpers.pid_alive",
}

# sys.argv and sys.stdout/stderr are process-wide: one in-process helper at a time
_HELPER_LOCK = threading.Lock()


def run_helper(argv: list[str]) -> subprocess.CompletedProcess:
    """Run the helper ``argv[0]`` (one of :data:`IN_PROCESS`) in this process as its console
    script runs: same arguments, captured stdout/stderr, exit status from ``SystemExit``."""
    main = importlib.import_module(IN_PROCESS[argv[0]]).main
    out, err = io.StringIO(), io.StringIO()
    with _HELPER_LOCK:
        saved_argv = sys.argv
        sys.argv = list(argv)
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                try:
                    main()
                    code = 0
                except SystemExit as exc:
                    if exc.code is None or isinstance(exc.code, int):
                        code = exc.code or 0
                    else:
                        print(exc.code, file=sys.stderr)
                        code = 1
                except Exception:  # a helper's crash is its exit status 1, as for the script
                    traceback.print_exc()
                    code = 1
        finally:
            sys.argv = saved_argv
    return subprocess.CompletedProcess(argv, code, out.getvalue(), err.getvalue())


@functools.lru_cache(maxsize=None)
def _in_process_executor() -> type:
    """RHL's local executor, running the helpers of :data:`IN_PROCESS` as calls."""
    import remote_http_launcher as rhl

    class InProcessExecutor(rhl.LocalExecutor):
        def invoke_helper(
            self, argv: list[str], *, check: bool = True, input_data: str | None = None
        ) -> subprocess.CompletedProcess:
            if argv[0] not in IN_PROCESS or input_data is not None:
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
    """PIDs of RHL tunnel monitors (``--local-port P``) and their ``ssh -N -L P:...`` children."""
    from .ssh_multiplex import ssh_argv

    pids = []
    for pid, argv in own_processes():
        ssh = ssh_argv(argv)  # ssh itself, or the shim of ssh_multiplex standing in for a tunnel
        if ssh is not None and "-N" in ssh:
            forwards = [ssh[i + 1] for i, a in enumerate(ssh[:-1]) if a == "-L"]
            if any(f.split(":", 1)[0].isdigit() and int(f.split(":", 1)[0]) in local_ports for f in forwards):
                pids.append(pid)
        elif "--local-port" in argv and "--remote-pid" in argv:
            i = argv.index("--local-port")
            if i + 1 < len(argv) and argv[i + 1].isdigit() and int(argv[i + 1]) in local_ports:
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


# --- RHL's messages (workaround 5) ------------------------------------------------------------

#: RHL 0.4.5's words for a service that died while starting, in the user's terms.
REASONS = {
    "Remote launch already attempted and failed.": "it stopped while starting",
    "Remote process did not finish starting after relaunch.": "it exited before it was running",
}


def reason(exc: Exception) -> str:
    """The reason of a failed launch, in the user's terms where RHL's words are known."""
    return REASONS.get(str(exc), str(exc))
