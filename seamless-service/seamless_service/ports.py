"""Free TCP ports from a range, on the interface the services will bind to.

Stdlib only: part of the launch protocol that the wrapper and the jobserver share.
"""

from __future__ import annotations

import random
import socket
from collections.abc import Set as AbstractSet


def bind_free_port(host: str, start: int, end: int, exclude: AbstractSet[int] = frozenset()) -> socket.socket:
    """A socket bound to ``host`` and a random free port of ``start..end`` not in ``exclude``.

    Raises ``OSError("No free port available in range S-E on HOST ...")`` when there is none.
    """
    candidates = [p for p in range(start, end + 1) if p not in exclude]
    random.shuffle(candidates)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for port in candidates:
        sock = socket.socket(family, socket.SOCK_STREAM)
        # as Dask and other servers do: connections of an earlier server in TIME_WAIT do not make
        # a port busy, a socket that listens there still does
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError:
            sock.close()
            continue
        return sock
    raise OSError(
        f"No free port available in range {start}-{end} on {host}"
        + (f" (besides {sorted(exclude)})" if exclude else "")
    )

