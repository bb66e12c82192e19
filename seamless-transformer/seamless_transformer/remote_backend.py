"""The seam for remote execution (``execution: remote``).

A jobserver client or the Seamless Dask client implements `RemoteBackend` and registers itself
with `register_backend()` when seamless_config activates persistent mode. Without a registered
backend, remote execution fails with `RemoteBackendMissingError`; it never falls back to local
execution silently.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, Protocol, runtime_checkable

from seamless import Buffer, Checksum

from .code import CodeLocation
from .errors import RemoteBackendMissingError

MISSING_BACKEND_MESSAGE = (
    "Remote execution requested (execution: remote) but no remote backend is active: call "
    "set_stage() with a persistent cluster (persistent: true, with a jobserver or daskserver), "
    "or use execution: process (or spawn) to run transformations locally."
)


@dataclass(frozen=True)
class RemoteJob:
    """What a backend receives: the transformation dict, its checksum, and access to the buffers
    it names (code and inputs) by checksum.

    ``looked_up``: the caller has just looked the result up in its result stores (memory, disk
    and the added ones, e.g. the database) and found none; a backend whose service would look
    the same database up before running may tell it not to (one lookup instead of two)."""

    checksum: Checksum
    transformation: dict[str, Any]
    get_buffer: Callable[[Checksum], Buffer]
    location: CodeLocation | None = None
    looked_up: bool = False

    def buffers(self) -> dict[Checksum, Buffer]:
        """Every buffer the transformation dict names (e.g. to upload to a hashserver)."""
        from .transformation_dict import parse_spec

        return {cs: self.get_buffer(cs) for cs in parse_spec(self.transformation).checksums()}


@runtime_checkable
class RemoteBackend(Protocol):
    """Runs a transformation elsewhere.

    `submit` blocks until the result is known and returns the result `Buffer`, or its `Checksum`
    if the buffer is available from a registered buffer store (e.g. the hashserver). It raises
    `TransformationError` if the transformation failed.
    """

    def submit(self, job: RemoteJob) -> Buffer | Checksum: ...


_backend: RemoteBackend | None = None
_lock = threading.Lock()


def register_backend(backend: RemoteBackend | None) -> RemoteBackend | None:
    """Make `backend` the remote backend (None unregisters); return the previous one."""
    global _backend
    if backend is not None and not isinstance(backend, RemoteBackend):
        raise TypeError(
            f"{type(backend).__name__} is not a RemoteBackend: it needs a submit(job) method"
        )
    with _lock:
        previous, _backend = _backend, backend
    return previous


def get_backend() -> RemoteBackend | None:
    """The registered remote backend, or None."""
    return _backend


def require_backend() -> RemoteBackend:
    backend = _backend
    if backend is None:
        raise RemoteBackendMissingError(MISSING_BACKEND_MESSAGE)
    return backend
