"""Fewer SSH round trips for a launch on a frontend: remote-http-launcher's helpers, batched.

Each remote command costs a session on the frontend (its login shell's start-up included: often
the larger part), even over the shared master of :mod:`.ssh_multiplex`. remote-http-launcher
(RHL) 0.4.5 runs its helpers one session each, in an order fixed by the state it finds:

* cold: ``rhl-inspect KEY`` (missing), ``rhl-launch-service ...``, polls until the service no
  longer starts, ``rhl-inspect KEY`` twice (exists, read), ``rhl-verify-port HOST PORT``,
  ``rhl-handshake URL`` (when the launch dict has a handshake);
* running (e.g. launched by another client): the same from the second ``rhl-inspect`` on.

At RHL's first call, the executor here runs that whole sequence in one session: the same
helpers with the arguments RHL would give them (the launch command is RHL's own, recorded from
its ``launch_process``; host and ports come from the state the helpers print), with the wait
for the start done on the frontend (the service's status file read every 20 ms). The helpers
run in one interpreter there (:mod:`.batch_runner`: each helper's own ``main``, as the frontend
installed it, ``rhl-launch-service``'s included), not one each (~0.1-0.3 s apiece on a busy
login node, competing with the starting service for the CPU); where they cannot be loaded so,
the script runs the commands one by one (its wait reads the file every 50 ms). The results are handed to RHL's calls in order,
each once, when its arguments match; any other call drops the rest, which RHL then runs itself.
So RHL sees what it would have seen, from one round trip; the protocol (its helpers and state
file) is untouched.
"""

from __future__ import annotations

import functools
import json
import shlex
import subprocess
import threading
from pathlib import Path
from typing import Any

from .launching import START_TIMEOUT
from .ssh_multiplex import wait_for_master

#: Polls, 50 ms apart, of the remote wait for a starting service in the shell (the runner of
#: batch_runner looks more often, for as long: launching.START_TIMEOUT).
_WAIT_POLLS = round(START_TIMEOUT / 0.05)
_SEP = "--seamless-batch-7f3a--"

# run LABEL CMD...: CMD's stdout, then a separator, its stderr, a separator with label, exit
# code and the command (its stdout also stays in $o for the script; $o and $e: _SCRIPT_FILES)
_SCRIPT_HEAD = f"""\
sep={_SEP}
run() {{
  label=$1; shift
  "$@" >"$o" 2>"$e"; rc=$?
  cat "$o"; printf '\\n%s\\n' "$sep"; cat "$e"; printf '\\n%s %s %d %s\\n' "$sep" "$label" "$rc" "$*"
}}
wait_started() {{  # KEY [STATUS_FILE]: the file itself is read when known (no interpreter per poll)
  i=0
  while [ "$i" -lt {_WAIT_POLLS} ]; do
    if [ -n "$2" ]; then out=$(cat "$2" 2>/dev/null) || return 0; else out=$(rhl-inspect "$1" 2>/dev/null) || return 0; fi
    case $out in *'"status": "starting"'*) ;; *) return 0 ;; esac
    pid=$(printf '%s\\n' "$out" | sed -n 's/.*"pid": *\\([0-9][0-9]*\\).*/\\1/p')
    if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then return 0; fi
    i=$((i + 1)); sleep 0.05
  done
}}
field() {{ printf '%s\\n' "$state" | sed -n "s/^  \\"$1\\": \\(.*\\)$/\\1/p" | sed 's/,$//; s/^"//; s/"$//'; }}
"""
#: The files of ``run`` (made only when the runner of batch_runner cannot run the sequence).
_SCRIPT_FILES = """\
o=$(mktemp) && e=$(mktemp) || exit 125
trap 'rm -f "$o" "$e"' EXIT
"""


def _script(key: str, launch: list[str] | None, check: tuple[str, str | None, str, str] | None) -> str:
    """The shell script of RHL's sequence from its first call (see the module docstring).

    ``launch``: RHL's ``rhl-launch-service`` argv (run when the key has no state); ``check``:
    (default host, handshake port field or None, handshake URL before and after ``host:port``).
    """
    q = shlex.quote
    plan = {"key": key, "launch": launch, "check": None if check is None else list(check),
            "status_file": None if launch is None else _status_path(launch), "wait_seconds": START_TIMEOUT}
    lines = [
        _SCRIPT_HEAD,
        # the whole sequence in one interpreter (the helpers' own, from rhl-inspect's #! line);
        # the commands one by one below when it cannot load them
        """py=$(sed -n '1s/^#!//p' "$(command -v rhl-inspect)" 2>/dev/null)""",
        'if [ -n "$py" ]; then',
        f'  out=$($py -c {q(_runner_source())} "$sep" {q(json.dumps(plan))} 2>/dev/null)',
        """  if [ -n "$out" ]; then printf '%s\\n' "$out"; exit 0; fi""",
        "fi",
        _SCRIPT_FILES,
        f"run first rhl-inspect {q(key)}",
        'state=$(cat "$o")',
    ]
    if launch is not None:
        lines += [
            'if [ "$rc" = 1 ] && grep -q "no state file" "$e"; then',
            f"  run launch {shlex.join(launch)}",
            '  [ "$rc" = 0 ] || exit 0',
            f"  wait_started {q(key)} {_status_file(launch)}",
            f"  run state rhl-inspect {q(key)}",
            '  state=$(cat "$o")',
            "fi",
        ]
    if check is not None:
        default_host, port_field, before, after = check
        lines += [
            '[ "$rc" = 0 ] && [ "$(field status)" = running ] || exit 0',
            f'host=$(field network_interface); [ -n "$host" ] || host={q(default_host)}',
            'run verify rhl-verify-port "$host" "$(field port)"',
        ]
        if port_field is not None:
            lines += ['[ "$rc" = 0 ] || exit 0', f'run handshake rhl-handshake {q(before)}"$host:$(field {q(port_field)})"{q(after)}']
    return "\n".join(lines) + "\n"


