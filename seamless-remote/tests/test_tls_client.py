"""The HTTPS clients trust only the user's CA, whatever the environment says."""

from __future__ import annotations

import http.server
import ssl
import threading

import pytest

from seamless_remote import HashserverClient, ServiceUnavailableError
from seamless_service import credentials


@pytest.fixture
def impostor(tmp_path):
    """An HTTPS server with a certificate of another CA that answers every GET with OK."""
    other = credentials.ensure(tmp_path / "other")

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"OK")

        def log_message(self, *args):
            return

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(other.cert("service"), other.key("service"))
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", other
    server.shutdown()
    server.server_close()


@pytest.mark.parametrize("variable", ["REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"])
def test_a_ca_bundle_in_the_environment_adds_no_trust(impostor, tmp_path, monkeypatch, variable):
    url, other = impostor
    mine = credentials.ensure(tmp_path / "mine")
    monkeypatch.setenv(variable, str(other.ca))  # as module systems and conda set it
    client = HashserverClient(url, tls=(mine, "client"))
    with pytest.raises(ServiceUnavailableError, match="refused the TLS connection"):
        client.request("GET", "healthcheck")
    assert not client.healthcheck()
