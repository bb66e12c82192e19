"""One computation per key at a time: the first caller computes, concurrent callers for the same
key wait for its result (or its error). Used for transformations by checksum, in this process
(`compute_result`) and in the jobserver (one run for concurrent requests)."""

from __future__ import annotations

import threading
from concurrent.futures import Future
from typing import Callable, Generic, Hashable, TypeVar

T = TypeVar("T")


class InFlight(Generic[T]):
    """The computations in progress, by key."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[Hashable, Future] = {}

    def run(self, key: Hashable, compute: Callable[[], T], *, retry_on: tuple[type[BaseException], ...] = ()) -> T:
        """``compute()``, unless a computation of ``key`` is in progress: then its result. If that
        one fails with one of ``retry_on``, the next caller computes (e.g. it may bring what the
        failed one lacked); any other error is every waiting caller's error."""
        while True:
            with self._lock:
                running = self._running.get(key)
                if running is None:
                    mine: Future = Future()
                    self._running[key] = mine
                    break
            try:
                return running.result()
            except retry_on:
                continue
        try:
            result = compute()
        except BaseException as exc:
            mine.set_exception(exc)
            raise
        else:
            mine.set_result(result)
            return result
        finally:
            with self._lock:
                self._running.pop(key, None)
