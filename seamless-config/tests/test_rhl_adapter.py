"""Each workaround of seamless_config.rhl_adapter, pinned against remote-http-launcher itself.

A new remote-http-launcher that changes one of the things we rely on beyond its public API fails
here, by number (see the adapter's docstring). The launches themselves are tested for real in
test_launching.py and tests/test_pure_dask.py.
"""

from __future__ import annotations

import http.server
import inspect
import re
import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import remote_http_launcher as rhl

from seamless_config import rhl_adapter, ssh_multiplex, tunnel_monitor


def test_1_execute_follows_the_launchers_steps():
    """The steps execute() copies are those of RHL's _execute, in its order (a new RHL step fails here)."""
    source = inspect.getsource(rhl._execute)
    calls = [m.group(1).removeprefix("executor.") for m in re.finditer(r"([A-Za-z_][\w.]*)\(", source)]
    assert [c for c in calls if c in rhl_adapter.EXECUTE_STEPS] == list(rhl_adapter.EXECUTE_STEPS)
    unknown = {c for c in calls if not c.startswith(("observer.", "LauncherError", "_execute"))} - {
        *rhl_adapter.EXECUTE_STEPS, "_default_server_directory", "remote_dir.as_posix", "Optional", "Dict"}
    assert unknown == set(), f"_execute gained calls that execute() does not make: {unknown}"
    assert "ssh_hostname must be provided" in source
    assert callable(rhl.Configuration.from_mapping)


@pytest.mark.parametrize("moved", [False, True])
def test_2_state_files_are_where_the_launcher_writes_them(moved, tmp_path, monkeypatch):
    if moved:
        monkeypatch.setenv("REMOTE_HTTP_LAUNCHER_DIR", str(tmp_path / "rhl"))
    else:
        monkeypatch.delenv("REMOTE_HTTP_LAUNCHER_DIR", raising=False)
    assert rhl_adapter.client_state_path("k") == rhl._default_client_directory() / "k.json"
    assert rhl_adapter.server_state_path("k") == Path(rhl._default_server_directory()).expanduser() / "k.json"
    assert (rhl_adapter.state_root() == tmp_path / "rhl") is moved
    if moved:  # what the launcher itself builds for a launch dict
        config = rhl.Configuration.from_mapping({"key": "k", "workdir": str(tmp_path), "command": "true"})
        assert rhl.LocalState.build(config, None).json_path == rhl_adapter.client_state_path("k")


def _dead_pid() -> int:
    return int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # never a live process


def test_3_mark_stale_writes_what_rhl_stop_writes(isolated_home):
    record = {"pid": _dead_pid(), "status": "running", "port": 1, "workdir": "/w"}
    server = rhl_adapter.server_state_path("a")
    server.parent.mkdir(parents=True)
    server.write_text(json.dumps(record))
    stop = Path(sys.executable).parent / "rhl-stop"
    done = subprocess.run([str(stop), "a"], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    rhl_adapter.mark_stale("b", record)
    assert json.loads(rhl_adapter.server_state_path("b").read_text()) == json.loads(server.read_text())
    assert json.loads(server.read_text())["status"] == "stale"


def test_4_tunnel_processes_have_the_argv_we_look_for():
    source = inspect.getsource(rhl)
    for word in ('"--local-port"', '"--remote-pid"', '"-N"', '"-L"'):
        assert word in source, word
    sleeper = "import time; time.sleep(60)"
    monitor = subprocess.Popen([sys.executable, "-c", sleeper, "--local-port", "45671", "--remote-pid", "1"])
    ssh = subprocess.Popen(["bash", "-c", f'exec -a ssh {sys.executable} -c "{sleeper}" -N -L 45672:localhost:1'])
    try:
        for _ in range(100):  # until the exec took place
            if sorted(rhl_adapter.tunnel_processes({45671, 45672})) == sorted([monitor.pid, ssh.pid]):
                break
            subprocess.run(["sleep", "0.05"])
        assert sorted(rhl_adapter.tunnel_processes({45671, 45672})) == sorted([monitor.pid, ssh.pid])
        assert rhl_adapter.tunnel_processes({45673}) == []
        assert not ssh_multiplex.is_own_monitor(Path(f"/proc/{monitor.pid}/cmdline").read_text().split("\0"))
    finally:
        for process in (monitor, ssh):
            process.kill()
            process.wait()


def test_4_9_our_monitor_is_found_by_any_of_its_ports():
    from seamless_config import tunnel_monitor

    ports = ["--local-port", "45674", "--remote-port", "1", "--local-port", "45675", "--remote-port", "2"]
    ours = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", tunnel_monitor.MARKER,
                             *ports, "--remote-pid", "1"])
    try:
        for _ in range(100):
            if rhl_adapter.tunnel_processes({45675}) == [ours.pid]:
                break
            subprocess.run(["sleep", "0.05"])
        assert rhl_adapter.tunnel_processes({45675}) == [ours.pid] == rhl_adapter.tunnel_processes({45674, 45676})
        assert rhl_adapter.tunnel_processes({45676}) == []
        assert ssh_multiplex.is_own_monitor(Path(f"/proc/{ours.pid}/cmdline").read_text().split("\0"))
    finally:
        ours.kill()
        ours.wait()


