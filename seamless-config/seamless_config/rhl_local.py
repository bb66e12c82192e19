"""Local launches through remote-http-launcher 0.4.5 with its read-only helpers run in-process.

For a launch on this machine the launcher runs each of its ``rhl-*`` helpers as a new
interpreter: ``rhl-inspect`` (three times), ``rhl-launch-service``, ``rhl-verify-port`` and
``rhl-handshake``. Each costs an interpreter start (25-110 ms idle, several times that on a busy
login node), and four of them run after the service is already up. Here the helpers that only
read state or probe a port run as function calls in this process, with the same arguments, output
and exit status; ``rhl-launch-service`` (which spawns the service, so that the service's parent is
a process that exits at once) and everything that kills or stops still run as processes. The
launcher's state files are written by the launcher's own code, so its tools keep working.

What of the launcher's internals this uses (pinned by ``tests/test_rhl_local.py``):

- ``LocalExecutor.invoke_helper`` as the one place where a helper is run;
- the helpers' ``main()`` functions in ``ssh_guard.helpers.<name>``, which read ``sys.argv`` and
  print their answer;
- the steps of the launcher's ``_execute`` for a local target: ``LocalState.build``,
  ``handle_local``, ``RemoteState``, ``handle_remote``, ``create_local_file``, ``Phase``.
"""

from __future__ import annotations

import contextlib
import importlib
import io
import subprocess
import sys
import threading
import traceback
from typing import Any

import remote_http_launcher as rhl

#: helper command -> the module whose ``main()`` it runs; only helpers without side effects on
#: processes (reads of the state, a port probe, a handshake GET).
IN_PROCESS = {
    "rhl-inspect": "ssh_guard.helpers.inspect",
    "rhl-verify-port": "ssh_guard.helpers.verify_port",
    "rhl-handshake": "ssh_guard.helpers.handshake",
    "rhl-pid-alive": "ssh_guard.helpers.pid_alive",
}

# sys.argv and sys.stdout/stderr are process-wide: one in-process helper at a time
_HELPER_LOCK = threading.Lock()


def run_helper(argv: list[str]) -> subprocess.CompletedProcess:
    """Run the helper ``argv[0]`` (one of :data:`IN_PROCESS`) in this process, as its console
    script would run: same arguments, captured stdout/stderr, exit status from ``SystemExit``."""
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


class InProcessExecutor(rhl.LocalExecutor):
    """The launcher's local executor, running the helpers of :data:`IN_PROCESS` as calls."""

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


def execute(cfg: rhl.Configuration, observer: Any) -> dict[str, Any]:
    """Reconnect to or launch the service of ``cfg`` on this machine; return the client payload.

    The launcher's sequence for a local target: reuse the client record when its handshake
    answers, else check, launch or wait for the server-side state and write the client record.
    """
    if cfg.hostname:
        raise ValueError(f"{cfg.key}: not a local launch (hostname {cfg.hostname!r})")
    client_state = rhl.LocalState.build(cfg, None)
    with contextlib.suppress(rhl.LauncherError):  # an unusable record: launch as without one
        reused = rhl.handle_local(cfg, client_state, observer)
        if reused:
            observer.on_phase(rhl.Phase.DONE, "reused-local")
            return reused
    executor = InProcessExecutor(observer)
    observer.on_phase(rhl.Phase.CONNECT, executor.host)
    if cfg.conda_env:
        executor.ensure_conda_setup()
    server_state = rhl.RemoteState(executor, cfg, rhl._default_server_directory().as_posix())
    result, how = rhl.handle_remote(cfg, server_state)
    payload = rhl.create_local_file(cfg, client_state, result, observer)
    observer.on_phase(rhl.Phase.DONE, how)
    return payload
