"""The wrapper's port choice: a free port of its range, as a number (Dask binds it later)."""

from __future__ import annotations

from collections.abc import Set as AbstractSet

from seamless_service.ports import bind_free_port

from .errors import WrapperError


def pick_free_port(host: str, start: int, end: int, exclude: AbstractSet[int] = frozenset()) -> int:
    """A random free port in ``start..end`` (inclusive) not in ``exclude`` (a test bind)."""
    try:
        with bind_free_port(host, start, end, exclude) as sock:
            return sock.getsockname()[1]
    except OSError as exc:
        raise WrapperError(f"{exc}; widen --port-range or stop what uses those ports") from None
