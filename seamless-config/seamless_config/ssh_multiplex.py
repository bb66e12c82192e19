"""One SSH connection per frontend: every ``ssh`` that Seamless runs shares an OpenSSH master.

remote-http-launcher (RHL) 0.4.5 runs a plain ``ssh HOST CMD`` for each of its helpers, and its
tunnel monitors run ``ssh -N -L ...``: each one a new TCP connection, key exchange and login.
This module gives them, and our own calls (:func:`launching.run_tool`), one multiplexed
connection per destination, through a small ``ssh`` wrapper script (the *shim*) that is put first
on PATH while a launch runs (:func:`multiplexed`):

* it adds ``ControlMaster=auto``, ``ControlPath=<control dir>/%C`` and ``ControlPersist``, so the
  first call opens a master in the background and later calls, also from later processes, reuse
  it while it lives; a master that died leaves a stale socket, which OpenSSH replaces at the
  next call;
* the user's ssh configuration stays in force (only these three options are added on the command
  line), and when it sets a ``ControlPath`` for the destination (``ssh -G``), nothing is added;
* a tunnel (``ssh -N -L ...``) is opened by the master; the shim then stays alive while the
  master holds it and cancels it when it is terminated, so a tunnel still lives exactly as long
  as its process.

The control directory is ``~/.seamless/ssh`` (0700; the sockets OpenSSH creates there are
0600). Unix sockets have a short path limit: with a long home directory a private directory
under the system's temporary directory is used instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import shutil
import signal
import stat
import subprocess
import tempfile
import threading
from pathlib import Path
from typing import Iterator

from .search_path import prepended

#: Seconds an idle master stays up after its last client (a tunnel's monitor keeps it busy).
CONTROL_PERSIST_SECONDS = 600
#: OpenSSH's limit for a socket path, minus the 17 characters of its temporary suffix.
_MAX_SOCKET_PATH = 104 - 17
#: ``%C``: a 40-hex-digit hash of local host, remote host, port and user.
_SOCKET_NAME = "%C"
_SOCKET_NAME_LENGTH = 40

_SHIM = """\
#!/bin/sh
# Written by seamless_config.ssh_multiplex: ssh over one multiplexed connection per destination.
real={real}
case "$("$real" -G "$@" 2>/dev/null | sed -n 's/^controlpath //p')" in
  ''|none) ;;
  *) exec "$real" "$@" ;;  # the user's configuration multiplexes this destination its own way
esac
tunnel=  # -N among ssh's own options (not in the remote command): a tunnel
while getopts :46AaCfGgKkMNnqsTtVvXxYyB:b:c:D:E:e:F:I:i:J:L:l:m:O:o:P:p:Q:R:S:W:w: option; do
  [ "$option" = N ] && tunnel=1
done
set -- {options} "$@"
[ -n "$tunnel" ] || exec "$real" "$@"
# A tunnel (only RHL's own monitors, the fallback of rhl_adapter's workaround 8, still open one
# this way): the master opens the forwarding, and the client may stay (OpenSSH 9.2 keeps an
# `ssh -N` mux client while its stdin is open) or exit. Either way, stand in for it: stay alive
# while the master lives, and cancel the forwarding when terminated (also when that
# comes while the forwarding is being opened: the trap then runs once the client is done).
trap '"$real" -O cancel "$@" >/dev/null 2>&1; kill $! 2>/dev/null; exit 0' HUP INT TERM
"$real" "$@" || exit $?
while "$real" -O check "$@" >/dev/null 2>&1; do sleep {check} & wait $!; done
"""
#: Seconds between a tunnel's checks that its master still runs.
_TUNNEL_CHECK_SECONDS = 10


def _candidate_dirs() -> tuple[Path, Path | None]:
    """``~/.seamless/ssh``, and the directory to use instead when its socket paths are too long."""
    preferred = Path.home() / ".seamless" / "ssh"
    if len(str(preferred)) + 1 + _SOCKET_NAME_LENGTH <= _MAX_SOCKET_PATH:
        return preferred, None
    digest = hashlib.sha1(str(Path.home()).encode()).hexdigest()[:10]
    return preferred, Path(tempfile.gettempdir()) / f"seamless-ssh-{os.getuid()}-{digest}"


def control_dir() -> Path:
    """The private directory of the control sockets (created 0700)."""
    from seamless_service.private_files import private_dir

    preferred, fallback = _candidate_dirs()
    if fallback is None:
        private_dir(preferred.parent)
        return private_dir(preferred)
    with contextlib.suppress(FileExistsError):
        fallback.mkdir(mode=0o700)
    st = os.lstat(fallback)
    if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid() or stat.S_IMODE(st.st_mode) & 0o077:
        raise PermissionError(f"{fallback} is not a private directory of yours; remove it")
    return fallback


def control_options() -> list[str]:
    """The options that make an ``ssh`` share the master of its destination (opening it if none)."""
    return ["-o", "ControlMaster=auto", "-o", f"ControlPath={control_dir() / _SOCKET_NAME}",
            "-o", f"ControlPersist={CONTROL_PERSIST_SECONDS}"]


def _shim_dir() -> Path:
    from seamless_service.private_files import private_dir

    return private_dir(Path.home() / ".seamless" / "ssh" / "bin")


def real_ssh() -> str | None:
    """The ``ssh`` that PATH names, the shim's own directory left out (None: not installed)."""
    shim_dir = str(_shim_dir())
    path = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep) if p != shim_dir)
    return shutil.which("ssh", path=path)


