"""The idle time our services publish in their status file (``idle_since``, read by
``seamless-services list``): a real jobserver and a real database server, plain HTTP (``--no-tls``)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from seamless_remote import remote_clients_parameters

pytestmark = pytest.mark.servers

JOBSERVER = str(Path(sys.executable).with_name("seamless-jobserver"))


def _status(path: Path) -> dict:
    try:
        return json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _wait_for(path: Path, condition, process: subprocess.Popen, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while not condition(data := _status(path)):
        assert process.poll() is None, f"the server exited ({process.returncode}); status: {data}"
        assert time.monotonic() < deadline, f"{path} never met the condition: {data}"
        time.sleep(0.05)
    return data


def _idle(data: dict) -> bool:
    return data.get("status") == "running" and isinstance(data.get("idle_since"), float)


def _check_published(argv: list[str], parameters: dict, path: str, tmp_path: Path) -> None:
    """Idle since about its start; a request moves it on; the rest of the file is kept."""
    status = tmp_path / "status.json"
    status.write_text(json.dumps({"status": "starting", "parameters": parameters}))
    log = open(tmp_path / "server.log", "wb")
    process = subprocess.Popen([*argv, "--status-file", str(status), "--no-tls"], stdout=log, stderr=subprocess.STDOUT)
    try:
        first = _wait_for(status, _idle, process)
        assert first["idle_since"] <= time.time()
        requests.get(f"http://127.0.0.1:{first['port']}/{path}", timeout=30)
        later = _wait_for(status, lambda d: _idle(d) and d["idle_since"] > first["idle_since"], process)
        assert later["port"] == first["port"] and later["parameters"] == parameters
    finally:
        process.terminate()
        process.wait(30)


def test_jobserver_publishes_its_idle_time(storage, tmp_path: Path):
    hashserver, database = storage
    parameters = remote_clients_parameters(hashserver.url, database.url)
    _check_published([JOBSERVER, "--port-range", "62600", "62699"], parameters, "healthcheck", tmp_path)


def test_database_server_publishes_its_idle_time(tmp_path: Path):
    argv = [JOBSERVER, "serve-database", str(tmp_path / "seamless.db"), "--port-range", "62700", "62799", "--writable"]
    _check_published(argv, {}, "healthcheck", tmp_path)
