"""Free TCP ports from a range, on the interface the services will bind to.

Stdlib only (also used by the jobserver, which holds the bound socket instead of a number).
"""

from __future__ import annotations

import random
import socket

from .errors import WrapperError


def bind_free_port(host: str, start: int, end: int, exclude: set[int] = frozenset()) -> socket.socket:
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


def pick_free_port(host: str, start: int, end: int, exclude: set[int] = frozenset()) -> int:
    """A random free port in ``start..end`` (inclusive) not in ``exclude`` (a test bind)."""
    try:
        with bind_free_port(host, start, end, exclude) as sock:
            return sock.getsockname()[1]
    except OSError as exc:
        raise WrapperError(f"{exc}; widen --port-range or stop what uses those ports") from None
