"""Keep the cluster alive while it is used; return once it has been idle for ``timeout`` s.

Every :data:`POLL_SECONDS` the loop takes a snapshot of the in-process scheduler
(:func:`.distributed_adapter.take_snapshot`): connected clients, tasks not yet released,
workers, and the jobs the cluster wants. Activity is a connected client or any task that is not released/forgotten
(processing, queued, waiting, no-worker or held in memory). Job events from the
:class:`~.job_watch.JobWatcher` are logged and published as Dask events.
"""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

from .distributed_adapter import publish, take_snapshot
from .job_watch import JobWatcher, describe

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
#: batch-system queries (squeue...) run less often, to spare the batch controller
JOB_POLL_SECONDS = 3.0
def _tell(on_idle: Callable[[float | None], None], since: float | None) -> None:
    try:
        on_idle(since)
    except OSError as exc:  # e.g. the status file's directory is gone: serving goes on
        logger.debug("could not publish the idle time: %r", exc)


def serve_until_idle(cluster: Any, timeout: float | None, watcher: JobWatcher | None,
                     on_idle: Callable[[float | None], None] | None = None) -> None:
    """Block until no activity has been seen for ``timeout`` seconds (forever if None).

    ``on_idle`` is told, when it changes, since when (epoch seconds) the cluster is idle, or None
    once it is in use again.
    """
    if not hasattr(cluster, "scheduler") or not hasattr(cluster.scheduler, "tasks"):
        raise RuntimeError(
            "the cluster must run its scheduler inside the wrapper (a SpecCluster such as "
            "LocalCluster or a dask_jobqueue cluster)"
        )
    last_activity = time.monotonic()
    last_job_poll = float("-inf")
    idle_logged = False
    published: float | None | bool = False  # the last_activity told to on_idle (None: in use)
    while True:
        snap = take_snapshot(cluster)
        if watcher is not None and time.monotonic() - last_job_poll >= JOB_POLL_SECONDS:
            last_job_poll = time.monotonic()
            for event in watcher.poll(snap.planned_jobs, set(snap.worker_names)):
                level = logging.ERROR if event["kind"] == "worker-failed" else logging.INFO
                logger.log(level, "%s", describe(event))
                publish(cluster, event)
        now = time.monotonic()
        if snap.active:
            last_activity, idle_logged = now, False
        if on_idle is not None and (None if snap.active else last_activity) != published:
            published = None if snap.active else last_activity
            _tell(on_idle, None if published is None else time.time() - (now - last_activity))
        elif timeout is not None:
            if not idle_logged:
                logger.info("idle: no client and no task; exiting in %g s unless that changes", timeout)
                idle_logged = True
            if now - last_activity >= timeout:
                logger.info("idle for %g s: shutting down", timeout)
                return
        time.sleep(POLL_SECONDS)
