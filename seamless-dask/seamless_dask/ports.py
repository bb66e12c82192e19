"""Pick free TCP ports from a range, on the interface the services will bind to."""

from __future__ import annotations

import random
import socket

from .errors import WrapperError


def is_free(host: str, port: int) -> bool:
    """True if a test bind of ``host:port`` succeeds."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((host, port))
        except OSError:
            return False
    return True


def pick_free_port(host: str, start: int, end: int, exclude: set[int] = frozenset()) -> int:
    """A random free port in ``start..end`` (inclusive) not in ``exclude``."""
    candidates = [p for p in range(start, end + 1) if p not in exclude]
    random.shuffle(candidates)
    for port in candidates:
        if is_free(host, port):
            return port
    raise WrapperError(
        f"No free port available in range {start}-{end} on {host}"
        + (f" (besides {sorted(exclude)})" if exclude else "")
        + "; widen --port-range or stop what uses those ports"
    )