def shim() -> Path | None:
    """The ``ssh`` shim (written when missing or outdated); None when ssh is not installed."""
    real = real_ssh()
    if real is None:
        return None
    text = _SHIM.format(real=shlex.quote(real), options=shlex.join(control_options()), check=_TUNNEL_CHECK_SECONDS)
    path = _shim_dir() / "ssh"
    with contextlib.suppress(OSError):
        if path.read_text() == text:
            return path
    from seamless_service.private_files import write_private

    write_private(path, text, executable=True)
    return path


def ssh_executable() -> str:
    """What to run as ``ssh`` for a frontend: the shim, or plain ``ssh`` without one."""
    path = shim()
    return "ssh" if path is None else str(path)


@contextlib.contextmanager
def multiplexed() -> Iterator[None]:
    """Put the shim first on PATH for the duration: every ``ssh`` started meanwhile (RHL's
    helpers and tunnel monitors included) goes over the shared master."""
    path = shim()
    if path is None:
        yield
        return
    with prepended(str(path.parent)):
        yield


def open_master(host: str, *, timeout: float = 60) -> bool:
    """Make sure a master for ``host`` runs (opened once, before launches in parallel would each
    open their own); True when the shared connection works.

    A running master is only checked (``ssh -O check``); a new one is opened without a remote
    command (``-N``: key exchange and login, no session, so no login shell on the frontend).
    When the user's configuration multiplexes ``host`` its own way, its master is checked, and when
    there is none, one remote ``true`` opens it.
    """
    real = real_ssh()
    if real is None:
        return False
    try:
        # the user's configuration for host, asked while the master is checked: without a master,
        # the opening waits for it
        config = subprocess.Popen([real, "-G", "--", host], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        try:
            if master_pid(host) is not None:
                return True
            own_control_path = _sets_control_path(config.communicate(timeout=30)[0])
        finally:
            if config.poll() is None:
                config.kill()
            config.wait()
            if config.stdout is not None:
                config.stdout.close()
        if own_control_path:
            for command in (["-O", "check", "--", host], ["--", host, "true"]):
                result = subprocess.run([real, "-o", "BatchMode=yes", *command],
                                        capture_output=True, text=True, timeout=timeout)
                if result.returncode == 0:
                    return True
            return False
        return _open_new_master(real, host, timeout)
    except (OSError, subprocess.TimeoutExpired):
        return False


def _open_new_master(real: str, host: str, timeout: float) -> bool:
    """``ssh -N`` with :func:`control_options`: with ControlPersist the master goes to the
    background once logged in and this client exits at once. When another process opened the
    master first, OpenSSH keeps this one as a plain ``-N`` connection instead: it is then ended."""
    import time

    process = subprocess.Popen([real, *control_options(), "-o", "BatchMode=yes", "-N", "--", host],
                               stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            try:
                return process.wait(timeout=0.2) == 0
            except subprocess.TimeoutExpired:
                pass
            if master_pid(host) is not None:  # a master answers: ours (this client exits now) or another's
                with contextlib.suppress(subprocess.TimeoutExpired):
                    return process.wait(timeout=2) == 0
                return True
        return False
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def _sets_control_path(configuration: str) -> bool:
    """Whether ``ssh -G``'s ``configuration`` for a host sets a ControlPath (as the shim checks)."""
    for line in configuration.splitlines():
        if line.startswith("controlpath "):
            return line.split(" ", 1)[1].strip() not in ("", "none")
    return False


_opening: dict[str, threading.Thread] = {}
_opening_lock = threading.Lock()


def start_master(host: str) -> None:
    """Begin :func:`open_master` for ``host`` in the background (e.g. while the rest of a launch is
    prepared); our ``ssh`` calls to ``host`` wait for it first (:func:`wait_for_master`)."""
    with _opening_lock:
        if host in _opening and _opening[host].is_alive():
            return
        thread = threading.Thread(target=open_master, args=(host,), name=f"ssh-master-{host}", daemon=True)
        _opening[host] = thread
        thread.start()


def ensure_master(host: str) -> None:
    """:func:`open_master` for ``host``, once at a time however many threads ask (each waits)."""
    start_master(host)
    wait_for_master(host)


def wait_for_master(host: str) -> None:
    """Wait while :func:`start_master` is opening the master of ``host``: an ``ssh`` started
    meanwhile would open a connection of its own."""
    with _opening_lock:
        thread = _opening.get(host)
    if thread is not None:
        thread.join()


def control_path() -> str:
    """The control socket of the masters :func:`open_master` opens (whether one runs or not)."""
    return str(control_dir() / _SOCKET_NAME)


def master_control_path(host: str) -> str | None:
    """The control socket of the running master of ``host`` that :func:`open_master` opened;
    None when there is none (e.g. the user's configuration multiplexes ``host`` its own way)."""
    return None if master_pid(host) is None else control_path()


def master_pid(host: str) -> int | None:
    """The PID of the running master for ``host`` (``ssh -O check``), or None."""
    real = real_ssh()
    if real is None:
        return None
    result = subprocess.run(
        [real, "-o", f"ControlPath={control_dir() / _SOCKET_NAME}", "-O", "check", "--", host],
        capture_output=True, text=True, timeout=30,
    )
    marker = "(pid="
    if result.returncode != 0 or marker not in result.stderr:
        return None
    return int(result.stderr.split(marker, 1)[1].split(")", 1)[0])


def ssh_argv(argv: list[str]) -> list[str] | None:
    """The ssh arguments of a process's command line: ``ssh ...`` itself, or the shim run by its
    interpreter (``/bin/sh .../ssh ...``); None for other processes."""
    if argv and os.path.basename(argv[0]) == "ssh":
        return argv
    if len(argv) > 1 and os.path.basename(argv[0]) in ("sh", "dash", "bash") and os.path.basename(argv[1]) == "ssh":
        return argv[1:]
    return None


def is_shim_process(argv: list[str]) -> bool:
    """Whether the command line is the shim standing in for a tunnel (stop it with SIGTERM, so
    that it cancels the forwarding in the master)."""
    return ssh_argv(argv) is not None and os.path.basename(argv[0]) != "ssh"


def _cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").decode(errors="replace").split("\0")
    except OSError:
        return []


def is_own_monitor(argv: list[str]) -> bool:
    """Whether the command line is a :mod:`.tunnel_monitor` (stop it with SIGTERM, so that it
    cancels its forwardings in the master)."""
    from .tunnel_monitor import MARKER

    return MARKER in argv


def stop_tunnel_processes(pids: list[int], *, timeout: float = 5) -> list[int]:
    """Stop tunnel processes: SIGKILL for RHL's monitors (they sleep 20 s between checks) and
    plain ssh; SIGTERM for the shim and our :mod:`.tunnel_monitor`, which then cancel their
    forwardings in the shared master (waited for, so the local ports are closed on return). An
    ``ssh`` that a shim is running is left to finish (killed, its request to open the forwarding
    could still reach the master after the shim's cancel). Returns ``pids``."""
    import time

    from .launching import pid_alive

    shims = [pid for pid in pids if is_shim_process(argv := _cmdline(pid)) or is_own_monitor(argv)]
    of_shims = [pid for pid in pids if pid not in shims and _parent(pid) in shims]
    for pid in pids:
        if pid not in of_shims:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM if pid in shims else signal.SIGKILL)
    deadline = time.monotonic() + timeout
    for pid in shims:
        while pid_alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)
    for pid in [*shims, *of_shims]:
        if pid_alive(pid):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    return pids


def _parent(pid: int) -> int | None:
    from .service_records import proc_stat

    fields = proc_stat(pid)
    return int(fields[1]) if fields is not None else None


def _control_dir_if_any() -> Path | None:
    preferred, fallback = _candidate_dirs()
    directory = preferred if fallback is None else fallback
    return directory if directory.is_dir() and not directory.is_symlink() else None


def close_masters() -> int:
    """Stop this user's masters (``ssh -O exit``), e.g. when a test's home goes away; their
    tunnels close with them. A control directory outside the home is removed. Returns how many."""
    directory = _control_dir_if_any()
    real = shutil.which("ssh")
    if directory is None or real is None:
        return 0
    stopped = 0
    for entry in directory.iterdir():
        if entry.is_socket():
            result = subprocess.run(
                [real, "-o", f"ControlPath={entry}", "-O", "exit", "seamless-master"],
                capture_output=True, text=True, timeout=30,
            )
            stopped += result.returncode == 0
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
    if not directory.is_relative_to(Path.home()):
        with contextlib.suppress(OSError):
            directory.rmdir()
    return stopped
