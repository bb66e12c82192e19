"""Pure Dask mode: a Dask scheduler launched for (cluster, queue) and a plain ``distributed.Client``.

``activate()`` builds the launch dict (``tools.configure_pure_daskserver``), has
:mod:`.launching` start ``seamless-dask-wrapper`` through remote-http-launcher (locally, over SSH,
tunnelled) or reconnect to the one running under the same key, and connects a
``distributed.Client`` that becomes the default client. Nothing of Seamless proper (``seamless``,
``seamless_remote``, ``seamless_transformer``, ``seamless_dask``) is imported, and no hashserver
or database is launched.

Top-level imports are stdlib only (and seamless_service, which is): the transformer guard finds this module in ``sys.modules`` and
calls :func:`is_active`.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from seamless_service.wrapper_events import WRAPPER_EVENT_TOPIC as WRAPPER_TOPIC

logger = logging.getLogger(__name__)


def _on_wrapper_event(event: tuple[float, Any]) -> None:
    """Turn an event of seamless-dask-wrapper into a log message."""
    _, msg = event
    kind = msg.get("kind") if isinstance(msg, dict) else None
    if kind == "worker-failed":
        tail = (msg.get("stderr_tail") or "").rstrip()
        reason = msg.get("reason")
        logger.warning(
            "Dask worker job %s failed (%s%s)%s",
            msg.get("job_id"), msg.get("state"), f": {reason}" if reason else "",
            f"; end of its stderr:\n{tail}" if tail else "",
        )
    elif kind == "jobs-pending":
        reasons = msg.get("reasons") or []
        logger.info(
            "Waiting for %s Dask worker job(s) pending in the batch queue (%.0f s so far%s)",
            msg.get("pending"), float(msg.get("waited_seconds") or 0),
            f"; reason: {', '.join(map(str, reasons))}" if reasons else "",
        )
    else:
        logger.info("Dask cluster: %s", msg)


class _EventRelay:
    """Hands each wrapper event to :func:`_on_wrapper_event` once, whether it arrives through
    the subscription or from the scheduler's event log (:meth:`subscribe`)."""

    def __init__(self) -> None:
        self._seen: set[tuple[float, str]] = set()
        self._lock = threading.Lock()

    def __call__(self, event: tuple[float, Any]) -> None:
        mark = (event[0], repr(event[1]))
        with self._lock:
            if mark in self._seen:
                return
            self._seen.add(mark)
        _on_wrapper_event(event)

    def subscribe(self, client: Any, since: float) -> None:
        """Subscribe to the wrapper's topic and replay what it logged since ``since`` (epoch
        seconds): a worker job may fail within a second of the scheduler's start, before a
        subscription could arrive. One request, atomic on the scheduler: nothing is lost between
        the replay and the subscription."""
        client.subscribe_topic(WRAPPER_TOPIC, self)  # our handler; the scheduler side is idempotent
        for event in client.run_on_scheduler(_subscribe_and_read, client_id=client.id, topic=WRAPPER_TOPIC, since=since):
            self(tuple(event))


def _by_value(source: str) -> Any:
    """The function defined by ``source``, in a namespace no other process can import: cloudpickle
    then sends its code (not a reference to this module), so the scheduler runs it without
    importing Seamless, whatever version it runs."""
    namespace: dict[str, Any] = {"__name__": "seamless_config_remote_function"}
    exec(source, namespace)  # noqa: S102 - our own constant source
    return namespace[source.split("(", 1)[0].split()[-1]]


#: On the scheduler, in one step of its event loop: subscribe ``client_id`` to ``topic`` (what
#: ``Client.subscribe_topic`` asks for), then return the events logged since ``since``.
_subscribe_and_read = _by_value(
    "def subscribe_and_read(dask_scheduler, client_id, topic, since):\n"
    "    dask_scheduler.subscribe_topic(topic, client_id)\n"
    "    return [event for event in dask_scheduler.get_events(topic) if event[0] >= since]\n"
)


class PureDask:
    """The pure-Dask connection of a process: the client of the scheduler launched for (cluster,
    queue). The module functions below act on one default instance."""

    def __init__(self) -> None:
        self.client: Any = None

    def activate(self, *, queue: str | None = None):
        """Launch (or reconnect to) the scheduler of the selected cluster and ``queue``; return the client.

        Raises ``ConfigurationError("No cluster defined...")``
        without a selected cluster and :class:`.launching.LaunchError` when the scheduler does not start.
        """
        from . import client_credentials
        from .launching import launch
        from .services_cli import stop_command
        from .tools import configure_pure_daskserver

        config = configure_pure_daskserver(queue=queue)
        self.deactivate()
        creds = client_credentials.for_launch(config)
        launch_started = time.time()
        # importing distributed takes ~0.4 s: let it overlap with the wait for the scheduler, once
        # the launch is done (before, the import would hold the GIL the launch steps need)
        importer = threading.Thread(target=client_credentials.import_dask_client, daemon=True)
        payload = launch(config, what="Dask scheduler", while_starting=importer.start)
        if importer.ident is None:  # reconnected: nothing was waited for
            client_credentials.import_dask_client()
        else:
            importer.join()
        host = payload.get("hostname") or "localhost"
        address = f"{client_credentials.scheme(creds, 'dask')}://{host}:{payload['port']}"
        client = client_credentials.connect_dask(address, creds, set_as_default=True)
        try:
            _EventRelay().subscribe(client, since=launch_started - 1.0)
        except Exception:
            client.close(timeout=2)
            raise
        self.client = client
        logger.info(
            "Dask dashboard: %s://%s:%s/status%s", client_credentials.scheme(creds, "http"), host,
            payload.get("dashboard_port"),
            f" (open it with your client certificate {creds.directory / 'client.pem'}, see README 'Security')" if creds else "",
        )
        logger.info(
            "The Dask scheduler '%s' stays up until it has been idle for %s s; stop it now with: %s",
            config["key"], config.get("timeout"), stop_command(config["key"]),
        )
        return client


    def deactivate(self) -> None:
        """Close the client (the scheduler stays up until its idle timeout)."""
        client, self.client = self.client, None
        if client is None:
            return
        try:
            client.unsubscribe_topic(WRAPPER_TOPIC)
        except Exception:  # already closed or the scheduler is gone: nothing to unsubscribe
            pass
        try:
            client.close(timeout=2)
        except Exception as exc:  # a dead scheduler must not make a stage change fail
            logger.debug("closing the Dask client failed: %r", exc)


    def get_client(self):
        """The pure-Dask client, or None."""
        return self.client


    def is_healthy(self, timeout: float = 10.0) -> bool:
        """True while the client is connected and its scheduler answers (within ``timeout`` s)."""
        client = self.client
        if client is None or client.status != "running":
            return False
        try:
            client.sync(client.scheduler.identity, callback_timeout=timeout)
        except Exception:  # the scheduler died or is unreachable: the caller relaunches
            return False
        return True


    def is_active(self) -> bool:
        """True while a pure-Dask client is active (transformers are refused then)."""
        return self.client is not None


_default = PureDask()


def activate(*, queue: str | None = None) -> Any:
    """:meth:`PureDask.activate` of the default connection."""
    return _default.activate(queue=queue)


def deactivate() -> None:
    _default.deactivate()


def get_client() -> Any:
    """The pure-Dask client, or None."""
    return _default.get_client()


def is_healthy(timeout: float = 10.0) -> bool:
    return _default.is_healthy(timeout)


def is_active() -> bool:
    """True while a pure-Dask client is active (transformers are refused then)."""
    return _default.is_active()