@pytest.mark.parametrize("words", sorted(rhl_adapter.REASONS))
def test_5_the_messages_we_translate_are_rhls(words):
    assert f'"{words}"' in inspect.getsource(rhl)
    assert rhl_adapter.reason(rhl.LauncherError(words)) == rhl_adapter.REASONS[words]


def test_7_the_launch_helper_returns_once_its_service_is_started():
    """The batch runner (workaround 7) calls ``rhl-launch-service``'s ``main`` in its own
    interpreter: that main starts the service in a session of its own, writes its record and
    returns (no fork of its own, no exit of the process), so the runner goes on to wait for it;
    the service writes to its log file, not to the runner's stdout."""
    import ssh_guard.helpers.launch_service as helper

    script = (Path(sys.executable).parent / "rhl-launch-service").read_text()
    assert re.search(r"^from ssh_guard\.helpers\.launch_service import main$", script, re.M)
    main, spawn = inspect.getsource(helper.main), inspect.getsource(helper._spawn)
    assert "_spawn(" in main and "_write_state(json_path, data)" in main
    assert spawn.count("start_new_session=True") == 2 and "subprocess.Popen(" in spawn
    # the service's output goes to its log file, never to the runner's stdout: the batch's shell
    # reads that through `$(...)`, which would otherwise wait for the service to end
    assert 'stdout_handle = log_path.open("wb"' in main and "stdout_handle=stdout_handle" in main
    assert spawn.count("stdout=stdout_handle") == 2 and spawn.count("stderr=subprocess.STDOUT") == 2
    for word in ("os.fork", "os._exit", "os.setsid", "daemon"):
        assert word not in main and word not in spawn, word


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def _http_servers(count: int) -> list:
    servers = [http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Quiet) for _ in range(count)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    return servers


def _answers(port: int) -> bool:
    import urllib.request

    try:
        with urllib.request.urlopen(f"http://localhost:{port}/", timeout=10) as response:
            return response.status == 200
    except OSError:
        return False


def _tunnel_config(key: str, port_name: str = "health_port") -> rhl.Configuration:
    return rhl.Configuration.from_mapping({
        "key": key, "workdir": "/tmp", "command": "true", "hostname": "127.0.0.1", "ssh_hostname": "localhost",
        "tunnel": True, "handshake": {"path": "/", "port_name": port_name}, "meta": {"service": "test"},
    })


def test_8_create_local_file_copies_what_rhl_writes_for_a_tunnel():
    """The parts of RHL's create_local_file that ours repeats for a tunnel (checked for real below)."""
    source = inspect.getsource(rhl.create_local_file)
    for part in ('"tunneled-host"', '"tunneled-port"', '"tunneled-network-interface"', 'f"tunneled-{name}"',
                 "_gather_port_parameters(remote_data)", "establish_tunnel(", "local_state.write(payload)",
                 "perform_local_handshake(", '"parameters"', "cfg.meta", "Phase.LOCAL_VALIDATE"):
        assert part in source, part
    assert "def establish_tunnel(\n    ssh_host: str,\n    remote_host: str,\n    remote_port: int,\n" \
        "    local_port: int,\n    remote_pid: int,\n)" in inspect.getsource(rhl)


@pytest.mark.ssh
def test_8_tunnels_opened_together_write_rhls_client_record(isolated_home):
    """Our create_local_file writes the record RHL's own writes (local ports aside), with every port
    tunnelled and answering, by one monitor of ours (workaround 9); close_tunnels finds it and
    closes all of them."""
    servers = _http_servers(3)
    port, dashboard, health = (s.server_port for s in servers)
    remote = {"port": port, "pid": os.getpid(), "dashboard_port": dashboard, "health_port": health,
              "network_interface": "127.0.0.1", "status": "running", "parameters": {"a": 1}}
    payloads = {}
    try:
        with ssh_multiplex.multiplexed():
            for key, create in (("ours", rhl_adapter.create_local_file), ("rhls", rhl.create_local_file)):
                cfg = _tunnel_config(key)
                payloads[key] = create(cfg, rhl.LocalState.build(cfg, None), dict(remote), rhl.NullObserver())
        ours, rhls = payloads["ours"], payloads["rhls"]
        local_ports = ("port", "dashboard_port", "health_port")
        assert sorted(ours) == sorted(rhls)
        assert {k: v for k, v in ours.items() if k not in local_ports} == {
            k: v for k, v in rhls.items() if k not in local_ports}
        assert json.loads(rhl_adapter.client_state_path("ours").read_text()) == ours
        assert len({ours[name] for name in local_ports}) == 3
        assert all(_answers(ours[name]) for name in local_ports)
        assert all(_answers(rhls[name]) for name in local_ports), "rhls before"
        monitors = rhl_adapter.tunnel_processes({ours[name] for name in local_ports})
        assert len(monitors) == 1 and ssh_multiplex.is_own_monitor(_argv(monitors[0]))  # one for all ports
        assert set(monitors) <= set(rhl_adapter.close_tunnels({"key": "ours"}))
        assert not any(_answers(ours[name]) for name in local_ports)
        assert not any(_listening(ours[name]) for name in local_ports)
        assert rhl_adapter.tunnel_processes({ours[name] for name in local_ports}) == []
        assert all(_answers(rhls[name]) for name in local_ports)  # the other service's stay
    finally:
        rhl_adapter.close_tunnels({"key": "rhls"})
        rhl_adapter.close_tunnels({"key": "ours"})
        for server in servers:
            server.shutdown()


