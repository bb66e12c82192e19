"""Persistent mode: launch (or reconnect to) the services of the current project/stage and plug
their clients into seamless_transformer.

The ``persistent`` activator of ``seamless_config.set_stage()`` (entry-point group
``seamless.activators``): ``activate(mode=, cluster=)`` launches the services that
``seamless_config.plan.MODE_SERVICES`` lists for the mode:

* always: the read-write hashserver and database of the project/stage (``configure_hashserver``,
  ``configure_database`` + ``seamless_config.launching.launch``), whose clients become buffer
  and result stores of seamless_transformer;
* ``jobserver`` (mode ``remote-jobserver``): the jobserver, told (file parameters) to use that
  hashserver and database, and a `JobserverBackend` registered as the remote backend;
* ``daskserver`` (mode ``remote-daskserver``): the Seamless Dask server and the transformation
  backend that seamless-dask registers in the entry-point group :data:`BACKENDS`
  (``DaskTransformationBackend``) over a Dask client.

``deactivate()`` unregisters and closes all of it; the servers stay up until their idle timeout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Mapping

from .errors import RemoteError

if TYPE_CHECKING:  # the clients are imported while the services start
    from .database_client import DatabaseClient
    from .hashserver_client import HashserverClient

logger = logging.getLogger(__name__)

#: Entry-point group of remote transformation backends, by service name (``daskserver``).
BACKENDS = "seamless.remote_backends"
DASKSERVER = "Seamless Dask server"
_ANY_ADDRESS = ("0.0.0.0", "::", "")


@dataclass
class ActiveServices:
    """What `activate` set up: the clients, the stores and backend it registered, their URLs."""

    cluster: str
    #: the client credentials of the hashserver's host (None: the cluster opted out of TLS)
    creds: Any
    hashserver: HashserverClient
    database: DatabaseClient
    urls: dict[str, str] = field(default_factory=dict)
    backend: Any = None
    closers: list[Callable[[], Any]] = field(default_factory=list)


class PersistentActivator:
    """The persistent activation of a stage: what :meth:`activate` set up (:attr:`active`)."""

    def __init__(self) -> None:
        self.active: ActiveServices | None = None

    def activate(self, *, mode: str, cluster: str | None) -> ActiveServices:
        """Launch/reconnect the services of ``mode`` (``describe_mode()``) and register their clients.

        Raises ``ConfigurationError`` when the Dask backend is missing and
        ``seamless_config.launching.LaunchError`` (with the server's log tail) when a service does
        not start. On any failure, nothing stays registered.
        """
        self.deactivate()
        assert cluster is not None, "persistent modes have a cluster"
        self.active = _start(mode, cluster)
        return self.active

    def deactivate(self) -> None:
        """Unregister the backend and stores of the current activation and close their clients.

        Results still being stored in the background are written first (a failure among them is
        raised by the next transformation, as any other)."""
        active, self.active = self.active, None
        if active is not None:
            from seamless_transformer import get_write_behind

            get_write_behind().drain()
            _close(active)


_default = PersistentActivator()


def activate(*, mode: str, cluster: str | None) -> ActiveServices:
    """:meth:`PersistentActivator.activate` of the default activation (``set_stage()``'s)."""
    return _default.activate(mode=mode, cluster=cluster)


def deactivate() -> None:
    """:meth:`PersistentActivator.deactivate` of the default activation."""
    _default.deactivate()


def get_active() -> ActiveServices | None:
    """The services of the current persistent activation, or None."""
    return _default.active


def url_here(payload: Mapping[str, Any], scheme: str = "https") -> str:
    """The URL of a launched service as seen from this process (through a tunnel if any)."""
    return f"{scheme}://{payload['hostname']}:{payload['port']}"


def url_on_frontend(config: Mapping[str, Any], payload: Mapping[str, Any], scheme: str = "https") -> str:
    """The URL of a launched service as seen from another service on its host (no tunnel)."""
    interface = config.get("network_interface") or "127.0.0.1"
    host = interface
    if interface in _ANY_ADDRESS:
        host = config.get("hostname") or "127.0.0.1"
    port = payload.get("tunneled-port", payload["port"])
    return f"{scheme}://{host}:{port}"


def _configuration_error(message: str, *, setting: str | None = None) -> Exception:
    from seamless_config.errors import ConfigurationError

    return ConfigurationError(message, setting=setting)


def _launch(config: dict[str, Any], what: str) -> dict[str, Any]:
    from seamless_config.launching import launch

    return launch(config, what=what)


def _launch_all(launches: list[tuple[dict[str, Any], str]], *, meanwhile: Any = None,
                then: Any = None) -> list[dict[str, Any]]:
    """Launch the services side by side (``seamless_config.parallel_launch``); payloads in order."""
    from seamless_config.parallel_launch import launch_all

    return launch_all(launches, meanwhile=meanwhile, then=then)


def _check_reachable(client: Any, config: Mapping[str, Any]) -> None:
    if not client.healthcheck():
        raise RemoteError(
            f"The {client.service} '{config['key']}' was launched but does not answer at {client.url}/healthcheck"
        )


def _import_clients(dask_backend: Any) -> None:
    """Import the service clients' libraries (and Dask's and the Dask backend's, given its entry
    point ``dask_backend``)."""
    from . import database_client, hashserver_client  # noqa: F401

    if dask_backend is not None:
        from seamless_config.client_credentials import import_dask_client

        import_dask_client()
        try:
            dask_backend.load()
        except ImportError:
            pass  # reported by _dask_backend_class, after the launches


def _start(mode: str, cluster: str) -> ActiveServices:
    """Launch the services of ``mode`` (``plan.MODE_SERVICES``); their clients, registered."""
    from seamless_config.plan import MODE_SERVICES

    services = MODE_SERVICES[mode]
    remote = next((s for s in services if s in ("jobserver", "daskserver")), None)
    dask_backend = _dask_backend_entry(cluster) if remote == "daskserver" else None
    from seamless_config.tools import configure_daskserver, configure_database, configure_hashserver

    from seamless_config import client_credentials

    hs_config = configure_hashserver("rw")
    db_config = configure_database("rw")
    creds = client_credentials.for_launch(hs_config)  # the same frontend serves all of them
    scheme = client_credentials.scheme(creds, "http")
    tls = (creds, "client") if creds is not None else None
    launches = [(hs_config, "hashserver"), (db_config, "database")]
    if dask_backend is not None:  # independent of the other two: launched side by side with them
        dask_config = configure_daskserver()
        launches.append((dask_config, DASKSERVER))
        dask_creds = client_credentials.for_launch(dask_config)
    clients: dict[str, Any] = {}

    def connect_hashserver(payload: Mapping[str, Any]) -> None:
        from .hashserver_client import HashserverClient

        clients["hashserver"] = client = HashserverClient(url_here(payload, scheme), tls=tls)
        _check_reachable(client, hs_config)

    def connect_database(payload: Mapping[str, Any]) -> None:
        from .database_client import DatabaseClient

        clients["database"] = client = DatabaseClient(url_here(payload, scheme), tls=tls)
        client.check_protocol()

    # the client libraries (Dask's ~0.3-0.8 s; the HTTP clients, a few ms) load while the services
    # start, and each store's client connects as soon as its service is up, while slower ones still start
    try:
        payloads = _launch_all(launches, meanwhile=lambda: _import_clients(dask_backend),
                               then=[connect_hashserver, connect_database, None][: len(launches)])
    except BaseException:
        for client in clients.values():
            client.close()
        raise
    hs_payload, db_payload = payloads[:2]
    active = ActiveServices(cluster, creds, clients["hashserver"], clients["database"])
    active.closers += [active.hashserver.close, active.database.close]
    try:
        active.urls.update(hashserver=active.hashserver.url, database=active.database.url)
        if remote == "jobserver":
            _activate_jobserver(
                active, url_on_frontend(hs_config, hs_payload, scheme), url_on_frontend(db_config, db_payload, scheme)
            )
        elif dask_backend is not None:
            _activate_daskserver(active, _dask_backend_class(cluster, dask_backend),
                                 dask_payload=payloads[2], creds=dask_creds)
        _register(active)
    except BaseException:
        _close(active)
        raise
    logger.info(
        "Persistent mode for cluster '%s': hashserver %s, database %s%s",
        cluster, active.urls["hashserver"], active.urls["database"],
        f", {remote} {active.urls[remote]}" if remote in active.urls else "",
    )
    return active


def _activate_jobserver(active: ActiveServices, hashserver_url: str, database_url: str) -> None:
    from seamless_config.tools import configure_jobserver

    from .jobserver_backend import JobserverBackend
    from .jobserver_client import JobserverClient

    from seamless_config.client_credentials import for_launch, scheme

    from .remote_clients import remote_clients_parameters

    config = configure_jobserver(file_parameters=remote_clients_parameters(hashserver_url, database_url))
    creds = for_launch(config)  # its frontend's credentials (on a shared home: the same CA)
    payload = _launch(config, "jobserver")
    tls = (creds, "client") if creds is not None else None
    client = JobserverClient(url_here(payload, scheme(creds, "http")), tls=tls)
    active.closers.append(client.close)
    _check_reachable(client, config)
    active.urls["jobserver"] = client.url
    active.backend = JobserverBackend(client, active.hashserver, active.database)


def _dask_backend_entry(cluster: str) -> Any:
    """The entry point of the ``daskserver`` backend (``DaskTransformationBackend``), checked
    before anything is launched: registered, and its module there. It is imported while the
    services start (~50 ms that the launches need not wait for)."""
    import importlib.util
    from importlib.metadata import entry_points

    problem = "no installed package registers it"
    for entry_point in entry_points(group=BACKENDS, name="daskserver"):
        try:
            if importlib.util.find_spec(entry_point.module) is not None:
                return entry_point
            problem = f"No module named {entry_point.module!r}"
        except (ImportError, ValueError) as exc:
            problem = str(exc)
    raise _dask_backend_missing(cluster, problem)


def _dask_backend_class(cluster: str, entry_point: Any) -> type:
    """The backend class of :func:`_dask_backend_entry` (imported already, unless it fails)."""
    try:
        return entry_point.load()
    except ImportError as exc:
        raise _dask_backend_missing(cluster, str(exc)) from None


def _dask_backend_missing(cluster: str, problem: str) -> Exception:
    return _configuration_error(
        f"Cluster '{cluster}' selects 'remote: daskserver' in persistent mode, which needs "
        f"seamless_dask.backend.transformation_backend.DaskTransformationBackend, not available here ({problem}). "
        "Install seamless-dask with its transformation backend, or use 'remote: jobserver' / "
        "'execution: process'",
        setting="remote",
    )


def _activate_daskserver(active: ActiveServices, backend_class: type, *, dask_payload: Mapping[str, Any], creds: Any) -> None:
    """Connect the Dask backend to the (already launched) Seamless Dask server."""
    from seamless_config.client_credentials import connect_dask, scheme

    address = f"{scheme(creds, 'dask')}://{dask_payload['hostname']}:{dask_payload['port']}"
    client = connect_dask(address, creds, set_as_default=False)
    active.closers.append(client.close)
    active.urls["daskserver"] = address
    active.backend = backend_class(client)
    closer = getattr(active.backend, "close", None)
    if callable(closer):
        active.closers.append(closer)  # closers run last-in first-out: the backend before its client


def _register(active: ActiveServices) -> None:
    import seamless_transformer as st

    st.add_store(active.hashserver)
    st.add_store(active.database)
    if active.backend is not None:
        st.register_backend(active.backend)


def _close(active: ActiveServices) -> None:
    import seamless_transformer as st

    if active.backend is not None and st.get_backend() is active.backend:
        st.register_backend(None)
    st.remove_store(active.hashserver)
    st.remove_store(active.database)
    for closer in reversed(active.closers):
        try:
            closer()
        except Exception as exc:  # closing is best effort: the servers stay up anyway
            logger.debug("Closing %r failed: %r", closer, exc)
