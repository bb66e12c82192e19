"""Fewer SSH round trips for a launch on a frontend: remote-http-launcher's helpers, batched.

Each remote command costs a session on the frontend (its login shell's start-up included: often
the larger part), even over the shared master of :mod:`.ssh_multiplex`. remote-http-launcher
(RHL) 0.4.5 runs its helpers one session each, and a cold launch runs them in a fixed order:

1. ``rhl-inspect KEY`` (missing), 2. ``rhl-launch-service ...``, then polls until the service
no longer starts, 3. ``rhl-inspect KEY`` twice (exists, read), 4. ``rhl-verify-port HOST PORT``,
5. ``rhl-handshake URL`` (when the launch dict has a handshake).

The executor here runs the same helpers, with the same arguments and results, in fewer sessions:

* ``rhl-launch-service`` and the wait until the service has left "starting" (``rhl-inspect``
  polled on the frontend, every 50 ms) and the final ``rhl-inspect`` go in one session; that
  state answers RHL's next two ``rhl-inspect KEY`` calls (exists, read);
* ``rhl-verify-port`` and the ``rhl-handshake`` that RHL runs right after it go in one session.

A result is handed out once, for the call it was fetched for; any other helper call (which may
change the state) drops what is left. The protocol is RHL's own: its helpers and its state file.
"""

from __future__ import annotations

import contextlib
import shlex
import subprocess
import threading
from typing import Any

#: Seconds the remote wait for a starting service may take (as launching.START_TIMEOUT).
_WAIT_POLLS = 1200  # x 50 ms
_SEP = "--seamless-batch-7f3a--"

_SCRIPT_HEAD = f"""\
sep={_SEP}
e=$(mktemp) || exit 125
trap 'rm -f "$e"' EXIT
run() {{ "$@" 2>"$e"; rc=$?; printf '\\n%s\\n' "$sep"; cat "$e"; printf '\\n%s %d\\n' "$sep" "$rc"; }}
wait_started() {{
  i=0
  while [ "$i" -lt {_WAIT_POLLS} ]; do
    out=$(rhl-inspect "$1" 2>/dev/null) || return 0
    case $out in *'"status": "starting"'*) ;; *) return 0 ;; esac
    pid=$(printf '%s\\n' "$out" | sed -n 's/.*"pid": *\\([0-9][0-9]*\\).*/\\1/p')
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 0; fi
    i=$((i + 1)); sleep 0.05
  done
}}
"""


def _script(commands: list[list[str]], *, stop_on_failure: bool) -> str:
    lines = [_SCRIPT_HEAD]
    for index, argv in enumerate(commands):
        guard = '[ "$rc" = 0 ] || exit 0; ' if stop_on_failure and index else ""
        lines.append(guard + "run " + shlex.join(argv))
    return "\n".join(lines) + "\n"


def _parse(stdout: str, argvs: list[list[str]]) -> list[subprocess.CompletedProcess]:
    """Split the batch's output into one CompletedProcess per command that ran."""
    results = []
    rest = stdout
    for argv in argvs:
        marker = f"\n{_SEP}\n"
        if marker not in rest:
            break
        out, rest = rest.split(marker, 1)
        end = f"\n{_SEP} "
        if end not in rest:
            break
        err, rest = rest.split(end, 1)
        code, _, rest = rest.partition("\n")
        results.append(subprocess.CompletedProcess(argv, int(code), out, err))
    return results


class HelperResults:
    """Helper results fetched ahead of RHL's calls, each handed out once (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ready: list[tuple[tuple[str, ...], subprocess.CompletedProcess]] = []
        #: the last state a batched wait saw ("running", "failed", ...; "starting": still so)
        self.settled_status: str | None = None

    def put(self, argv: list[str], result: subprocess.CompletedProcess) -> None:
        with self._lock:
            self._ready.append((tuple(argv), result))

    def take(self, argv: list[str]) -> subprocess.CompletedProcess | None:
        """The result fetched for ``argv``; any other call drops what was fetched."""
        with self._lock:
            if self._ready and self._ready[0][0] == tuple(argv):
                return self._ready.pop(0)[1]
            self._ready.clear()
            return None

    def settled(self) -> bool:
        """Whether a batched launch already waited until its service left "starting" (once)."""
        with self._lock:
            status, self.settled_status = self.settled_status, None
            if status is None or status == "starting":
                self._ready.clear()  # the caller checks the state itself; what was fetched may change
                return False
            return True


def _status_of(result: subprocess.CompletedProcess) -> str | None:
    import json

    if result.returncode != 0:
        return None
    try:
        data = json.loads(result.stdout)
    except ValueError:
        return None
    return data.get("status") if isinstance(data, dict) else None


def executor_class() -> type:
    """The batching subclass of RHL's ``SSHExecutor`` (RHL imported when first needed)."""
    global _EXECUTOR
    if _EXECUTOR is None:
        _EXECUTOR = _build_executor_class()
    return _EXECUTOR


