"""The client side of the health port (:mod:`.health`): one ``GET``, with nothing but a socket.

Kept apart from the server so that a client checking a service imports no HTTP stack.
"""

from __future__ import annotations

import socket


def answers(host: str, port: int, path: str = "healthcheck", timeout: float = 5.0) -> bool:
    """Whether ``GET /<path>`` on ``host:port`` answers with a 2xx status (the launcher's handshake)."""
    request = f"GET /{path.lstrip('/')} HTTP/1.0\r\nHost: {host}:{port}\r\n\r\n".encode()
    status = b""
    try:
        with socket.create_connection((host, port), timeout=timeout) as sock:
            sock.sendall(request)
            while b"\r\n" not in status and len(status) < 256:
                chunk = sock.recv(256)
                if not chunk:
                    break
                status += chunk
    except OSError:
        return False
    parts = status.split(b" ", 2)
    return len(parts) >= 2 and parts[0].startswith(b"HTTP/") and len(parts[1]) == 3 and parts[1][:1] == b"2"
