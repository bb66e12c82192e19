"""Release the futures of finished transformation tasks together with the next submission.

A ``distributed.Client`` sends its messages to the scheduler in batches, at most one batch per
10 ms (its ``BatchedSend``): a message sent while the stream is idle goes out at once and opens a
10 ms window in which later messages wait. Releasing a task's futures right after reading its
result sends a message on its own; when the caller's next submission comes a few ms later (after
the cache lookup and the bookkeeping of a transformation), it waits for the window that release
opened, and a sequence of transformations runs at every second window. Released together with the
next submission instead, in the same callback of the client's event loop (the caller's business:
`release` there, then ``client.submit``), the release travels in the submission's batch, as a
plain ``submit().result()`` loop's does. (A release asked for from another thread reaches the
loop first and goes out alone, while the submission still builds its graph.)

Futures are released at the latest `LINGER` seconds after they were handed in, so an idle client
does not keep results on the workers. A failed task's futures are never handed in: they are
released at once, so that submitting the same transformation again runs it again.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Iterable

#: seconds after which a spent future is released even if no submission came
LINGER = 1.0


class SpentFutures:
    """Futures whose results were read, waiting to be released (thread-safe)."""

    def __init__(self, linger: float = LINGER) -> None:
        self.linger = linger
        self._spent: list[tuple[float, Any]] = []
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None

    def __len__(self) -> int:
        return len(self._spent)

    def add(self, futures: Iterable[Any]) -> None:
        """Hand in ``futures``: released by the next `release` call, or after `linger` s."""
        now = time.monotonic()
        with self._lock:
            self._spent.extend((now, future) for future in futures)
            if self._timer is None:
                self._arm(self.linger)

    def release(self, older_than: float | None = None) -> None:
        """Release the futures handed in (only those handed in ``older_than`` s ago or more)."""
        cutoff = None if older_than is None else time.monotonic() - older_than
        with self._lock:
            if cutoff is None:
                due, self._spent = self._spent, []
            else:
                due = [entry for entry in self._spent if entry[0] <= cutoff]
                self._spent = [entry for entry in self._spent if entry[0] > cutoff]
        for _, future in due:
            _release(future)

    def _arm(self, delay: float) -> None:
        timer = threading.Timer(delay, self._expire)
        timer.daemon = True
        self._timer = timer
        timer.start()

    def _expire(self) -> None:
        self.release(older_than=self.linger)
        with self._lock:
            self._timer = None
            if self._spent:  # handed in since: wait until the oldest of them is due
                self._arm(max(self._spent[0][0] + self.linger - time.monotonic(), 0.0))


def _release(future: Any) -> None:
    try:
        future.release()
    except Exception:  # noqa: BLE001 - a closed client has released everything already
        pass
