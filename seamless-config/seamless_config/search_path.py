"""Directories put first on this process's PATH while launches run, safely across threads.

remote-http-launcher finds its ``rhl-*`` helpers and ``ssh`` through PATH, and services of one
stage are launched from several threads at once (:mod:`.parallel_launch`). A plain
save/modify/restore of ``os.environ["PATH"]`` per launch would let one thread's restore remove
another thread's directory in the middle of its launch; here each directory is counted, and PATH
is restored only when the last user leaves.
"""

from __future__ import annotations

import contextlib
import os
import threading
from typing import Iterator

_lock = threading.Lock()
#: directory -> number of active users, in the order they were first added
_held: dict[str, int] = {}
_base: str | None = None  # PATH before the first directory was added


def _apply() -> None:
    assert _base is not None
    first = list(reversed(_held))  # the most recently added directory comes first
    rest = [p for p in _base.split(os.pathsep) if p and p not in _held]
    os.environ["PATH"] = os.pathsep.join(first + rest)


@contextlib.contextmanager
def prepended(*directories: str) -> Iterator[None]:
    """Put ``directories`` first on PATH for the duration (nested and concurrent uses add up)."""
    global _base
    with _lock:
        if not _held:
            _base = os.environ.get("PATH", "")
        for directory in directories:
            _held[directory] = _held.get(directory, 0) + 1
        _apply()
    try:
        yield
    finally:
        with _lock:
            for directory in directories:
                _held[directory] -= 1
                if not _held[directory]:
                    del _held[directory]
            if _held:
                _apply()
            else:
                os.environ["PATH"] = _base or ""
                _base = None
