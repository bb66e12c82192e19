"""One multiplexed SSH connection per frontend, against the real sshd on loopback.

The "frontend" is ``localhost`` (scripts/sshd-up.sh). ssh reads the user's configuration from
the passwd home, not from $HOME, so a user's own configuration is given with ``-F`` here (the
shim passes it to ``ssh -G`` like any other option).
"""

from __future__ import annotations

import http.server
import os
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import urllib.request
from pathlib import Path

import pytest

from seamless_config import launching, rhl_adapter, ssh_multiplex

pytestmark = pytest.mark.ssh

HOST = "localhost"
CONFIG = {"key": "mux-test", "hostname": HOST}


def _private(path: Path) -> bool:
    st = os.lstat(path)
    return st.st_uid == os.getuid() and not stat.S_IMODE(st.st_mode) & 0o077


def test_calls_share_one_master_which_is_replaced_when_killed():
    assert launching.run_tool(CONFIG, ["echo", "first"]).stdout.strip() == "first"
    first = ssh_multiplex.master_pid(HOST)
    assert first is not None and launching.pid_alive(first)
    assert launching.run_tool(CONFIG, ["echo", "again"]).stdout.strip() == "again"
    assert ssh_multiplex.master_pid(HOST) == first  # reused, not a new connection
    os.kill(first, 9)
    assert launching.wait_for_exit(first)
    # the stale socket stays behind; the next call replaces the master without a word
    result = launching.run_tool(CONFIG, ["echo", "after"])
    assert (result.returncode, result.stdout.strip()) == (0, "after"), result.stderr
    # it waited: had it raced the opening master, ssh would have gone without multiplexing
    assert "disabling multiplexing" not in result.stderr
    second = ssh_multiplex.master_pid(HOST)
    assert second is not None and second != first and launching.pid_alive(second)


def _our_ssh_processes() -> list[int]:
    """PIDs of the ssh processes that use this home's control directory (masters and clients)."""
    control = str(ssh_multiplex.control_dir())
    return sorted(pid for pid, argv in rhl_adapter.own_processes()
                  if ssh_multiplex.ssh_argv(argv) is not None and any(control in a for a in argv))


