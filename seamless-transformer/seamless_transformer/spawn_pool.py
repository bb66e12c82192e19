"""``execution: spawn``: a pool of N local worker processes.

`spawn(n)` starts them (or the first spawn-mode transformation does, with N from the selected
cluster's ``workers``, else the CPU count). Each worker is a fresh interpreter running
:mod:`seamless_transformer.spawn_worker`, fed through pipes; a worker that dies is replaced.
`shutdown()` (also run at exit) closes the pipes and waits for the workers to exit.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import subprocess
import sys
import threading

from seamless import Buffer, Checksum
from seamless.errors import SeamlessError

from .code import CodeLocation
from .errors import TransformationError
from .pipe_protocol import read_frame, write_frame
from .transformation_dict import TransformationSpec

logger = logging.getLogger(__name__)

STOP_TIMEOUT = 10.0


class WorkerDied(SeamlessError):
    pass


class _Worker:
    """One worker process and its two pipes."""

    def __init__(self) -> None:
        req_r, req_w = os.pipe()
        rep_r, rep_w = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "seamless_transformer.spawn_worker", str(req_r), str(rep_w)],
                pass_fds=(req_r, rep_w),
                stdin=subprocess.DEVNULL,
            )
        except BaseException:
            for fd in (req_r, req_w, rep_r, rep_w):
                os.close(fd)
            raise
        os.close(req_r)
        os.close(rep_w)
        self._requests = os.fdopen(req_w, "wb")
        self._replies = os.fdopen(rep_r, "rb")

    @property
    def pid(self) -> int:
        return self.process.pid

    def call(self, request: tuple) -> tuple:
        try:
            write_frame(self._requests, request)
            return read_frame(self._replies)
        except (EOFError, BrokenPipeError, OSError) as exc:
            code = self.process.poll()
            raise WorkerDied(f"worker process {self.pid} exited (code {code}): {exc}") from None

    def close(self) -> None:
        for stream in (self._requests, self._replies):
            try:
                stream.close()
            except OSError:
                pass
        try:
            self.process.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            logger.warning("Spawn worker %d did not exit in %.0f s; killing it", self.pid, STOP_TIMEOUT)
            self.process.kill()
            self.process.wait()


class _Pool:
    def __init__(self, size: int) -> None:
        self.size = size
        self._workers: list[_Worker] = []
        self._idle: queue.Queue[_Worker | None] = queue.Queue()
        try:
            for _ in range(size):
                self._add_worker()
        except BaseException:
            self.close()
            raise

    def _add_worker(self) -> None:
        worker = _Worker()
        self._workers.append(worker)
        self._idle.put(worker)

    def pids(self) -> list[int]:
        return [w.pid for w in self._workers]

    def run(self, request: tuple) -> tuple:
        worker = self._idle.get()
        if worker is None:  # the pool was closed while we waited
            self._idle.put(None)
            raise WorkerDied("the spawn pool was shut down")
        try:
            reply = worker.call(request)
        except WorkerDied:
            worker.close()
            if worker in self._workers:
                self._workers.remove(worker)
                self._add_worker()
            raise
        self._idle.put(worker)
        return reply

    def close(self) -> None:
        workers, self._workers = self._workers, []
        self._idle.put(None)  # wakes up callers waiting for a worker
        for worker in workers:
            worker.close()


_pool: _Pool | None = None
_lock = threading.Lock()
_atexit_registered = False


def spawn(n: int | None = None) -> None:
    """Start a pool of `n` worker processes (replacing a running pool of another size).

    Without `n` (or None): the selected cluster's ``workers``, else the CPU count.
    """
    global _pool, _atexit_registered
    if n is None:
        n = _default_size()
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"spawn(n): n must be a positive int (number of workers), not {n!r}")
    with _lock:
        if _pool is not None and _pool.size == n:
            return
        old, _pool = _pool, None
        if old is not None:
            old.close()
        _pool = _Pool(n)
        if not _atexit_registered:
            atexit.register(shutdown)
            _atexit_registered = True
    logger.info("Started %d Seamless spawn worker process(es)", n)


def shutdown() -> None:
    """Stop the worker processes (idle ones exit at once; waits up to 10 s per worker)."""
    global _pool
    with _lock:
        pool, _pool = _pool, None
    if pool is not None:
        pool.close()


def worker_pids() -> list[int]:
    """PIDs of the running pool's workers (empty if no pool)."""
    pool = _pool
    return pool.pids() if pool is not None else []


def _default_size() -> int:
    from .execution import cluster_workers

    workers = cluster_workers()
    if workers:
        return workers
    count = os.cpu_count() or 1
    logger.info(
        "execution: spawn without spawn(n) or a cluster 'workers' value: using %d workers "
        "(CPU count)", count
    )
    return count


def run_spawned(
    spec: TransformationSpec, checksum: Checksum, get_buffer, location: CodeLocation | None
) -> Buffer:
    """Run a transformation on a pool worker (starting the pool if needed)."""
    pool = _pool
    if pool is None:
        spawn()
        pool = _pool
        assert pool is not None  # spawn() started it
    buffers = {cs.hex(): get_buffer(cs).content for cs in spec.checksums()}
    loc = (location.filename, location.lineno) if location else None
    try:
        ok, payload, tb = pool.run((spec.to_dict(), buffers, loc, checksum.hex()))
    except WorkerDied as exc:
        raise TransformationError(
            f"The spawn worker running transformation {checksum.hex()} died or was stopped "
            f"({exc}); a dead worker is replaced, a shut-down pool restarts on next use",
            checksum=checksum.hex(),
        ) from None
    if not ok:
        raise TransformationError(str(payload), traceback=tb, checksum=checksum.hex())
    return Buffer(payload)
