"""Where buffers and results live: in memory, in a directory, later on a hashserver / database.

A *buffer store* maps checksum → bytes; a *result store* maps transformation checksum → result
checksum. The hashserver and database clients of seamless_remote are meant to implement these two
protocols and be added with `seamless_transformer.cache.add_store()`.
"""

from __future__ import annotations

import logging
import os
import threading
from pathlib import Path
from typing import Protocol, runtime_checkable

from seamless import Buffer, Checksum
from seamless_service.private_files import write_private

logger = logging.getLogger(__name__)


@runtime_checkable
class BufferStore(Protocol):
    def get_buffer(self, checksum: Checksum) -> Buffer | None: ...

    def put_buffer(self, buffer: Buffer) -> None: ...


@runtime_checkable
class ResultStore(Protocol):
    def get_result(self, tf_checksum: Checksum) -> Checksum | None: ...

    def put_result(self, tf_checksum: Checksum, result_checksum: Checksum) -> None: ...


class MemoryStore:
    """Buffers and results in this process's memory (unbounded; `clear()` empties it)."""

    def __init__(self) -> None:
        self._buffers: dict[Checksum, Buffer] = {}
        self._results: dict[Checksum, Checksum] = {}
        self._lock = threading.Lock()

    def get_buffer(self, checksum: Checksum) -> Buffer | None:
        return self._buffers.get(checksum)

    def put_buffer(self, buffer: Buffer) -> None:
        with self._lock:
            self._buffers.setdefault(buffer.checksum, buffer)

    def get_result(self, tf_checksum: Checksum) -> Checksum | None:
        return self._results.get(tf_checksum)

    def put_result(self, tf_checksum: Checksum, result_checksum: Checksum) -> None:
        with self._lock:
            self._results[tf_checksum] = result_checksum

    def clear(self) -> None:
        with self._lock:
            self._buffers.clear()
            self._results.clear()


class DirectoryStore:
    """Buffers and results as files, owner-only, so they survive the process.

    Layout: ``<dir>/buffers/<cs[:2]>/<cs>`` holds a buffer's bytes (the hashserver's ``prefix``
    layout); ``<dir>/transformations/<tf[:2]>/<tf>`` holds a result checksum as hex text. Writes
    are atomic (temporary file + rename); a buffer whose bytes do not match its name is ignored.
    """

    def __init__(self, directory: str | os.PathLike[str]) -> None:
        self.directory = Path(directory).expanduser().resolve()
        for sub in ("buffers", "transformations"):
            (self.directory / sub).mkdir(mode=0o700, parents=True, exist_ok=True)

    def _path(self, kind: str, checksum: Checksum) -> Path:
        hex_ = checksum.hex()
        return self.directory / kind / hex_[:2] / hex_

    def _write(self, path: Path, data: bytes) -> None:
        path.parent.mkdir(mode=0o700, exist_ok=True)
        write_private(path, data)

    def _read(self, path: Path) -> bytes | None:
        try:
            return path.read_bytes()
        except FileNotFoundError:
            return None

    def get_buffer(self, checksum: Checksum) -> Buffer | None:
        data = self._read(self._path("buffers", checksum))
        if data is None:
            return None
        buffer = Buffer(data)
        if buffer.checksum != checksum:
            logger.warning("Ignoring corrupt cache file for buffer %s in %s", checksum, self.directory)
            return None
        return buffer

    def put_buffer(self, buffer: Buffer) -> None:
        path = self._path("buffers", buffer.checksum)
        if not path.exists():
            self._write(path, buffer.content)

    def get_result(self, tf_checksum: Checksum) -> Checksum | None:
        data = self._read(self._path("transformations", tf_checksum))
        if data is None:
            return None
        try:
            return Checksum(data.decode("ascii").strip())
        except (UnicodeDecodeError, ValueError):
            logger.warning("Ignoring corrupt cache entry for transformation %s", tf_checksum)
            return None

    def put_result(self, tf_checksum: Checksum, result_checksum: Checksum) -> None:
        self._write(self._path("transformations", tf_checksum), result_checksum.hex().encode())