def _status_path(launch: list[str]) -> str | None:
    """The service's status file in RHL's launch argv (maybe ``~/...``), or None."""
    for i, word in enumerate(launch):
        if word == "--status-file" and i + 1 < len(launch):
            return launch[i + 1]
        if word.startswith("--status-file="):
            return word.removeprefix("--status-file=")
    return None


def _status_file(launch: list[str]) -> str:
    """:func:`_status_path` as a shell word (``~/`` expanded on the frontend); ``''`` for none."""
    path = _status_path(launch)
    if path is None:
        return "''"
    return '"$HOME"/' + shlex.quote(path[2:]) if path.startswith("~/") else shlex.quote(path)


@functools.lru_cache(maxsize=1)
def _runner_source() -> str:
    """The source of :mod:`.batch_runner`, sent to the frontend."""
    return (Path(__file__).parent / "batch_runner.py").read_text()


def _parse(stdout: str) -> dict[str, subprocess.CompletedProcess]:
    """The results of a batch script's ``run`` calls, by label (the argv as the script ran it)."""
    results: dict[str, subprocess.CompletedProcess] = {}
    rest = stdout
    while True:
        marker = f"\n{_SEP}\n"
        if marker not in rest:
            return results
        out, rest = rest.split(marker, 1)
        end = f"\n{_SEP} "
        if end not in rest:
            return results
        err, rest = rest.split(end, 1)
        line, _, rest = rest.partition("\n")
        label, code, *argv = line.split(" ")
        results[label] = subprocess.CompletedProcess(argv, int(code), out, err)


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


def planned_launch(cfg: Any) -> list[str] | None:
    """The ``rhl-launch-service`` argv RHL would run for ``cfg`` (from its own ``launch_process``);
    None when RHL would first check conda, or cannot build it (it raises that error itself)."""
    import remote_http_launcher as rhl

    if cfg.conda_env:
        return None

    class Recorder(rhl.Executor):
        argv: list[str] | None = None

        def invoke_helper(self, argv, *, check=True, input_data=None):
            self.argv = list(argv)
            return subprocess.CompletedProcess(argv, 0, "", "")

    recorder = Recorder("plan", observer=None)
    try:
        rhl.RemoteState(recorder, cfg, rhl._default_server_directory().as_posix()).launch_process(None)
    except Exception:
        return None
    return recorder.argv


def planned_check(cfg: Any) -> tuple[str, str | None, str, str]:
    """What RHL checks on a running service: default host, handshake port field, handshake URL
    before and after ``host:port`` (see :func:`_script`)."""
    import remote_http_launcher as rhl

    if cfg.handshake is None:
        return cfg.network_interface, None, "", ""
    before, after = rhl.build_handshake_url("@host@", 1, cfg.handshake).split("@host@:1", 1)
    return cfg.network_interface, cfg.handshake.port_name or "port", before, after


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
        """RHL's SSH executor; its sequence of helpers from the first call on, in one session."""

        def __init__(self, cfg: Any, observer: Any, results: HelperResults):
            super().__init__(cfg.ssh_hostname, observer)
            self.cfg = cfg
            self.results = results
            self._first = True

        def _run_first(self, argv: list[str]) -> subprocess.CompletedProcess:
            launch = planned_launch(self.cfg)
            script = _script(self.cfg.key, launch, planned_check(self.cfg))
            self.observer.on_command(self.host, "batch: " + rhl._command_snippet(" ".join(argv)), script)
            wait_for_master(self._host)
            done = subprocess.run(["ssh", self._host, shlex.join(["sh", "-c", script])], text=True, capture_output=True)
            ran = _parse(done.stdout)
            first = ran.get("first")
            if first is None:  # the session itself failed: as RHL's own call would have
                return subprocess.CompletedProcess(argv, done.returncode, done.stdout, done.stderr)
            state = first
            if launch is not None and "launch" in ran:
                self.results.put(launch, ran["launch"])
                if "state" in ran:
                    state = ran["state"]
                    self.results.settled_status = _status_of(state)
                    self.results.put(argv, state)  # RHL's exists() after the launch
            self.results.put(argv, state)  # RHL's read()
            for label in ("verify", "handshake"):
                if label in ran:
                    self.results.put(ran[label].args, ran[label])
            return first

        def invoke_helper(self, argv: list[str], *, check: bool = True, input_data: str | None = None):
            result = self.results.take(argv) if input_data is None else None
            if result is None:
                first, self._first = self._first, False
                if first and argv == ["rhl-inspect", self.cfg.key] and input_data is None:
                    result = self._run_first(argv)
                else:
                    result = super().invoke_helper(argv, check=False, input_data=input_data)
            if check and result.returncode != 0:
                raise rhl.LauncherError(f"{self.host} helper failed: {shlex.join(argv)}\n{result.stderr.strip()}")
            return result

    return BatchingSSHExecutor
