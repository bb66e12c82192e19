"""Helpers of the persistent-mode end-to-end tests (loaded by path: tests/ is not a package).

A project directory plus a ``type: local`` cluster in an isolated HOME; user scripts run as
``.venv/bin/python script.py`` with that HOME and without the venv on PATH; afterwards every
server remote-http-launcher started under that HOME is stopped by PID.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import yaml

from seamless_config.launching import pid_alive, wait_for_exit
from seamless_config.service_records import proc_stat


def write_cluster(home: Path, name: str, root: Path, *, jobserver: dict | None = None, workers: int = 2,
                  daskserver: dict | None = None, queues: dict | None = None) -> dict:
    """A ``type: local`` cluster whose hashserver/database keep their files under ``root``."""
    frontend = {
        "hashserver": {"bufferdir": str(root / "buffers"), "timeout": 120},
        "database": {"database_dir": str(root / "database"), "timeout": 120},
    }
    if jobserver is not None:
        frontend["jobserver"] = {"timeout": 120, **jobserver}
    if daskserver is not None:
        frontend["daskserver"] = daskserver
    definition = {name: {"type": "local", "workers": workers, "frontends": [frontend]}}
    if queues is not None:
        definition[name]["queues"] = queues
    (home / ".seamless").mkdir(exist_ok=True)
    (home / ".seamless" / "clusters.yaml").write_text(yaml.safe_dump(definition))
    return definition


def write_project(directory: Path, commands: list, script: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "seamless.yaml").write_text(yaml.safe_dump(commands, sort_keys=False))
    path = directory / "script.py"
    path.write_text(script)
    return path


def user_env(home: Path) -> dict[str, str]:
    """The environment of a user whose venv is not activated."""
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "RHL_TOOLS_YAML")}
    env["HOME"] = str(home)
    bindir = os.path.dirname(sys.executable)
    env["PATH"] = os.pathsep.join(p for p in env.get("PATH", "").split(os.pathsep) if p and p != bindir)
    return env


def run_script(path: Path, home: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(path), *args], cwd=path.parent, env=user_env(home),
        capture_output=True, text=True, timeout=timeout,
    )


def last_json(result: subprocess.CompletedProcess) -> dict:
    assert result.returncode == 0, f"script failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def user_tls(home: Path) -> tuple:
    """What a client of the user's services passes as ``tls=``: the user's client certificate."""
    from seamless_service.credentials import Credentials

    return Credentials(home / ".seamless" / "tls"), "client"


def launched_servers(home: Path) -> dict[str, int]:
    """key -> pid of every server that remote-http-launcher recorded under ``home``."""
    servers = {}
    for path in sorted((home / ".remote-http-launcher" / "server").glob("*.json")):
        try:
            state = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError):
            continue
        if isinstance(state.get("pid"), int):
            servers[path.stem] = state["pid"]
    return servers


def stop_servers(home: Path) -> list[str]:
    """Stop (SIGTERM, then SIGKILL) every server launched under ``home``; return their keys."""
    servers = launched_servers(home)
    for pid in servers.values():
        if pid_alive(pid):
            os.kill(pid, signal.SIGTERM)
    for key, pid in servers.items():
        if not wait_for_exit(pid, timeout=15):
            os.kill(pid, signal.SIGKILL)
            assert wait_for_exit(pid, timeout=5), f"server {key} (pid {pid}) survived SIGKILL"
    return list(servers)


def parent_pid(pid: int) -> int:
    """The parent of process ``pid`` (from /proc)."""
    fields = proc_stat(pid)
    assert fields is not None, f"process {pid} is gone"
    return int(fields[1])


def ancestors(pid: int) -> list[int]:
    """Parent, grandparent... of ``pid`` (a LocalCluster worker is forked by the wrapper's forkserver)."""
    chain = []
    while pid > 1:
        pid = parent_pid(pid)
        chain.append(pid)
    return chain