def test_open_master_called_at_once_opens_one_master_and_leaves_no_client():
    assert ssh_multiplex.master_pid(HOST) is None
    results: list[bool] = []
    threads = [threading.Thread(target=lambda: results.append(ssh_multiplex.open_master(HOST))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [True, True, True]
    master = ssh_multiplex.master_pid(HOST)
    assert master is not None and _our_ssh_processes() == [master]
    assert ssh_multiplex.open_master(HOST) and ssh_multiplex.master_pid(HOST) == master  # only checked
    os.kill(master, 9)
    assert launching.wait_for_exit(master)
    assert ssh_multiplex.open_master(HOST)  # the stale socket is replaced
    second = ssh_multiplex.master_pid(HOST)
    assert second not in (None, master) and _our_ssh_processes() == [second]


def test_ssh_calls_wait_for_a_master_opening_in_the_background():
    ssh_multiplex.start_master(HOST)
    result = launching.run_tool(CONFIG, ["echo", "after"])
    assert (result.returncode, result.stdout.strip()) == (0, "after"), result.stderr
    # it waited: had it raced the opening master, ssh would have gone without multiplexing
    assert "disabling multiplexing" not in result.stderr
    master = ssh_multiplex.master_pid(HOST)
    assert master is not None and _our_ssh_processes() == [master]  # one connection, shared


def test_control_directory_and_socket_are_owner_only():
    assert ssh_multiplex.open_master(HOST)
    directory = ssh_multiplex.control_dir()
    assert _private(directory) and stat.S_IMODE(os.lstat(directory).st_mode) == 0o700
    sockets = [p for p in directory.iterdir() if p.is_socket()]
    assert sockets and all(_private(p) for p in sockets)
    shim = ssh_multiplex.shim()
    assert shim is not None and _private(shim) and _private(shim.parent)


def test_launcher_subprocesses_find_the_shim_as_ssh():
    """RHL runs plain ``ssh``: inside ``multiplexed()`` that is the shim, and it uses the master."""
    with ssh_multiplex.multiplexed():
        result = subprocess.run(["ssh", HOST, "echo via-path"], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "via-path", result.stderr
    assert ssh_multiplex.master_pid(HOST) is not None
    assert str(ssh_multiplex.shim().parent) not in os.environ["PATH"].split(os.pathsep)  # removed again


def test_a_remote_command_with_dash_n_is_no_tunnel():
    """Only ssh's own ``-N`` makes a tunnel; the same word in the remote command does not."""
    shim = str(ssh_multiplex.shim())
    result = subprocess.run([shim, "-o", "BatchMode=yes", HOST, "echo -N done"], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stdout.strip()) == (0, "-N done"), result.stderr


def _user_config(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "user_ssh_config"
    path.write_text(f"Host {HOST}\n    BatchMode yes\n{extra}")
    return path


def test_a_user_control_path_is_respected(tmp_path):
    own = Path(tempfile.mkdtemp(prefix="mux"))  # short: socket paths are limited to ~100 bytes
    config = _user_config(
        tmp_path, f"    ControlMaster auto\n    ControlPath {own}/%C\n    ControlPersist 60\n"
    )
    shim = str(ssh_multiplex.shim())
    try:
        result = subprocess.run([shim, "-F", str(config), HOST, "echo own"], capture_output=True, text=True, timeout=60)
        assert result.stdout.strip() == "own", result.stderr
        assert [p for p in own.iterdir() if p.is_socket()], "the user's ControlPath was not used"
        assert not [p for p in ssh_multiplex.control_dir().iterdir() if p.is_socket()]
    finally:
        subprocess.run(["ssh", "-F", str(config), "-O", "exit", HOST], capture_output=True, timeout=30)
        shutil.rmtree(own, ignore_errors=True)


def test_other_user_settings_stay_and_only_multiplexing_is_added(tmp_path):
    # the user's configuration sets no ControlPath: the shim adds its own, the rest still applies
    marker = tmp_path / "local-command-ran"
    config = _user_config(tmp_path, f"    PermitLocalCommand yes\n    LocalCommand touch {marker}\n")
    shim = str(ssh_multiplex.shim())
    result = subprocess.run([shim, "-F", str(config), HOST, "echo ok"], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "ok", result.stderr
    assert marker.exists(), "the user's own setting was lost"
    assert [p for p in ssh_multiplex.control_dir().iterdir() if p.is_socket()]


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def test_tunnel_lives_as_long_as_its_process(tmp_path):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        local = s.getsockname()[1]
    shim = str(ssh_multiplex.shim())
    # what RHL's tunnel monitor runs
    tunnel = subprocess.Popen(
        [shim, "-N", "-o", "ExitOnForwardFailure=yes", "-L", f"{local}:127.0.0.1:{server.server_port}", HOST],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True,
    )
    try:
        for _ in range(100):
            if _port_open(local):
                break
            assert tunnel.poll() is None, tunnel.stderr.read()
            threading.Event().wait(0.1)
        with urllib.request.urlopen(f"http://127.0.0.1:{local}/", timeout=10) as response:
            assert response.status == 200
        assert tunnel.poll() is None  # stands in for the forwarding the master holds
        assert tunnel.pid in rhl_adapter.tunnel_processes({local})  # found, as RHL's ssh was
        ssh_multiplex.stop_tunnel_processes([tunnel.pid])
        assert tunnel.wait(timeout=10) is not None
        assert not _port_open(local), "the forwarding outlived its process"
        assert ssh_multiplex.master_pid(HOST) is not None  # the master itself stays for other calls
    finally:
        if tunnel.poll() is None:
            tunnel.kill()
        server.shutdown()
