"""The health port and its client-side probe, over real sockets."""

from __future__ import annotations

import socket
import threading

from seamless_service.health import HealthServer
from seamless_service.health_probe import answers


def _bound() -> socket.socket:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    return sock


def test_probe_accepts_only_the_health_paths():
    server = HealthServer(_bound())
    try:
        assert answers("127.0.0.1", server.port, "healthcheck")
        assert answers("127.0.0.1", server.port, "/health")
        assert not answers("127.0.0.1", server.port, "status")  # 404
    finally:
        server.close()


def test_probe_refuses_a_closed_port_and_a_peer_that_is_not_http():
    sock = _bound()
    port = sock.getsockname()[1]
    sock.close()
    assert not answers("127.0.0.1", port, "healthcheck", timeout=2)

    listener = _bound()
    listener.listen()

    def babble() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(1024)
            conn.sendall(b"SSH-2.0-OpenSSH_9.2\r\n")

    thread = threading.Thread(target=babble, daemon=True)
    thread.start()
    try:
        assert not answers("127.0.0.1", listener.getsockname()[1], "healthcheck", timeout=2)
    finally:
        thread.join(5)
        listener.close()