def _argv(pid: int) -> list[str]:
    return Path(f"/proc/{pid}/cmdline").read_bytes().rstrip(b"\0").decode().split("\0")


def _listening(port: int) -> bool:
    """Whether anything listens on ``localhost:port`` (IPv4 or IPv6), without connecting through it."""
    import socket

    for family, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        with socket.socket(family) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # fails for a listener only
            try:
                sock.bind((host, port))
            except OSError:
                return True
    return False


def _taken_port(stack) -> int:
    """A local port something else listens on, IPv4 and IPv6 (so a forwarding of it fails)."""
    import socket

    v4 = stack.enter_context(socket.socket(socket.AF_INET))
    v4.bind(("127.0.0.1", 0))
    v4.listen()
    v6 = stack.enter_context(socket.socket(socket.AF_INET6))
    v6.bind(("::1", v4.getsockname()[1]))
    v6.listen()
    return v4.getsockname()[1]


def test_9_what_our_monitor_replaces_is_rhls():
    """RHL's monitor, which ours replaces: ``ssh -N -L`` (over the master: a session on the
    frontend per tunnel), ready after a fixed 0.5 s; the tunnel closed once the service's PID is
    gone (``rhl-pid-alive``, else ``kill -0``, every 20 s); 15 s to report. Ours keeps the checks,
    their interval and the time to report."""
    script = rhl.TUNNEL_MONITOR_SCRIPT
    for part in ('"-N"', '"ExitOnForwardFailure=yes"', '"-L"', "time.sleep(0.5)", 'write_status(args.status_path, "ready", None)',
                 '["ssh", ssh_host, "rhl-pid-alive", str(remote_pid)]', '["ssh", ssh_host, "kill", "-0", str(remote_pid)]',
                 "time.sleep(20.0)", "if not remote_pid_exists(args.ssh_host, args.remote_pid):"):
        assert part in script, part
    assert "while time.time() - start_time < 15.0:" in inspect.getsource(rhl._wait_for_tunnel_ready)
    assert tunnel_monitor.CHECK_SECONDS == 20.0 and tunnel_monitor.READY_TIMEOUT == 15.0
    assert "TUNNEL_MONITOR_SCRIPT" in inspect.getsource(rhl.establish_tunnel)


@pytest.mark.ssh
def test_9_a_failed_forwarding_names_its_port_and_leaves_no_tunnel(isolated_home):
    """One forwarding fails (its local port is taken): the others are cancelled, the error names
    the one with ssh's message, and no monitor stays."""
    import contextlib

    servers = _http_servers(3)
    remote = dict(zip(("port", "dashboard_port", "health_port"), (s.server_port for s in servers), strict=True))
    free = rhl_adapter.free_local_ports(2)
    try:
        with contextlib.ExitStack() as stack:
            taken = _taken_port(stack)
            local = {"port": free[0], "dashboard_port": taken, "health_port": free[1]}
            with pytest.raises(rhl.LauncherError) as info:
                rhl_adapter.open_tunnels("localhost", "127.0.0.1", remote, local, os.getpid())
        message = str(info.value)
        assert f"dashboard_port localhost:{taken} -> 127.0.0.1:{remote['dashboard_port']} via localhost" in message
        assert "forwarding failed" in message.lower(), message  # ssh's words
        assert f"localhost:{free[0]}" not in message and f"localhost:{free[1]}" not in message
        assert rhl_adapter.tunnel_processes({*free, taken}) == []
        assert not _listening(free[0]) and not _listening(free[1])
    finally:
        for server in servers:
            server.shutdown()


