"""Whether this process is a Seamless worker (e.g. one of the spawn pool's processes).

`seamless_config.init()` looks this up through ``sys.modules`` and does nothing in a worker.
"""

from __future__ import annotations

_is_worker = False


def is_worker() -> bool:
    """True in a process started to execute transformations for another one."""
    return _is_worker


def mark_as_worker() -> None:
    """Called once by a worker process when it starts."""
    global _is_worker
    _is_worker = True
