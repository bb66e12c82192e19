"""Per-user credentials: creation, owner-only files, and the checks that name the file at fault."""

from __future__ import annotations

import datetime as dt
import json
import os
import socket
import ssl
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from seamless_service import credentials, tls
from seamless_service.credentials import CredentialError, Credentials
from seamless_service.health import HealthServer


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_created_once_and_owner_only(tmp_path):
    directory = tmp_path / "tls"
    creds = credentials.ensure(directory)
    assert _mode(directory) == 0o700
    for name in ("ca.pem", "ca.key", "service.pem", "service.key", "client.pem", "client.key", "client.p12"):
        assert _mode(directory / name) == 0o600, name
    before = creds.ca.read_bytes()
    credentials.ensure(directory, role="client")
    assert creds.ca.read_bytes() == before, "existing credentials must be kept"


def test_browser_bundle_holds_the_client_certificate(tmp_path):
    from cryptography.hazmat.primitives.serialization import pkcs12

    creds = credentials.ensure(tmp_path / "tls")
    key, cert, cas = pkcs12.load_key_and_certificates((creds.directory / "client.p12").read_bytes(), None)
    assert cert.public_bytes(__import__("cryptography.hazmat.primitives.serialization", fromlist=["Encoding"]).Encoding.PEM) == creds.cert("client").read_bytes()
    assert len(cas) == 1


def test_concurrent_first_use_creates_one_ca(tmp_path):
    directory = tmp_path / "tls"
    code = "import sys; from seamless_service import credentials; credentials.ensure(sys.argv[1])"
    procs = [subprocess.Popen([sys.executable, "-c", code, str(directory)]) for _ in range(4)]
    assert all(p.wait(60) == 0 for p in procs)
    creds = Credentials(directory)
    for role in ("service", "client"):
        credentials.check(creds, role)  # every certificate is signed by the one CA that stayed


def test_missing_expired_foreign_and_open_files_are_named(tmp_path):
    creds = credentials.ensure(tmp_path / "a")
    creds.key("client").unlink()
    with pytest.raises(CredentialError, match=r"client\.key: missing.*seamless-services renew-credentials"):
        credentials.check(creds, "client")

    old = credentials.create(tmp_path / "b", valid_from=credentials._now() - dt.timedelta(days=10), leaf_days=2)
    with pytest.raises(CredentialError, match=r"service\.pem: expired on .*renew-credentials"):
        credentials.check(old, "service")

    other = credentials.create(tmp_path / "c")
    mine = credentials.create(tmp_path / "d")
    for suffix in ("pem", "key"):
        (mine.directory / f"client.{suffix}").write_bytes((other.directory / f"client.{suffix}").read_bytes())
    with pytest.raises(CredentialError, match=r"client\.pem: not signed by the CA"):
        credentials.check(mine, "client")

    fine = credentials.create(tmp_path / "e")
    os.chmod(fine.key("service"), 0o644)
    with pytest.raises(CredentialError, match=r"service\.key: readable by other users"):
        credentials.check(fine, "service")


def test_verified_rechecks_after_a_change(tmp_path):
    creds = credentials.ensure(tmp_path / "tls", role="client")
    stamp = creds.directory / ".verified-client.json"
    assert json.loads(stamp.read_text())["files"]
    credentials.verified(creds, "client")  # unchanged: the stamp answers
    other = credentials.create(tmp_path / "other")
    creds.cert("client").write_bytes(other.cert("client").read_bytes())
    with pytest.raises(CredentialError, match="not signed by the CA"):
        credentials.verified(creds, "client")


def test_client_copy_holds_only_what_a_client_needs(tmp_path):
    creds = credentials.ensure(tmp_path / "frontend")
    exported = credentials.export_for_client(creds)
    assert sorted(exported) == sorted(credentials.CLIENT_FILES)
    assert "ca.key" not in exported and "service.key" not in exported
    copy = credentials.store_client_copy(credentials.host_directory("login1", tmp_path / "client"), exported)
    assert all(_mode(copy.directory / name) == 0o600 for name in credentials.CLIENT_FILES)
    credentials.verified(copy, "client")
    with pytest.raises(ValueError):
        credentials.host_directory("../etc", tmp_path)


def _serve_once(ctx: ssl.SSLContext, sock: socket.socket, outcome: list) -> None:
    conn, _ = sock.accept()
    try:
        with ctx.wrap_socket(conn, server_side=True) as tls_conn:
            tls_conn.sendall(b"hello")
            outcome.append("served")
    except (ssl.SSLError, OSError) as exc:
        outcome.append(type(exc).__name__)


def test_mutual_tls_accepts_only_the_users_ca(tmp_path):
    mine = credentials.ensure(tmp_path / "mine")
    stranger = credentials.ensure(tmp_path / "stranger")
    for client_creds, expected in ((mine, True), (stranger, False)):
        sock = socket.create_server(("127.0.0.1", 0))
        outcome: list = []
        thread = threading.Thread(target=_serve_once, args=(tls.server_context(mine), sock, outcome))
        thread.start()
        try:
            with socket.create_connection(sock.getsockname()) as raw:
                with tls.client_context(client_creds).wrap_socket(raw) as conn:
                    data = conn.recv(5)
        except (ssl.SSLError, OSError):
            data = b""
        thread.join(10)
        sock.close()
        assert (data == b"hello") is expected, (client_creds.directory, outcome)


def test_health_port_says_ok_and_nothing_else():
    import urllib.error
    import urllib.request

    server = HealthServer(socket.create_server(("127.0.0.1", 0)))
    try:
        base = f"http://127.0.0.1:{server.port}"
        assert urllib.request.urlopen(base + "/healthcheck", timeout=5).read() == b"OK"
        assert urllib.request.urlopen(base + "/health", timeout=5).read() == b"OK"
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(base + "/", timeout=5)
        assert info.value.code == 404
    finally:
        server.close()


def test_client_contexts_are_shared_until_the_files_change(tmp_path):
    creds = credentials.ensure(tmp_path / "tls")
    first = tls.shared_client_context(creds)
    assert tls.shared_client_context(creds) is first
    credentials.renew(tmp_path / "tls")
    assert tls.shared_client_context(creds) is not first


def test_dask_security_arguments_are_paths(tmp_path):
    creds = credentials.ensure(tmp_path / "tls")
    for role in ("client", "service"):
        arguments = tls.dask_security_arguments(creds, role)
        assert arguments["require_encryption"] is True
        assert all(Path(v).is_file() for k, v in arguments.items() if k.startswith("tls_"))
