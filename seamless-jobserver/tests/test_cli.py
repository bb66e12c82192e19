"""The seamless-jobserver command: usage errors, the status-file protocol, startup failures,
idle timeout and stop signals."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from seamless_remote import JobserverClient, remote_clients_parameters
from seamless_service import credentials

pytestmark = pytest.mark.servers

JOBSERVER = [str(Path(sys.executable).with_name("seamless-jobserver"))]


def _wait_status(path: Path, wanted: set[str], process: subprocess.Popen, timeout: float = 30) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            data = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            data = {}
        if data.get("status") in wanted:
            return data
        if process.poll() is not None and not path.exists():
            break
        time.sleep(0.05)
    raise AssertionError(f"status never became {wanted}; exit code {process.poll()}")


def _start(args: list[str], tmp_path: Path) -> subprocess.Popen:
    """The jobserver with its own HOME (its TLS credentials are created there)."""
    log = open(tmp_path / "jobserver.log", "wb")
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    return subprocess.Popen(JOBSERVER + args, stdout=log, stderr=subprocess.STDOUT, env=env)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.kill()
    process.wait()


@pytest.mark.parametrize(
    "args, message",
    [
        (["--workers", "0", "--hashserver", "http://h", "--database", "http://d"], "--workers must be a positive integer"),
        (["--timeout", "-1", "--hashserver", "http://h", "--database", "http://d"], "--timeout must be a positive"),
        ([], "give --status-file .* or both --hashserver URL and --database URL"),
        (["--port-range", "10", "5", "--hashserver", "http://h", "--database", "http://d"], "START <= END"),
    ],
)
def test_usage_errors_exit_2(args, message):
    result = subprocess.run(JOBSERVER + args, capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert re.search(message, result.stderr)


def test_status_file_protocol_and_idle_exit(storage, tmp_path: Path):
    hashserver, database = storage
    status = tmp_path / "status.json"
    process = _start(["--workers", "1", "--port-range", "62500", "62599", "--status-file", str(status), "--timeout", "2"], tmp_path)
    try:
        time.sleep(0.5)  # the launcher writes the file only after starting the service
        assert process.poll() is None, "the jobserver did not wait for its status file"
        params = remote_clients_parameters(hashserver.url, database.url)
        status.write_text(json.dumps({"status": "starting", "pid": process.pid, "parameters": params}))
        data = _wait_status(status, {"running", "failed"}, process)
        assert data["status"] == "running", data
        assert 62500 <= data["port"] <= 62599 and data["pid"] == process.pid and data["parameters"] == params
        assert 62500 <= data["health_port"] <= 62599
        assert requests.get(f"http://127.0.0.1:{data['health_port']}/healthcheck").text == "OK"
        creds = credentials.Credentials(tmp_path / "home" / ".seamless" / "tls")
        client = JobserverClient(f"https://127.0.0.1:{data['port']}", tls=(creds, "client"))
        assert client.healthcheck()
        with pytest.raises(requests.exceptions.ConnectionError):  # no client certificate
            requests.get(f"https://127.0.0.1:{data['port']}/healthcheck", verify=False)
        assert process.wait(30) == 0
        assert not status.exists(), "the status file was not removed after the idle exit"
    finally:
        _stop(process)


def test_sigterm_stops_it_cleanly(storage, tmp_path: Path):
    hashserver, database = storage
    status = tmp_path / "status.json"
    status.write_text(json.dumps({"status": "starting", "parameters": remote_clients_parameters(hashserver.url, database.url)}))
    process = _start(["--port-range", "62500", "62599", "--status-file", str(status)], tmp_path)
    try:
        _wait_status(status, {"running"}, process)
        process.send_signal(signal.SIGTERM)
        assert process.wait(30) == 0
        assert not status.exists()
    finally:
        _stop(process)


@pytest.mark.parametrize(
    "parameters, reason",
    [
        ({"buffer": [{"url": "http://127.0.0.1:9"}], "database": [{"url": "http://127.0.0.1:9"}]}, "http://127.0.0.1:9"),
        ({"buffers": []}, "unknown key(s) ['buffers']"),
        ({"buffer": [{"url": "http://127.0.0.1:9"}]}, "needs at least one hashserver ('buffer') and one database"),
    ],
    ids=["unreachable-storage", "invalid-parameters", "no-database"],
)
def test_bad_parameters_are_a_startup_failure(parameters, reason, tmp_path: Path):
    status = tmp_path / "status.json"
    status.write_text(json.dumps({"status": "starting", "parameters": parameters}))
    process = _start(["--port-range", "62500", "62599", "--status-file", str(status)], tmp_path)
    try:
        assert process.wait(60) == 1
        data = json.loads(status.read_text())
        assert data["status"] == "failed" and reason in data["reason"], data
    finally:
        _stop(process)


def test_no_free_port_is_a_startup_failure(storage, tmp_path: Path):
    hashserver, database = storage
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        process = _start(["--port", str(port), "--hashserver", hashserver.url, "--database", database.url], tmp_path)
        try:
            assert process.wait(60) == 1
        finally:
            _stop(process)
    assert f"No free port available in range {port}-{port} on 127.0.0.1" in (tmp_path / "jobserver.log").read_text()
