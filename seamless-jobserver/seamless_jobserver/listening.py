"""The listening socket of a service: bound by the service itself, so that the port it announces
is the one it holds (stdlib and seamless-service only: the hashserver's process imports no more)."""

from __future__ import annotations

import socket


def bind_socket(host: str, ports: range) -> socket.socket:
    """A listening TCP socket on ``host`` and a free port of ``ports`` (tried in random order)."""
    from seamless_service.ports import bind_free_port

    sock = bind_free_port(host, ports.start, ports.stop - 1)
    sock.listen(128)
    sock.setblocking(False)
    return sock
