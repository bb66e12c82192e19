"""The worker side of Seamless transformations on Dask: the task function and its throttle.

A transformation is one Dask task whose key is derived from the transformation checksum
(:func:`transformation_key`), so equal transformations submitted by several clients at once are
computed once. The task receives the transformation dict and the buffers it names, runs it with
:func:`seamless_transformer.execute_transformation` (the one executor of every mode), and returns
a :class:`TaskOutcome`: the result bytes, or the error message and the worker's traceback. Errors
are returned, not raised, so that their traceback text survives pickling intact and no erred key
lingers on the scheduler.

Throttle: a worker process runs at most ``throttle x cores`` transformations at once, where the
throttle is ``SEAMLESS_WORKER_TRANSFORMATION_THROTTLE`` (exported by ``seamless-dask-wrapper`` in
persistent mode) and ``cores`` is ``SEAMLESS_WORKER_CORES`` if set, else ``PYTHON_CPU_COUNT`` (set
in SLURM jobs), else the CPUs this process may run on. With the wrapper's persistent defaults a
worker has exactly ``cores x throttle`` threads, so Dask's own thread pool already enforces the
limit; the per-process semaphore here enforces it also when ``worker_threads`` gives more
threads. Without the throttle variable (a Dask cluster not started in persistent mode) only
Dask's thread count limits concurrency.

Importing this module imports only the standard library, seamless_dask.configuration (the
wrapper computes the variables it reads) and seamless_service.errors.
"""

from __future__ import annotations

import contextlib
import os
import threading
import traceback
from dataclasses import dataclass
from typing import Any, Iterator, Mapping

from seamless_service.errors import SeamlessError

from ..configuration import CORES_ENV, THROTTLE_ENV

TRANSFORMATION_KEY_PREFIX = "seamless-transformation-"
BUFFER_KEY_PREFIX = "seamless-buffer-"


def transformation_key(checksum_hex: str) -> str:
    """The Dask key of the task that computes transformation ``checksum_hex``."""
    return TRANSFORMATION_KEY_PREFIX + checksum_hex


def buffer_key(checksum_hex: str) -> str:
    """The Dask key of the task that holds a (large) input buffer."""
    return BUFFER_KEY_PREFIX + checksum_hex


@dataclass(frozen=True)
class TaskOutcome:
    """What a transformation task returns: ``result`` bytes, or ``error`` (+ ``traceback``)."""

    result: bytes | None = None
    error: str | None = None
    traceback: str | None = None
    worker: str | None = None


class ThrottleError(SeamlessError, RuntimeError):
    """The worker's throttle variables hold something other than a positive integer."""


def _positive_int(name: str, raw: str) -> int:
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value <= 0:
        raise ThrottleError(f"Environment variable {name} must be a positive integer, not {raw!r}")
    return value


def _cores(environ: Mapping[str, str]) -> int:
    raw = environ.get(CORES_ENV)
    if raw:
        return _positive_int(CORES_ENV, raw)
    raw = environ.get("PYTHON_CPU_COUNT", "")
    if raw.isdigit() and int(raw) > 0:  # not ours: anything else (e.g. SLURM's "2(x3)") is ignored
        return int(raw)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def worker_capacity(environ: Mapping[str, str] | None = None) -> int | None:
    """How many transformations this worker process may run at once; None: no throttle set."""
    environ = os.environ if environ is None else environ
    raw = environ.get(THROTTLE_ENV)
    if not raw:
        return None
    return _positive_int(THROTTLE_ENV, raw) * _cores(environ)


_slots: threading.BoundedSemaphore | None = None
_slots_ready = False
_slots_lock = threading.Lock()


@contextlib.contextmanager
def _throttled() -> Iterator[None]:
    """Hold one of the process's transformation slots while running."""
    global _slots, _slots_ready
    if not _slots_ready:
        with _slots_lock:
            if not _slots_ready:
                capacity = worker_capacity()
                _slots = threading.BoundedSemaphore(capacity) if capacity else None
                _slots_ready = True
    if _slots is None:
        yield
        return
    with _slots:
        yield


def _worker_address() -> str | None:
    try:
        from distributed import get_worker

        return get_worker().address
    except (ImportError, ValueError):
        return None


def buffer_content(content: bytes) -> bytes:
    """The task body of a buffer task: its value is the buffer's bytes."""
    return content


def run_transformation(
    transformation: dict[str, Any], buffers: Mapping[str, bytes], location: Any = None
) -> TaskOutcome:
    """Run one transformation on this worker (under the throttle); never raises."""
    worker = _worker_address()
    try:
        with _throttled():
            from seamless import Buffer, Checksum
            from seamless_transformer import TransformationError, execute_transformation

            store = {Checksum(hex_): Buffer(content) for hex_, content in buffers.items()}

            def get_buffer(checksum: Checksum) -> Buffer:
                try:
                    return store[Checksum(checksum)]
                except KeyError:
                    raise TransformationError(
                        f"Buffer {Checksum(checksum).hex()} was not shipped to the Dask worker "
                        f"with the transformation (shipped: {', '.join(sorted(buffers)) or 'none'})"
                    ) from None

            try:
                result = execute_transformation(transformation, get_buffer, location)
            except TransformationError as exc:
                return TaskOutcome(error=exc.message, traceback=exc.traceback, worker=worker)
            return TaskOutcome(result=result.content, worker=worker)
    except Exception as exc:  # the machinery itself failed (bad throttle value, import error...)
        return TaskOutcome(
            error=f"{type(exc).__name__}: {exc}", traceback=traceback.format_exc(), worker=worker
        )
