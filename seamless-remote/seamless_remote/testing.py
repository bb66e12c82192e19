"""Real hashserver / seamless-database / jobserver processes started directly (not through the
launcher), for tests and benchmarks. Each binds a free loopback port from a range, reports it
through its status file, and is stopped by PID with `LocalService.stop()`.

The stock hashserver and database speak plain HTTP on loopback (clients' tests); the jobserver
speaks mutual TLS as when launched for a user, with credentials of its own HOME
(``LocalService.tls`` is what a client passes as ``tls=``), unless ``tls=False``.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from .http_service import TLS
from .remote_clients import remote_clients_parameters

START_TIMEOUT = 30.0


@dataclass
class LocalService:
    """A service process of this machine; ``url`` is where it listens."""

    name: str
    process: subprocess.Popen
    url: str
    log: Path
    #: what a client passes as ``tls=`` for an https:// service, else None
    tls: TLS | None = None

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM, then SIGKILL after ``timeout`` s; return the exit code."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def _tool(name: str) -> str:
    candidate = Path(sys.executable).with_name(name)
    return str(candidate) if candidate.exists() else name


def start_service(name: str, argv: list[str], workdir: Path, *, parameters: dict | None = None,
                  home: Path | None = None) -> LocalService:
    """Start ``argv`` (``--status-file`` is appended) and wait until its status file says running.

    With ``home``, the service runs with ``HOME=home`` and speaks TLS with the credentials there.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    status = workdir / f"{name}.status.json"
    status.write_text(json.dumps({"status": "starting", "parameters": parameters or {}}))
    log = workdir / f"{name}.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            [_tool(argv[0]), *argv[1:], "--status-file", str(status)],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env=None if home is None else {**os.environ, "HOME": str(home)},
        )
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        try:
            data = json.loads(status.read_text())
        except (OSError, json.JSONDecodeError):
            data = {}
        if data.get("status") == "running" and data.get("port"):
            if home is None:
                return LocalService(name, process, f"http://127.0.0.1:{data['port']}", log)
            from seamless_service.credentials import ensure

            tls = (ensure(home / ".seamless" / "tls", role="client"), "client")
            return LocalService(name, process, f"https://127.0.0.1:{data['port']}", log, tls)
        if data.get("status") == "failed" or process.poll() is not None:
            break
        time.sleep(0.05)
    if process.poll() is None:
        process.kill()
    process.wait()
    raise RuntimeError(f"{name} did not start ({argv}); its output:\n{log.read_text()[-3000:]}")


def start_hashserver(directory: Path, *, writable: bool = True, ports: tuple[int, int] = (61100, 61199)) -> LocalService:
    directory.mkdir(parents=True, exist_ok=True)
    argv = ["hashserver", str(directory), "--port-range", *map(str, ports), "--host", "127.0.0.1"]
    return start_service("hashserver", argv + (["--writable"] if writable else []), directory.parent / "status")


def start_database(directory: Path, *, ports: tuple[int, int] = (61200, 61299)) -> LocalService:
    """A writable seamless-database (2.1.0 cannot start read-only with the installed peewee)."""
    directory.mkdir(parents=True, exist_ok=True)
    argv = ["seamless-database", str(directory / "seamless.db"), "--port-range", *map(str, ports), "--host", "127.0.0.1", "--writable"]
    return start_service("database", argv, directory.parent / "status")


def start_jobserver(workdir: Path, hashserver: str, database: str, *, workers: int = 1,
                    ports: tuple[int, int] = (61400, 61499), timeout: float | None = None,
                    tls: bool = True) -> LocalService:
    """A jobserver using that hashserver and database; over TLS with credentials in ``workdir/home``."""
    argv = ["seamless-jobserver", "--workers", str(workers), "--port-range", *map(str, ports), "--host", "127.0.0.1"]
    argv += ["--timeout", str(timeout)] if timeout else []
    argv += [] if tls else ["--no-tls"]
    home = workdir / "home" if tls else None
    return start_service("jobserver", argv, workdir, parameters=remote_clients_parameters(hashserver, database), home=home)

