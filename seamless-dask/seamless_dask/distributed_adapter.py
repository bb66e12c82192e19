"""Everything seamless-dask takes from ``distributed`` beyond its public API, in one place.

1. :func:`require_client_certificates_over_https` replaces ``distributed.node.HTTPServer`` by a
   subclass that requires client certificates (distributed serves its dashboard over TLS
   "encryption only"); :func:`protect_dashboard` checks it took effect through
   ``cluster.scheduler.http_server.ssl_options``. Pinned by tests/test_security.py (no port answers
   without a certificate). :func:`dashboard_port` reads ``http_server.port`` (Dask moves the
   dashboard when its port is taken): seamless-dask/tests/test_status_file.py (a lost port race).
2. :func:`take_snapshot` reads the in-process scheduler's state (``clients``, ``task_groups``
   and their ``states``, ``workers``) and the jobs of a ``SpecCluster`` (``workers``,
   ``worker_spec``, ``job_id``) on the cluster's loop (``distributed.utils.sync``); the
   fire-and-forget pseudo-client is named by :data:`PSEUDO_CLIENTS`. Pinned by
   seamless-dask/tests/test_local_end_to_end.py (idle exit, fire-and-forget).
3. :func:`publish` logs an event on the in-process scheduler (``Scheduler.log_event``), which
   clients read with the public ``Client.subscribe_topic`` / ``get_events``. Pinned by
   tests/test_pure_dask.py (worker-job events reach the client).

Stdlib only at import: ``distributed`` is imported when a function runs (after the wrapper
configured Dask).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from seamless_service.wrapper_events import WRAPPER_EVENT_TOPIC

from .errors import WrapperError

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


def require_client_certificates_over_https() -> None:
    """Make every HTTPS server of this process (the scheduler's dashboard) require a client
    certificate signed by the CA, from its first connection on.

    distributed serves the dashboard over TLS from ``distributed.scheduler.dashboard.tls.*``
    but asks for no client certificate ("encryption only"). This adapter of its internals gives
    ``distributed.node`` an ``HTTPServer`` that sets ``CERT_REQUIRED`` on the SSL context it is
    handed, before it listens; :func:`protect_dashboard` checks that it took effect, and
    tests/test_security.py that no port answers without a certificate.
    """
    import ssl

    import distributed.node as node
    from tornado.httpserver import HTTPServer

    if getattr(node.HTTPServer, "requires_client_certificates", False):
        return

    class MutualTLSHTTPServer(HTTPServer):
        requires_client_certificates = True

        def initialize(self, *args: Any, ssl_options: Any = None, **kwargs: Any) -> None:
            if isinstance(ssl_options, ssl.SSLContext):
                ssl_options.verify_mode = ssl.CERT_REQUIRED
            kwargs["ssl_options"] = ssl_options
            super().initialize(*args, **kwargs)

    setattr(node, "HTTPServer", MutualTLSHTTPServer)  # noqa: B010 (a class attribute of a module, replaced)


def protect_dashboard(cluster: Any) -> Any:
    """With TLS, check that the scheduler's dashboard requires client certificates."""
    import ssl

    server = getattr(getattr(cluster, "scheduler", None), "http_server", None)
    context = getattr(server, "ssl_options", None)
    if context is not None and not (isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_REQUIRED):
        cluster.close(timeout=30)
        raise WrapperError("the Dask dashboard does not require client certificates; refusing to run it")
    return cluster


def dashboard_port(cluster: Any) -> int | None:
    """The port the cluster's dashboard really listens on (Dask moves to a random port when the
    one asked for is taken), or None when there is no dashboard."""
    server = getattr(getattr(cluster, "scheduler", None), "http_server", None)
    return getattr(server, "port", None)
