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

from seamless_config import rhl_adapter


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
    finally:
        for process in (monitor, ssh):
            process.kill()
            process.wait()


@pytest.mark.parametrize("words", sorted(rhl_adapter.REASONS))
def test_5_the_messages_we_translate_are_rhls(words):
    assert f'"{words}"' in inspect.getsource(rhl)
    assert rhl_adapter.reason(rhl.LauncherError(words)) == rhl_adapter.REASONS[words]


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


def _tunnel_config(key: str) -> rhl.Configuration:
    return rhl.Configuration.from_mapping({
        "key": key, "workdir": "/tmp", "command": "true", "hostname": "127.0.0.1", "ssh_hostname": "localhost",
        "tunnel": True, "handshake": {"path": "/", "port_name": "health_port"}, "meta": {"service": "test"},
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
    tunnelled and answering; close_tunnels finds and closes all of them."""
    from seamless_config import ssh_multiplex

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
        monitors = [pid for pid, argv in rhl_adapter.own_processes() if "--local-port" in argv
                    and int(argv[argv.index("--local-port") + 1]) in {ours[name] for name in local_ports}]
        assert len(monitors) == 3  # RHL's monitor per port
        assert set(monitors) <= set(rhl_adapter.close_tunnels({"key": "ours"}))
        assert not any(_answers(ours[name]) for name in local_ports)
        assert rhl_adapter.tunnel_processes({ours[name] for name in local_ports}) == []
        assert all(_answers(rhls[name]) for name in local_ports)  # the other service's stay
    finally:
        rhl_adapter.close_tunnels({"key": "rhls"})
        rhl_adapter.close_tunnels({"key": "ours"})
        for server in servers:
            server.shutdown()


@pytest.mark.ssh
def test_8_a_failed_tunnel_names_its_port_and_leaves_no_tunnel(isolated_home):
    """One tunnel fails (its monitor exits at once: a local port it cannot parse; a port already
    taken would fail too, but RHL's monitor reports ready after a fixed 0.5 s, which on a busy
    machine may come before ssh has failed): the others are closed, the error names the one."""
    from seamless_config import ssh_multiplex

    servers = _http_servers(3)
    remote = dict(zip(("port", "dashboard_port", "health_port"), (s.server_port for s in servers), strict=True))
    free = rhl_adapter.free_local_ports(2)
    local: dict = {"port": free[0], "dashboard_port": "no-port", "health_port": free[1]}
    try:
        with ssh_multiplex.multiplexed(), pytest.raises(rhl.LauncherError) as info:
            rhl_adapter.open_tunnels("localhost", "127.0.0.1", remote, local, os.getpid())
        message = str(info.value)
        assert "dashboard_port localhost:no-port" in message and "Tunnel monitor exited" in message, message
        assert f"localhost:{free[0]}" not in message and f"localhost:{free[1]}" not in message
        assert rhl_adapter.tunnel_processes(set(free)) == []
        assert not _answers(free[0]) and not _answers(free[1])
    finally:
        for server in servers:
            server.shutdown()
