"""A service's SSH tunnels as forwardings of the frontend's shared master, and their monitor.

remote-http-launcher (RHL) 0.4.5 opens each tunnel through a monitor process that runs
``ssh -N -L ...`` and reports it ready after a fixed 0.5 s sleep (``rhl_adapter`` workaround 9
lists what is kept of it). Over the shared master of :mod:`.ssh_multiplex`, a forwarding is one
request to the master (``ssh -O forward -L ...``: ~10-30 ms, no session on the frontend, and
its exit status says whether the master now listens on the local port), so here one monitor
process per service:

* asks the master for each of the service's forwardings, all at once; when one fails, cancels
  those that succeeded and reports each failure with ssh's message (nothing stays open);
* then writes one JSON line on its stdout (``{"status": "ready"}``, ``"error"`` with
  ``failed``: local port -> message, or ``"no-master"`` when no master answers), and stays;
* every :data:`CHECK_SECONDS` checks that its master still runs (a replaced master has lost
  the forwardings: it exits) and that the service's PID lives on the frontend (RHL's check:
  ``rhl-pid-alive``, else ``kill -0``), and cancels its forwardings and exits once it is gone;
* cancels its forwardings and exits when terminated (SIGTERM, SIGINT, SIGHUP).

Its command line carries ``--local-port P`` (one per forwarding) and ``--remote-pid``, as RHL's
monitor's does, so ``rhl_adapter.tunnel_processes`` finds it, and :data:`MARKER`. :func:`start`
runs it (this file's source, as RHL runs its monitor's) and reads the report; by hand:
``python -m seamless_config.tunnel_monitor --help``. Stdlib only.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import signal
import subprocess
import sys
import time
from typing import Sequence

#: Seconds between the checks that the master and the service still run (RHL's: 20).
CHECK_SECONDS = 20.0
#: Seconds to wait for the forwardings to be reported (RHL waits 15 s for its monitor).
READY_TIMEOUT = 15.0
#: This module, as ``python -m`` names it.
MODULE = "seamless_config.tunnel_monitor"
#: The first argument of a monitor that :func:`start` runs: how ``ssh_multiplex`` tells it from
#: RHL's, which has the same ``--local-port``/``--remote-pid``.
MARKER = "--seamless-tunnel-monitor"


class _Stop(BaseException):
    """Raised by the signal handler: leave the watch loop, cancel, exit (a BaseException, as
    KeyboardInterrupt: no `except Exception` on the way may swallow it)."""


def _on_signal(signum: int, frame: object) -> None:
    raise _Stop


class Monitor:
    """The forwardings ``localhost:L -> remote_host:P`` over ``ssh``'s master for ``ssh_host``."""

    def __init__(self, ssh: Sequence[str], ssh_host: str, remote_host: str, forwards: Sequence[tuple[int, int]]):
        self.ssh = list(ssh)
        self.ssh_host = ssh_host
        self.specs = {local: f"{local}:{remote_host}:{remote}" for local, remote in forwards}

    def _control(self, command: str, spec: str | None = None) -> subprocess.Popen:
        forward = ["-L", spec] if spec is not None else []
        return subprocess.Popen([*self.ssh, "-o", "BatchMode=yes", "-O", command, *forward, "--", self.ssh_host],
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def open(self) -> dict[int, str]:
        """Ask the master for every forwarding at once; local port -> ssh's message for those that
        failed (then the others are cancelled)."""
        calls = {local: self._control("forward", spec) for local, spec in self.specs.items()}
        failed = {}
        for local, call in calls.items():
            out, err = call.communicate()
            if call.returncode != 0:
                failed[local] = (err.strip() or out.strip() or f"ssh exited {call.returncode}")
        if failed:
            self.cancel([local for local in self.specs if local not in failed])
        return failed

    def cancel(self, locals_: Sequence[int] | None = None) -> None:
        """Cancel the forwardings of ``locals_`` (default: all) in the master."""
        calls = [self._control("cancel", self.specs[local]) for local in (self.specs if locals_ is None else locals_)]
        for call in calls:
            call.communicate()

    def master_pid(self) -> int | None:
        """The PID of the master that answers for ``ssh_host`` (``ssh -O check``), or None."""
        call = self._control("check")
        _, err = call.communicate()
        found = re.search(r"\(pid=(\d+)\)", err)
        return int(found.group(1)) if call.returncode == 0 and found else None

    def remote_pid_alive(self, pid: int) -> bool:
        """Whether ``pid`` lives on the frontend: RHL's monitor's check (an answer it cannot read:
        alive)."""
        for command in (["rhl-pid-alive", str(pid)], ["kill", "-0", str(pid)]):
            done = subprocess.run([*self.ssh, "-o", "BatchMode=yes", "--", self.ssh_host, *command],
                                  stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            if done.returncode in (0, 1):
                return done.returncode == 0
        return True


def _report(status: dict) -> None:
    """The one line the starter reads; stdout and stderr then go to /dev/null (the starter
    closes its ends of their pipes)."""
    sys.stdout.write(json.dumps(status) + "\n")
    sys.stdout.flush()
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    os.close(devnull)


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog=f"python -m {MODULE}", description=__doc__.splitlines()[0])
    parser.add_argument(MARKER, action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--ssh", required=True, help="the ssh to run")
    parser.add_argument("--control-path", help="the master's socket (default: as the ssh configuration says)")
    parser.add_argument("--ssh-host", required=True)
    parser.add_argument("--remote-host", required=True)
    parser.add_argument("--remote-pid", type=int, required=True, help="the service's PID on the frontend")
    parser.add_argument("--local-port", type=int, action="append", required=True)
    parser.add_argument("--remote-port", type=int, action="append", required=True)
    parser.add_argument("--check-seconds", type=float, default=CHECK_SECONDS)
    args = parser.parse_args(argv)
    if len(args.local_port) != len(args.remote_port):
        parser.error("give one --remote-port per --local-port")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    ssh = [args.ssh, *(["-o", f"ControlPath={args.control_path}"] if args.control_path else [])]
    monitor = Monitor(ssh, args.ssh_host, args.remote_host, list(zip(args.local_port, args.remote_port, strict=True)))
    stops = {signal.SIGTERM, signal.SIGINT, signal.SIGHUP}
    # a stop while the requests are out waits for their answers (else a request could reach the
    # master after the cancel), then cancels them all (cancelling one never opened does nothing)
    signal.pthread_sigmask(signal.SIG_BLOCK, stops)
    for signum in stops:
        signal.signal(signum, _on_signal)
    opened = True
    try:
        failed = monitor.open()
        if failed:
            opened = False  # open() cancelled the others
            no_master = monitor.master_pid() is None
            _report({"status": "no-master"} if no_master else {"status": "error", "failed": failed})
            return 1
        master = monitor.master_pid()  # the master that holds them: read before "ready"
        if master is None:  # it answered the forwards but not the check: a tunnel not watched
            _report({"status": "error", "message": "the SSH master took the forwardings but did not answer `ssh -O check`"})
            return 1
        _report({"status": "ready"})
        signal.pthread_sigmask(signal.SIG_UNBLOCK, stops)
        while True:
            time.sleep(args.check_seconds)
            now = monitor.master_pid()
            if now is None:  # no answer: look once more before taking it for gone
                time.sleep(1.0)
                now = monitor.master_pid()
            if now != master:  # gone (or replaced): the forwardings went with it
                opened = False
                return 0
            if not monitor.remote_pid_alive(args.remote_pid):
                return 0
    except _Stop:
        return 0
    finally:
        signal.pthread_sigmask(signal.SIG_BLOCK, stops)
        if opened:
            monitor.cancel()


# --- the starter's side ------------------------------------------------------------------------


def start(ssh: str, control_path: str | None, ssh_host: str, remote_host: str, forwards: Sequence[tuple[int, int]],
          remote_pid: int, *, timeout: float = READY_TIMEOUT, check_seconds: float = CHECK_SECONDS) -> tuple[dict, int]:
    """Start the monitor of ``forwards`` (local port, remote port) over the master of ``ssh_host``
    (at ``control_path``, or the one the user's configuration names) in a session of its own;
    return its report (see the module docstring) and its PID. A monitor that exits without a report, or
    has not reported within ``timeout`` s (then it is stopped), is reported as
    ``{"status": "error", "message": ...}``."""
    # this file's source, stdlib only: an interpreter without site (-S) and isolated from the
    # environment and the working directory (-I) starts in half the time
    argv = [sys.executable, "-I", "-S", "-c", _source(), MARKER, "--ssh", ssh, "--ssh-host", ssh_host, "--remote-host", remote_host,
            "--remote-pid", str(remote_pid), "--check-seconds", str(check_seconds)]
    if control_path is not None:
        argv += ["--control-path", control_path]
    for local, remote in forwards:
        argv += ["--local-port", str(local), "--remote-port", str(remote)]
    process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               start_new_session=True)
    assert process.stdout is not None and process.stderr is not None
    line = _read_line(process.stdout.fileno(), timeout)
    process.stdout.close()
    try:
        report = json.loads(line)
    except ValueError:
        report = None
    if isinstance(report, dict) and report.get("status") in ("ready", "error", "no-master"):
        process.stderr.close()
        if report["status"] != "ready":
            process.wait()
        return report, process.pid
    late = process.poll() is None
    if late:
        process.terminate()  # it cancels what it opened
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
    code = process.wait()
    # a monitor killed while its requests were out (or that died) cancelled nothing: the master
    # may hold some of them; cancelling one it does not hold does nothing
    ssh_argv = [ssh, *(["-o", f"ControlPath={control_path}"] if control_path is not None else [])]
    Monitor(ssh_argv, ssh_host, remote_host, forwards).cancel()
    err = process.stderr.read().decode(errors="replace").strip()
    process.stderr.close()
    what = f"did not report within {timeout:.0f} s" if late else f"exited ({code}) without a report"
    return {"status": "error", "message": f"the tunnel monitor {what}" + (f": {err[-500:]}" if err else "")}, process.pid


@functools.lru_cache(maxsize=1)
def _source() -> str:
    with open(__file__, encoding="utf-8") as handle:
        return handle.read()


def _read_line(fd: int, timeout: float) -> bytes:
    """The first line written on ``fd`` within ``timeout`` s (less at end of file or timeout)."""
    import selectors

    line = b""
    deadline = time.monotonic() + timeout
    with selectors.DefaultSelector() as selector:
        selector.register(fd, selectors.EVENT_READ)
        while not line.endswith(b"\n"):
            left = deadline - time.monotonic()
            if left <= 0 or not selector.select(left):
                break
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            line += chunk
    return line


if __name__ == "__main__":
    sys.exit(main())
