"""The TLS store server: the hashserver and seamless-database apps served over mutual TLS.

Real processes (``seamless-jobserver serve-hashserver|serve-database``), real clients. Pins what
it needs of hashserver 1.1.0 / seamless-database 2.1.0 internals: the env-configured hashserver
app, its ``aiofiles_chmod`` (made owner-only), ``setup_inactivity_timeout``, the database's
``db_init`` and request handlers.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from seamless import Buffer
from seamless_remote import DatabaseClient, HashserverClient
from seamless_service import credentials

pytestmark = pytest.mark.servers

JOBSERVER = str(Path(sys.executable).with_name("seamless-jobserver"))


def _serve(tmp_path: Path, store: str, path: Path, *extra: str, timeout: float = 60) -> tuple[subprocess.Popen, dict]:
    status = tmp_path / f"{store}.status.json"
    log = tmp_path / f"{store}.log"
    env = {**os.environ, "HOME": str(tmp_path / "home")}
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [JOBSERVER, f"serve-{store}", str(path), "--writable", "--port-range", "62600", "62699",
             "--status-file", str(status), "--timeout", str(timeout), *extra],
            stdout=out, stderr=subprocess.STDOUT, env=env,
        )
    status.write_text(json.dumps({"status": "starting", "log": str(log)}))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        data = json.loads(status.read_text()) if status.exists() else {}
        if data.get("status") in ("running", "failed") or proc.poll() is not None:
            return proc, data
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"{store} did not start: {log.read_text()[-2000:]}")


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        proc.wait(30)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_hashserver_over_tls_keeps_buffers_private(tmp_path):
    buffers = tmp_path / "buffers"
    buffers.mkdir(mode=0o755)
    proc, status = _serve(tmp_path, "hashserver", buffers)
    try:
        assert status["status"] == "running", status
        assert requests.get(f"http://127.0.0.1:{status['health_port']}/healthcheck", timeout=10).text == "OK"
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"https://127.0.0.1:{status['port']}/healthcheck", verify=False, timeout=10)
        with pytest.raises(requests.exceptions.ConnectionError):
            requests.get(f"http://127.0.0.1:{status['port']}/healthcheck", timeout=10)
        creds = credentials.Credentials(tmp_path / "home" / ".seamless" / "tls")
        client = HashserverClient(f"https://127.0.0.1:{status['port']}", tls=(creds, "client"))
        buffer = Buffer(b"private data")
        client.put_buffer(buffer)
        assert client.get_buffer(buffer.checksum) == buffer
        assert _mode(buffers) & 0o077 == 0, "the buffer directory must be owner-only"
        written = [p for p in buffers.rglob("*") if p.is_file() and not p.name.startswith(".")]
        assert written and all(_mode(p) & 0o077 == 0 for p in written), [oct(_mode(p)) for p in written]
        assert all(_mode(p) & 0o077 == 0 for p in buffers.rglob("*") if p.is_dir())
        # a stranger's certificate (another CA) is refused
        stranger = credentials.ensure(tmp_path / "stranger")
        with pytest.raises(Exception):  # noqa: B017 (refused in the TLS handshake: an ssl or a requests error)
            HashserverClient(f"https://127.0.0.1:{status['port']}", tls=(stranger, "client")).get_buffer(buffer.checksum)
    finally:
        _stop(proc)
    assert proc.returncode == 0


def test_hashserver_idle_exit(tmp_path):
    proc, status = _serve(tmp_path, "hashserver", tmp_path / "buffers", timeout=2)
    try:
        assert status["status"] == "running", status
        assert proc.wait(30) == 0, "no exit after the idle timeout"
        assert not (tmp_path / "hashserver.status.json").exists()
    finally:
        _stop(proc)


def test_database_over_tls_and_idle_exit(tmp_path):
    proc, status = _serve(tmp_path, "database", tmp_path / "db" / "seamless.db", timeout=2)
    try:
        assert status["status"] == "running", status
        creds = credentials.Credentials(tmp_path / "home" / ".seamless" / "tls")
        client = DatabaseClient(f"https://127.0.0.1:{status['port']}", tls=(creds, "client"))
        assert client.healthcheck()
        client.check_protocol()
        assert _mode(tmp_path / "db") == 0o700 and _mode(tmp_path / "db" / "seamless.db") == 0o600
        assert proc.wait(30) == 0, "no exit after the idle timeout"
    finally:
        _stop(proc)


def test_expired_credentials_fail_the_start_with_the_file_named(tmp_path):
    tls_dir = tmp_path / "home" / ".seamless" / "tls"
    import datetime as dt

    credentials.create(tls_dir, valid_from=credentials._now() - dt.timedelta(days=30), leaf_days=3)
    proc, status = _serve(tmp_path, "hashserver", tmp_path / "buffers")
    try:
        assert proc.wait(30) == 1
        status = json.loads((tmp_path / "hashserver.status.json").read_text())
        assert status["status"] == "failed"
        assert "service.pem: expired" in status["reason"] and "renew-credentials" in status["reason"]
    finally:
        _stop(proc)


def test_no_tls_serves_plain_http_with_a_warning(tmp_path):
    proc, status = _serve(tmp_path, "database", tmp_path / "db" / "seamless.db", "--no-tls")
    try:
        assert status["status"] == "running", status
        assert DatabaseClient(f"http://127.0.0.1:{status['port']}").healthcheck()
        assert "WITHOUT TLS" in (tmp_path / "database.log").read_text()
    finally:
        _stop(proc)


@pytest.mark.parametrize("store", ["hashserver", "database"])
def test_a_store_server_loads_no_jobserver_stack(tmp_path, store: str):
    """Each store server's start is on the critical path of a persistent set_stage(), beside the
    others on the same cores: it imports what serving its store needs, not the jobserver's
    transformation stack (nor, for the hashserver, aiohttp: ~0.3 s of CPU together)."""
    status = tmp_path / "status.json"
    status.write_text("{}")
    path = tmp_path / ("buffers" if store == "hashserver" else "db.sqlite")
    code = f"""
import json, sys, threading, time
from seamless_jobserver.cli import main

def report():
    while json.loads(open({str(status)!r}).read() or "{{}}").get("status") != "running":
        time.sleep(0.01)
    print(json.dumps(sorted({{m.split(".")[0] for m in sys.modules}})), flush=True)

threading.Thread(target=report, daemon=True).start()
main(["serve-{store}", {str(path)!r}, "--writable", "--port-range", "61900", "61999",
      "--status-file", {str(status)!r}, "--timeout", "1", "--no-tls"])
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    loaded = set(json.loads(out.stdout.splitlines()[0]))
    assert ("hashserver" if store == "hashserver" else "database") in loaded
    assert not loaded & {"seamless", "seamless_transformer", "seamless_remote", "seamless_dask", "distributed"}
    if store == "hashserver":
        assert "aiohttp" not in loaded
