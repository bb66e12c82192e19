"""seamless_config.launching against the real remote-http-launcher 0.4.5, locally.

The launched service is ``status_file_service.py`` (a small real daemon speaking RHL's
status-file protocol, whitelisted through ``RHL_TOOLS_YAML``), so these tests check the launcher
layer in about a second per launch; the real ``seamless-dask-wrapper`` and the SSH topologies are
exercised by the end-to-end tests in the root ``tests/test_pure_*.py``.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from seamless_config import launching, rhl_adapter
from seamless_config.launching import LaunchError, launch, server_log_tail, server_state, stop
from seamless_config.launching import pid_alive, wait_for_exit


def _health(payload: dict) -> dict:
    url = f"http://{payload['hostname']}:{payload['dashboard_port']}/health"
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)


def test_launch_then_reconnect_without_relaunch(service):
    config = service()
    payload = launch(config)
    assert _health(payload)["parameters"] == {"cores": 2}
    pid = server_state(config)["pid"]
    again = launch(config)
    assert again["port"] == payload["port"]
    assert server_state(config)["pid"] == pid
    assert stop(config) is True
    assert wait_for_exit(pid)
    assert server_state(config) is None


def test_warm_reconnect_is_one_health_request(service, monkeypatch: pytest.MonkeyPatch):
    """A running service is reused with one handshake GET: no launcher call, no helper process."""
    config = service("test-service", "--log-requests")
    payload = launch(config)
    before = server_log_tail(config, 1000).count("request: ")

    def refuse(*args, **kwargs):
        raise AssertionError(f"a warm reconnect started a process or called the launcher: {args[:1]}")

    with monkeypatch.context() as patched:
        patched.setattr(rhl_adapter, "execute", refuse)
        patched.setattr(subprocess, "Popen", refuse)
        again = launch(config)
    assert again == payload
    requests = [line for line in server_log_tail(config, 1000).splitlines() if line.startswith("request: ")]
    assert len(requests) == before + 1 and '"GET /health HTTP/1.0" 200' in requests[-1]


def test_unanswered_handshake_goes_through_the_launcher(service):
    """A record whose port does not answer is not trusted: the launcher relaunches."""
    config = service()
    launch(config)
    pid = server_state(config)["pid"]
    record = rhl_adapter.client_state_path(config["key"])
    state = json.loads(record.read_text())
    os.kill(pid, signal.SIGKILL)
    assert wait_for_exit(pid)
    record.write_text(json.dumps(state))  # the client record still names the dead service
    payload = launch(config)
    assert server_state(config)["pid"] != pid
    assert _health(payload)["ok"] is True


def test_tools_found_without_activated_venv(service, monkeypatch):
    """RHL needs rhl-* on PATH; launching puts the interpreter's bin/ first by itself."""
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    payload = launch(service())
    assert _health(payload)["ok"] is True
    assert os.environ["PATH"] == "/usr/bin:/bin"  # restored afterwards


def test_failed_status_reports_the_cause(service):
    config = service("test-service", "--fail", "'Missing required parameter cores'")
    with pytest.raises(LaunchError) as info:
        launch(config)
    message = str(info.value)
    assert "Missing required parameter cores" in message
    assert config["key"] in message
    assert f"seamless-services logs {config['key']}" in message  # where to read the whole log


def test_service_that_exits_at_once_reports_its_output(service):
    config = service("test-service", "--crash", "'boom: bad interface eth7'")
    with pytest.raises(LaunchError) as info:
        launch(config)
    assert "boom: bad interface eth7" in str(info.value)
    assert server_state(config) is None


def test_dead_server_is_relaunched(service):
    config = service()
    launch(config)
    pid = server_state(config)["pid"]
    os.kill(pid, signal.SIGKILL)
    assert wait_for_exit(pid)
    payload = launch(config)
    new_pid = server_state(config)["pid"]
    assert new_pid != pid and pid_alive(new_pid)
    assert _health(payload)["ok"] is True


def test_changed_parameters_stop_the_old_server(service, caplog):
    first = service(file_parameters={"cores": 2})
    launch(first)
    old_pid = server_state(first)["pid"]
    second = service(file_parameters={"cores": 4})
    with caplog.at_level(logging.WARNING, logger="seamless_config"):
        payload = launch(second)
    assert "other parameters" in caplog.text and "cores: 2 -> 4" in caplog.text
    assert wait_for_exit(old_pid)
    assert _health(payload)["parameters"] == {"cores": 4}
    # the same parameters again: reused, no warning
    caplog.clear()
    new_pid = server_state(second)["pid"]
    with caplog.at_level(logging.WARNING, logger="seamless_config"):
        launch(second)
    assert "other parameters" not in caplog.text
    assert server_state(second)["pid"] == new_pid


def test_concurrent_launches_start_one_server(service, tmp_path, isolated_home):
    config = service()
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    code = (
        "import json, logging, sys; from seamless_config.launching import launch; "
        "logging.basicConfig(level=logging.INFO); "
        "print(json.dumps(launch(json.load(open(sys.argv[1])))))"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(path)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(8)
    ]
    results = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in results]
    ports = {json.loads(out)["port"] for out, _ in results}
    assert len(ports) == 1
    launched = sum("Starting the service" in err for _, err in results)
    assert launched == 1
    running = [
        pid for pid, argv in rhl_adapter.own_processes()
        if any("status-file-service" in a for a in argv) and "--port-range" in argv
    ]
    assert running == [server_state(config)["pid"]]


def test_slow_start_says_what_is_awaited(service, monkeypatch, caplog):
    monkeypatch.setattr(launching, "HEARTBEAT_SECONDS", 0.3)
    config = service("test-service", "--delay", "1.5")
    with caplog.at_level(logging.INFO, logger="seamless_config"):
        payload = launch(config, what="test scheduler")
    assert _health(payload)["ok"] is True
    messages = [r.getMessage() for r in caplog.records]
    assert "Starting the test scheduler 'test-service' on this machine" in messages
    waiting = [m for m in messages if m.startswith("Still waiting for the test scheduler 'test-service' to start")]
    assert len(waiting) >= 2, messages


def test_stop_without_server_is_harmless(service):
    assert stop(service()) is False
