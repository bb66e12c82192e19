"""Write-behind for the added stores (hashserver, database): a result is returned before it is stored.

`record_result` in :mod:`seamless_transformer.cache` keeps a new result in memory (and the disk
cache) at once and hands the writes to the added stores to this module, which does them on a few
background threads. The guarantees:

* **order**: the result buffer is written to every buffer store before the transformation ->
  result entry goes to any result store, so a database never names a buffer no hashserver has;
* **visibility**: until its writes are done, a result is served from the *pending* store here
  (consulted right after memory), so a later lookup in this process sees it even if the memory
  cache was cleared meanwhile;
* **durability**: `flush()` waits for every pending write; the interpreter runs it at exit
  (the writer threads are also joined before ``atexit``), so the process does not exit before its
  results are stored (a forked child does not wait for its parent's writes);
* **failures**: a failed write is logged at once and raised as `StoreError` by the next
  transformation computed in this process (`raise_failures()`), by `flush()`, or at exit.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import TypeVar

from seamless import Buffer, Checksum

from .errors import StoreError
from .stores import BufferStore, ResultStore

logger = logging.getLogger(__name__)

#: how many writes (one result each: its buffer, then its transformation entry) run at once;
#: each writer may hold a connection (a TLS handshake) per service, and competes for the CPU
WRITERS = 2


class PendingStore:
    """The results whose writes are still in flight: a buffer and result store, read-only from outside."""

    def __init__(self) -> None:
        self._buffers: dict[Checksum, tuple[Buffer, int]] = {}
        self._results: dict[Checksum, tuple[Checksum, int]] = {}
        self._lock = threading.Lock()

    def get_buffer(self, checksum: Checksum) -> Buffer | None:
        entry = self._buffers.get(checksum)
        return entry[0] if entry else None

    def put_buffer(self, buffer: Buffer) -> None:  # a BufferStore, but filled only by `add`
        return None

    def get_result(self, tf_checksum: Checksum) -> Checksum | None:
        entry = self._results.get(tf_checksum)
        return entry[0] if entry else None

    def put_result(self, tf_checksum: Checksum, result_checksum: Checksum) -> None:
        return None

    def add(self, tf_checksum: Checksum, result: Buffer) -> None:
        with self._lock:
            _, count = self._buffers.get(result.checksum, (result, 0))
            self._buffers[result.checksum] = (result, count + 1)
            _, count = self._results.get(tf_checksum, (result.checksum, 0))
            self._results[tf_checksum] = (result.checksum, count + 1)

    def discard(self, tf_checksum: Checksum, result: Buffer) -> None:
        with self._lock:
            _release(self._buffers, result.checksum)
            _release(self._results, tf_checksum)


_V = TypeVar("_V")


def _release(table: dict[Checksum, tuple[_V, int]], key: Checksum) -> None:
    """Count one use of ``table[key]`` off; drop the entry at the last."""
    value, count = table[key]
    if count > 1:
        table[key] = (value, count - 1)
    else:
        del table[key]


class WriteBehind:
    """The background writer of one process (see the module docstring)."""

    def __init__(self, writers: int = WRITERS) -> None:
        self.pending = PendingStore()
        self._writers = writers
        self._executor: ThreadPoolExecutor | None = None
        self._futures: set[Future] = set()
        self._failures: list[str] = []
        self._lock = threading.Lock()
        self._exit_hook = False

    def submit(self, tf_checksum: Checksum, result: Buffer, stores: list[object],
               inputs: tuple[Buffer, ...] = ()) -> None:
        """Write ``inputs`` and ``result`` to the buffer stores, then ``tf_checksum -> result`` to
        the result stores."""
        if not stores:
            return
        self.pending.add(tf_checksum, result)
        with self._lock:
            if not self._exit_hook:
                atexit.register(self._at_exit)
                if hasattr(os, "register_at_fork"):
                    os.register_at_fork(after_in_child=self._forget_parent_writes)
                self._exit_hook = True
            if self._executor is None:
                self._executor = ThreadPoolExecutor(self._writers, thread_name_prefix="seamless-store")
            future: Future | None
            try:
                future = self._executor.submit(self._write, tf_checksum, result, stores, inputs)
            except RuntimeError:  # the interpreter is shutting down: no new threads, write here
                future = None
            else:
                self._futures.add(future)
                future.add_done_callback(self._futures.discard)
        if future is None:
            self._write(tf_checksum, result, stores, inputs)

    def _forget_parent_writes(self) -> None:
        """In a forked child: the parent's writes are the parent's to finish and report (the
        child has none of its threads; waiting for them at exit would never end)."""
        self._executor = None
        self._futures = set()
        self._failures = []
        self._lock = threading.Lock()
        # a parent writer may have held the pending store's lock at the fork, and no thread here
        # will ever discard the parent's entries (the child's memory cache holds those results)
        self.pending = PendingStore()

    def _write(self, tf_checksum: Checksum, result: Buffer, stores: list[object], inputs: tuple[Buffer, ...]) -> None:
        try:
            for store in stores:
                if isinstance(store, BufferStore):
                    for buffer in (*inputs, result):
                        store.put_buffer(buffer)
            for store in stores:
                if isinstance(store, ResultStore):
                    store.put_result(tf_checksum, result.checksum)
        except Exception as exc:  # noqa: BLE001 - every failure is reported, none is lost
            message = (
                f"Storing the result of transformation {tf_checksum.hex()} failed: "
                f"{type(exc).__name__}: {exc}"
            )
            logger.error("%s", message)
            with self._lock:
                self._failures.append(message)
        finally:
            self.pending.discard(tf_checksum, result)

    def raise_failures(self) -> None:
        """Raise `StoreError` for the writes that failed since the last call (and forget them)."""
        with self._lock:
            failures, self._failures = self._failures, []
        if failures:
            more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
            raise StoreError(
                f"{failures[0]}{more}. The result was returned, but a later process will not find it: "
                "check that the hashserver and database of the stage are running (set_stage() "
                "relaunches them) and writable",
                failures,
            )

    def drain(self, timeout: float | None = None) -> int:
        """Wait until every pending write is done (at most ``timeout`` s); return how many are not."""
        with self._lock:
            futures = list(self._futures)
        _, not_done = wait(futures, timeout=timeout)
        return len(not_done)

    def flush(self, timeout: float | None = None) -> None:
        """Wait until every pending write is done; raise `StoreError` if any failed."""
        left = self.drain(timeout)
        if left:
            raise StoreError(f"{left} result(s) were still being stored after {timeout} s", [])
        self.raise_failures()

    def _at_exit(self) -> None:
        try:
            self.flush()
        except StoreError as exc:
            logger.error("At exit: %s", exc)
            raise


_writer = WriteBehind()


def get_write_behind() -> WriteBehind:
    """The write-behind of this process."""
    return _writer


def flush(timeout: float | None = None) -> None:
    """Wait until the results of this process are stored; raise `StoreError` if a write failed."""
    _writer.flush(timeout)
