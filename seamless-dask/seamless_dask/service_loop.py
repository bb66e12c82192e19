"""Keep the cluster alive while it is used; return once it has been idle for ``timeout`` s.

Every :data:`POLL_SECONDS` the loop takes a snapshot of the in-process scheduler (on the
cluster's event loop): connected clients, tasks not yet released, workers, and the jobs the
cluster wants. Activity is a connected client or any task that is not released/forgotten
(processing, queued, waiting, no-worker or held in memory). Job events from the
:class:`~.job_watch.JobWatcher` are logged and published as Dask events.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any, Callable

from seamless_service.wrapper_events import WRAPPER_EVENT_TOPIC

from .job_watch import JobWatcher, describe

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
#: batch-system queries (squeue...) run less often, to spare the batch controller
JOB_POLL_SECONDS = 3.0
#: the scheduler's built-in pseudo-client of fire_and_forget futures
PSEUDO_CLIENTS = frozenset({"fire-and-forget"})
IDLE_TASK_STATES = frozenset({"released", "forgotten"})


@dataclass(frozen=True)
class Snapshot:
    clients: int
    active_tasks: int
    worker_names: frozenset[str]
    #: job id -> worker name, for the jobs the cluster currently wants
    planned_jobs: dict[str, str]

    @property
    def active(self) -> bool:
        return self.clients > 0 or self.active_tasks > 0


def take_snapshot(cluster: Any) -> Snapshot:
    """Read the scheduler and job state on the cluster's own event loop."""
    from distributed.utils import sync

    async def read() -> Snapshot:
        scheduler = cluster.scheduler
        planned = {
            str(job.job_id): str(name)
            for name, job in list(getattr(cluster, "workers", {}).items())
            if name in getattr(cluster, "worker_spec", {}) and getattr(job, "job_id", None)
        }
        return Snapshot(
            clients=sum(1 for c in scheduler.clients if c not in PSEUDO_CLIENTS),
            # per task group counts: a few groups, not every task, once a second on this loop
            active_tasks=sum(
                n for tg in scheduler.task_groups.values()
                for state, n in tg.states.items() if state not in IDLE_TASK_STATES
            ),
            worker_names=frozenset(str(ws.name) for ws in scheduler.workers.values()),
            planned_jobs=planned,
        )

    return sync(cluster.loop, read)


def publish(cluster: Any, event: dict[str, Any]) -> None:
    """Log a job event on the scheduler under :data:`WRAPPER_EVENT_TOPIC` (clients can subscribe)."""
    from distributed.utils import sync

    async def log_event() -> None:
        cluster.scheduler.log_event(WRAPPER_EVENT_TOPIC, event)

    sync(cluster.loop, log_event)


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