_EXECUTOR: type | None = None


def _build_executor_class() -> type:
    import remote_http_launcher as rhl

    class BatchingSSHExecutor(rhl.SSHExecutor):
        """RHL's SSH executor; a launch and its wait, and verify-port + handshake, one session each."""

        def __init__(self, cfg: Any, observer: Any, results: HelperResults):
            super().__init__(cfg.ssh_hostname, observer)
            self.cfg = cfg
            self.results = results
            self._last_state: dict[str, Any] | None = None

        def _batch(self, commands: list[list[str]], *, stop_on_failure: bool) -> list[subprocess.CompletedProcess]:
            script = _script(commands, stop_on_failure=stop_on_failure)
            for argv in commands:
                self.observer.on_command(self.host, rhl._command_snippet(" ".join(argv)), shlex.join(argv))
            result = subprocess.run(["ssh", self._host, shlex.join(["sh", "-c", script])], text=True, capture_output=True)
            parsed = _parse(result.stdout, commands)
            if not parsed:  # the session itself failed: report it as the first command's failure
                parsed = [subprocess.CompletedProcess(commands[0], result.returncode, result.stdout, result.stderr)]
            return parsed

        def _served(self, argv: list[str], result: subprocess.CompletedProcess, check: bool) -> subprocess.CompletedProcess:
            if argv[:1] == ["rhl-inspect"] and len(argv) == 2 and result.returncode == 0:
                import json

                with contextlib.suppress(ValueError):
                    self._last_state = json.loads(result.stdout)
            if check and result.returncode != 0:
                raise rhl.LauncherError(f"{self.host} helper failed: {shlex.join(argv)}\n{result.stderr.strip()}")
            return result

        def invoke_helper(self, argv: list[str], *, check: bool = True, input_data: str | None = None):
            ready = self.results.take(argv) if input_data is None else None
            if ready is not None:
                return self._served(argv, ready, check)
            if argv[:1] == ["rhl-launch-service"] and input_data is None:
                inspect = ["rhl-inspect", self.cfg.key]
                launched, *rest = self._batch([argv, ["wait_started", self.cfg.key], inspect], stop_on_failure=True)
                if len(rest) == 2:
                    state = rest[1]
                    self.results.settled_status = _status_of(state)
                    self.results.put(inspect, state)  # RHL's exists() ...
                    self.results.put(inspect, state)  # ... and read()
                return self._served(argv, launched, check)
            if argv[:1] == ["rhl-verify-port"] and self.cfg.handshake is not None and input_data is None:
                handshake = self._next_handshake(argv)
                if handshake is not None:
                    verified, *rest = self._batch([argv, handshake], stop_on_failure=True)
                    if rest:
                        self.results.put(handshake, rest[0])
                    return self._served(argv, verified, check)
            return self._served(argv, super().invoke_helper(argv, check=False, input_data=input_data), check)

        def _next_handshake(self, verify: list[str]) -> list[str] | None:
            """The ``rhl-handshake`` RHL will run after ``verify`` (from the last state read)."""
            state = self._last_state
            if len(verify) != 3 or not isinstance(state, dict):
                return None
            try:
                port = rhl._remote_handshake_port(self.cfg, state)
            except (KeyError, TypeError, ValueError):
                return None
            return ["rhl-handshake", rhl.build_handshake_url(verify[1], port, self.cfg.handshake)]

    return BatchingSSHExecutor


def execute(cfg: Any, observer: Any, results: HelperResults) -> dict[str, Any]:
    """RHL 0.4.5's ``_execute`` for a frontend, with the batching executor (same phases, same
    state files, same payload)."""
    import remote_http_launcher as rhl

    local_state = rhl.LocalState.build(cfg, None)
    try:
        local_result = rhl.handle_local(cfg, local_state, observer)
        if local_result:
            observer.on_phase(rhl.Phase.DONE, "reused-local")
            return local_result
    except rhl.LauncherError:
        pass
    executor = executor_class()(cfg, observer, results)
    observer.on_phase(rhl.Phase.CONNECT, executor.host)
    if cfg.conda_env:
        executor.ensure_conda_setup()
    remote = rhl.RemoteState(executor, cfg, rhl._default_server_directory().as_posix())
    remote_result, done_result = rhl.handle_remote(cfg, remote)
    payload = rhl.create_local_file(cfg, local_state, remote_result, observer)
    observer.on_phase(rhl.Phase.DONE, done_result)
    return payload