@pytest.mark.ssh
def test_9_tunnels_asked_of_a_master_that_is_gone_open_a_new_one(isolated_home):
    """The forwardings are asked of the master at once, without a check first: when it is gone
    (killed, leaving its socket), a new master is opened and the tunnels are forwarded by it."""
    (server,) = _http_servers(1)
    try:
        ssh_multiplex.ensure_master("localhost")
        os.kill(ssh_multiplex.master_pid("localhost"), 9)
        (local,) = rhl_adapter.free_local_ports(1)
        rhl_adapter.open_tunnels("localhost", "127.0.0.1", {"port": server.server_port}, {"port": local}, os.getpid())
        assert _answers(local)
        assert ssh_multiplex.master_pid("localhost") is not None
        (monitor,) = rhl_adapter.tunnel_processes({local})
        assert tunnel_monitor.MARKER in _argv(monitor)
        ssh_multiplex.stop_tunnel_processes([monitor])
        assert not _listening(local)
    finally:
        server.shutdown()


def _monitor(remote_pid: int, server_port: int, **kwargs) -> tuple[dict, int, int]:
    """A monitor of ours (checking every 0.2 s) for one forwarding to ``server_port``."""
    ssh_multiplex.ensure_master("localhost")
    (local,) = rhl_adapter.free_local_ports(1)
    control = ssh_multiplex.master_control_path("localhost")
    kwargs.setdefault("check_seconds", 0.2)
    report, pid = tunnel_monitor.start(ssh_multiplex.real_ssh(), control, "localhost", "127.0.0.1",
                                       [(local, server_port)], remote_pid, **kwargs)
    return report, pid, local


@pytest.mark.ssh
def test_9_a_tunnel_ends_when_its_service_ends(isolated_home):
    from seamless_config.launching import wait_for_exit

    (server,) = _http_servers(1)
    service = subprocess.Popen(["sleep", "600"])  # the "service", on the loopback frontend
    try:
        report, monitor, local = _monitor(service.pid, server.server_port)
        assert report == {"status": "ready"} and _answers(local)
        assert rhl_adapter.tunnel_processes({local}) == [monitor]
        service.kill()
        service.wait()
        assert wait_for_exit(monitor, timeout=60)
        assert not _listening(local) and rhl_adapter.tunnel_processes({local}) == []
        assert ssh_multiplex.master_pid("localhost") is not None  # the master stays for other calls
    finally:
        if service.poll() is None:
            service.kill()
            service.wait()
        server.shutdown()


@pytest.mark.ssh
def test_9_a_tunnel_ends_with_its_master(isolated_home):
    from seamless_config.launching import wait_for_exit

    (server,) = _http_servers(1)
    try:
        report, monitor, local = _monitor(os.getpid(), server.server_port)
        assert report == {"status": "ready"} and _answers(local)
        master = ssh_multiplex.master_pid("localhost")
        assert master is not None
        os.kill(master, 9)
        assert wait_for_exit(monitor, timeout=60)
        assert rhl_adapter.tunnel_processes({local}) == [] and not _listening(local)
    finally:
        server.shutdown()


@pytest.mark.ssh
def test_9_without_a_master_rhls_monitors_open_the_tunnels(isolated_home, tmp_path, monkeypatch):
    """No master answers at the control path (as for a user whose own ssh configuration
    multiplexes without keeping a master): our monitor says so and leaves; RHL's monitors open the
    tunnels instead, and close_tunnels closes those."""
    from seamless_config.launching import pid_alive

    (server,) = _http_servers(1)
    try:
        ssh_multiplex.ensure_master("localhost")  # (opened by the launch before its tunnels)
        nowhere = str(tmp_path / "no-master")
        (local,) = rhl_adapter.free_local_ports(1)
        report, monitor = tunnel_monitor.start(ssh_multiplex.real_ssh(), nowhere, "localhost", "127.0.0.1",
                                               [(local, server.server_port)], os.getpid())
        assert report == {"status": "no-master"} and not pid_alive(monitor) and not _listening(local)
        monkeypatch.setattr(ssh_multiplex, "control_path", lambda: nowhere)  # asked first: no master
        monkeypatch.setattr(ssh_multiplex, "master_control_path", lambda host: nowhere)  # asked again
        remote = {"port": server.server_port, "pid": os.getpid(), "network_interface": "127.0.0.1", "status": "running"}
        with ssh_multiplex.multiplexed():
            cfg = _tunnel_config("fallback", port_name="port")
            payload = rhl_adapter.create_local_file(cfg, rhl.LocalState.build(cfg, None), remote, rhl.NullObserver())
        assert _answers(payload["port"])
        (rhls,) = [pid for pid in rhl_adapter.tunnel_processes({payload["port"]}) if "--status-path" in _argv(pid)]
        assert rhls in rhl_adapter.close_tunnels({"key": "fallback"})
        assert not _listening(payload["port"])
    finally:
        server.shutdown()
