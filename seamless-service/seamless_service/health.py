"""The health port: plain HTTP that answers ``OK`` and nothing else.

remote-http-launcher checks a started service with a plain HTTP GET (its ``handshake``). The
service's own port speaks TLS and requires a client certificate, so every service also listens
on a second port of its range where ``GET /healthcheck`` (or ``/health``) answers ``OK`` and every
other request 404: it tells whether the process is alive and nothing else. The client side
is :func:`.health_probe.answers`.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: The key under which a service publishes this port in its status file.
PORT_NAME = "health_port"
PATHS = ("/healthcheck", "/health")


class _Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        ok = self.path.split("?", 1)[0] in PATHS
        body = b"OK" if ok else b"Not found"
        self.send_response(200 if ok else 404)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - silence per-request lines
        return


class HealthServer:
    """Serve the health answer on an already bound socket, in a daemon thread."""

    def __init__(self, sock: socket.socket):
        self._server = ThreadingHTTPServer(sock.getsockname()[:2], _Handler, bind_and_activate=False)
        self._server.socket.close()
        self._server.socket = sock
        self._server.server_address = sock.getsockname()[:2]
        self._server.daemon_threads = True
        self._server.server_activate()
        self.port: int = sock.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name="health-port", daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
