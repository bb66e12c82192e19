"""Every seamless-config test starts from a clean selection, a fresh HOME and a temp workdir."""

from __future__ import annotations

import json
import os
import signal
import sys
from pathlib import Path

import pytest
import yaml

from seamless_config import cluster, lifecycle
from seamless_config.launching import server_state, stop, wait_for_exit

SERVICE = Path(__file__).with_name("status_file_service.py")


@pytest.fixture(autouse=True)
def fresh_config(isolated_home: Path):
    lifecycle.reset()
    cluster.define_clusters({})
    yield
    lifecycle.reset()


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    d = tmp_path / "project"
    d.mkdir()
    return d


def _write_yaml(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def write_yaml():
    """write_yaml(path, text_or_data) -> path"""
    return _write_yaml


@pytest.fixture
def service(tmp_path, isolated_home, monkeypatch):
    """An executable copy of the test service, whitelisted for RHL; yields a launch-dict factory.

    Every server a test launched is stopped by PID afterwards, and the test fails if one survives.
    """
    exe = tmp_path / "status-file-service"
    exe.write_text(f"#!{sys.executable}\n" + SERVICE.read_text())
    exe.chmod(0o755)
    tools = tmp_path / "rhl-tools.yaml"
    tools.write_text(json.dumps({"test_service": {"command_template": f"{exe} --status-file x"}}))
    monkeypatch.setenv("RHL_TOOLS_YAML", str(tools))
    launched: list[dict] = []

    def make(key: str = "test-service", *extra: str, **changes) -> dict:
        config = {
            "workdir": str(tmp_path),
            "key": key,
            "network_interface": "127.0.0.1",
            "port_start": 61700,
            "port_end": 61799,
            "timeout": 120,
            "command": f"{exe} --port-range {{port_start}} {{port_end}} --status-file {{status_file}} "
            f"--host {{network_interface}} --timeout {{timeout}}" + "".join(f" {e}" for e in extra),
            "handshake": {"path": "health", "port_name": "dashboard_port"},
            "file_parameters": {"cores": 2},
        }
        config.update(changes)
        launched.append(config)
        return config

    yield make
    pids = []
    for config in launched:
        state = server_state(config)
        if state and isinstance(state.get("pid"), int):
            pids.append(state["pid"])
        stop(config)
    survivors = [pid for pid in pids if not wait_for_exit(pid)]
    for pid in survivors:
        os.kill(pid, signal.SIGKILL)
    assert not survivors, f"servers survived stop(): {survivors}"
