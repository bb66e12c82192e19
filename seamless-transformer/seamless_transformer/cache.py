"""The active caches: memory first, then results still being stored, then the on-disk directory
(if any), then added stores.

A new result is kept in memory and on disk at once; its writes to the added stores (hashserver,
database) happen in the background (:mod:`seamless_transformer.write_behind`): `flush()` waits
for them, and a failed one is raised as `StoreError` by the next transformation run.

The cache directory comes from `set_cache_dir()` or, if that was never called, from the
environment variable ``SEAMLESS_CACHE_DIR`` (read on first use, not at import).
"""

from __future__ import annotations

import os
import threading
from pathlib import Path

from seamless import Buffer, CacheMissError, Checksum

from .stores import BufferStore, DirectoryStore, MemoryStore, ResultStore
from .write_behind import get_write_behind

CACHE_DIR_ENV = "SEAMLESS_CACHE_DIR"

_memory = MemoryStore()
_directory: DirectoryStore | None = None
_directory_configured = False
_extra_stores: list[object] = []
#: the added stores by protocol, classified once when added (a runtime protocol check costs
#: ~8 us, and every lookup and write asks for the stores of one protocol)
_extra_by_protocol: dict[type, list[object]] = {BufferStore: [], ResultStore: []}
_lock = threading.Lock()


def set_cache_dir(path: str | os.PathLike[str] | None) -> Path | None:
    """Cache results on disk in `path` (created 0700 if missing); None turns the disk cache off.

    Overrides ``SEAMLESS_CACHE_DIR``. Returns the resolved directory.
    """
    global _directory, _directory_configured
    with _lock:
        _directory = DirectoryStore(path) if path is not None else None
        _directory_configured = True
        return _directory.directory if _directory else None


def get_cache_dir() -> Path | None:
    """The on-disk cache directory in use, or None."""
    store = _directory_store()
    return store.directory if store else None


def _directory_store() -> DirectoryStore | None:
    global _directory, _directory_configured
    if not _directory_configured:
        with _lock:
            if not _directory_configured:
                env = os.environ.get(CACHE_DIR_ENV)
                _directory = DirectoryStore(env) if env else None
                _directory_configured = True
    return _directory


def add_store(store: object) -> None:
    """Consult `store` (a `BufferStore` and/or `ResultStore`) after memory and disk."""
    if not isinstance(store, (BufferStore, ResultStore)):
        raise TypeError(
            f"{type(store).__name__} is neither a BufferStore (get_buffer/put_buffer) nor a "
            "ResultStore (get_result/put_result)"
        )
    with _lock:
        if store not in _extra_stores:
            _extra_stores.append(store)
            for protocol, stores in _extra_by_protocol.items():
                if isinstance(store, protocol):
                    stores.append(store)


def has_store(store: object) -> bool:
    """Whether `store` was added with `add_store` (and not removed)."""
    with _lock:
        return store in _extra_stores


def remove_store(store: object) -> None:
    with _lock:
        if store in _extra_stores:
            _extra_stores.remove(store)
            for stores in _extra_by_protocol.values():
                if store in stores:
                    stores.remove(store)


def _stores(protocol: type) -> list:
    """Memory, pending writes and the directory (each both kinds of store), then the added
    stores of ``protocol`` (`BufferStore` or `ResultStore`)."""
    stores: list[object] = [_memory, get_write_behind().pending]
    directory = _directory_store()
    if directory is not None:
        stores.append(directory)
    stores.extend(_extra_by_protocol[protocol])
    return stores


def clear_memory_cache() -> None:
    """Forget every buffer and result held in memory (the disk cache is kept)."""
    _memory.clear()


def put_buffer(buffer: Buffer, *, persistent: bool = True) -> None:
    """Keep `buffer` in memory and, if `persistent`, in every other buffer store."""
    _memory.put_buffer(buffer)
    if persistent:
        for store in _stores(BufferStore)[1:]:
            store.put_buffer(buffer)


def find_buffer(checksum: Checksum) -> Buffer | None:
    """The buffer with `checksum` from the first store that has it (kept in memory after)."""
    found = _memory.get_buffer(checksum)
    if found is not None:
        return found
    for store in _stores(BufferStore)[1:]:
        found = store.get_buffer(checksum)
        if found is not None:
            _memory.put_buffer(found)
            return found
    return None


def get_buffer(checksum: Checksum) -> Buffer:
    """Like `find_buffer`, but raise `CacheMissError` if no store has it."""
    found = find_buffer(checksum)
    if found is None:
        raise CacheMissError(checksum)
    return found


def lookup_result(tf_checksum: Checksum, *, memory_only: bool = False) -> Buffer | None:
    """The cached result buffer of a transformation, or None (also if only its checksum is known
    and no store holds the buffer any more). ``memory_only``: ask no store outside this process."""
    for store in [_memory] if memory_only else _stores(ResultStore):
        result = store.get_result(tf_checksum)
        if result is not None:
            buffer = find_buffer(result)
            if buffer is not None:
                _memory.put_result(tf_checksum, result)
                return buffer
    return None


def record_result(tf_checksum: Checksum, result: Buffer) -> None:
    """Store a computed result: in memory and on disk now, in the added stores in the background."""
    _memory.put_buffer(result)
    _memory.put_result(tf_checksum, result.checksum)
    directory = _directory_store()
    if directory is not None:
        directory.put_buffer(result)
        directory.put_result(tf_checksum, result.checksum)
    with _lock:
        extra = list(_extra_stores)
    get_write_behind().submit(tf_checksum, result, extra)
