"""Each workaround of seamless_config.rhl_adapter, pinned against remote-http-launcher itself.

A new remote-http-launcher that changes one of the things we rely on beyond its public API fails
here, by number (see the adapter's docstring). The launches themselves are tested for real in
test_launching.py and tests/test_pure_dask.py.
"""

from __future__ import annotations

import inspect
import re
import json
import subprocess
import sys
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
