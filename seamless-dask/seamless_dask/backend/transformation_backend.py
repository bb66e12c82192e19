"""Seamless transformations on a Dask cluster: the remote backend of persistent mode.

`DaskTransformationBackend` implements seamless_transformer's `RemoteBackend` protocol over a
``distributed.Client``. ``seamless_remote.activation`` registers it (``remote: daskserver``) with
``seamless_transformer.register_backend()``; from then on every transformation that is not
cached runs as one Dask task (see :mod:`seamless_dask.backend.transformation_task`):

* its key is ``seamless-transformation-<checksum>``: the scheduler holds one task per key, so
  equal transformations submitted at the same time by several clients (or threads) run once;
* the buffers it names (code and inputs) travel with it: small ones inside the task, large ones
  (over `INLINE_LIMIT` bytes) as tasks of their own keyed by checksum, so an input shared by many
  transformations is sent to the cluster once while it is in use;
* the worker runs it with ``seamless_transformer.execute_transformation`` under its throttle;
* `submit` blocks until the result is there and returns the result `Buffer`; a failure raises
  `TransformationError` carrying the worker's traceback;
* a finished task is released together with the next submission (one batch of the client's
  messages, not two: see :mod:`seamless_dask.backend.spent_futures`).

Recording the result (memory, disk, hashserver + database stores) is left to the caller,
seamless_transformer's ``compute_result``, which also looks the cache up before submitting.
The client may be shared by any number of threads.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
from typing import TYPE_CHECKING, Any, Callable, Coroutine, TypeVar

from seamless import Buffer, Checksum
from seamless_transformer import RemoteJob, TransformationError

from .spent_futures import LINGER, SpentFutures
from .transformation_task import (
    TaskOutcome,
    buffer_content,
    buffer_key,
    run_transformation,
    transformation_key,
)

if TYPE_CHECKING:
    import distributed

logger = logging.getLogger(__name__)

#: Buffers up to this size travel inside the transformation task; larger ones as their own task.
INLINE_LIMIT = 64 * 1024
#: seconds between checks that the client still runs, while waiting for a result
WAIT_STEP = 1.0

T = TypeVar("T")


class DaskTransformationBackend:
    """Run Seamless transformations as Dask tasks on the cluster of ``client``.

    A finished task's futures are released with the next submission, or ``release_after``
    seconds later (see :mod:`seamless_dask.backend.spent_futures`); a failed task's at once.
    The backend does not own the client: closing it is the caller's business.
    """

    def __init__(self, client: "distributed.Client", *, inline_limit: int = INLINE_LIMIT,
                 release_after: float = LINGER):
        submit = getattr(client, "submit", None)
        if not callable(submit):
            raise TypeError(
                f"DaskTransformationBackend needs a distributed.Client, not {type(client).__name__}"
            )
        self.client = client
        self.inline_limit = inline_limit
        self._spent = SpentFutures(release_after)

    def __repr__(self) -> str:
        scheduler = getattr(self.client, "scheduler", None)
        return f"<DaskTransformationBackend {getattr(scheduler, 'address', 'disconnected')}>"

    def _ship_buffers(self, buffers: dict[Checksum, Buffer], futures: list[Any]) -> dict[str, Any]:
        """The buffers argument of the task: bytes, or futures of buffer tasks (added to
        ``futures``, which the caller releases)."""
        shipped: dict[str, Any] = {}
        for checksum, buffer in buffers.items():
            hex_ = checksum.hex()
            if len(buffer) <= self.inline_limit:
                shipped[hex_] = buffer.content
                continue
            future = self.client.submit(buffer_content, buffer.content, key=buffer_key(hex_))
            futures.append(future)
            shipped[hex_] = future
        return shipped

    def submit(self, job: RemoteJob) -> Buffer:
        """Compute ``job`` on the cluster; return the result buffer (blocking)."""
        tf_hex = job.checksum.hex()
        buffers = job.buffers()  # a missing buffer is the caller's problem, not Dask's
        futures: list[Any] = []
        outcome: Any = None

        def submit() -> Any:
            self._spent.release()  # first: the release leaves with this submission
            shipped = self._ship_buffers(buffers, futures)
            future = self.client.submit(
                run_transformation, job.transformation, shipped, job.location,
                key=transformation_key(tf_hex),
            )
            futures.append(future)
            logger.debug("submitted transformation %s to %r", tf_hex, self)
            return future

        async def submit_and_gather() -> Any:
            return await self.client.gather(submit(), asynchronous=True)

        try:
            loop = _loop_elsewhere(self.client)
            if loop is not None:
                outcome = _wait_on_loop(self.client, loop, submit_and_gather)
            else:  # a closed client raises at once; a caller on the loop itself waits as before
                outcome = submit().result()
        except Exception as exc:  # scheduler gone, worker killed, client closed, cancelled...
            raise TransformationError(
                f"Dask could not run transformation {tf_hex}: {type(exc).__name__}: {exc}",
                checksum=tf_hex,
            ) from None
        finally:
            if isinstance(outcome, TaskOutcome) and outcome.error is None:
                self._spent.add(futures)
            else:  # a failed task is not kept: submitted again, it runs again
                for fut in futures:
                    fut.release()
        return _result(outcome, tf_hex)


def _loop_elsewhere(client: "distributed.Client") -> asyncio.AbstractEventLoop | None:
    """The event loop of a running ``client``, unless this thread runs it (or it has none)."""
    loop = getattr(client.loop, "asyncio_loop", None)
    if client.status != "running" or not isinstance(loop, asyncio.AbstractEventLoop):
        return None
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:  # no loop running in this thread
        return loop
    return None if running is loop else loop


def _wait_on_loop(client: "distributed.Client", loop: asyncio.AbstractEventLoop,
                  run: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """Run ``run()`` on ``client``'s event loop and wait here for its outcome: submitting and
    gathering there takes one hand-over between this thread and the loop each way (where
    ``submit()`` then ``result()`` from here take two), and releases and submits in one loop
    callback (see :mod:`seamless_dask.backend.spent_futures`)."""
    done = asyncio.run_coroutine_threadsafe(run(), loop)
    while True:
        try:
            return done.result(timeout=WAIT_STEP)
        except concurrent.futures.TimeoutError:  # TimeoutError itself from Python 3.11 on
            if client.status != "running":  # closed meanwhile: its loop may never finish it
                done.cancel()
                raise RuntimeError(f"The Dask client is {client.status}") from None


def _result(outcome: Any, tf_hex: str) -> Buffer:
    if not isinstance(outcome, TaskOutcome):
        raise TransformationError(
            f"Dask task {transformation_key(tf_hex)} returned {type(outcome).__name__}, not a "
            "TaskOutcome: another client uses the same key for something else",
            checksum=tf_hex,
        )
    if outcome.error is not None:
        where = f" (on Dask worker {outcome.worker})" if outcome.worker else ""
        raise TransformationError(
            outcome.error + where, traceback=outcome.traceback, checksum=tf_hex
        )
    assert outcome.result is not None  # no error: the worker sent the result
    return Buffer(outcome.result)
