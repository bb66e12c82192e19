"""The *remote clients* parameters: which hashservers and databases a worker process should use.

The form, passed to a jobserver in its status file (``parameters``) and usable in JSON::

    {"buffer": [{"url": "http://127.0.0.1:60123"}],
     "database": [{"url": "http://127.0.0.1:60234"}]}

Each entry may carry ``"readonly": true``. Buffers are read from every listed hashserver, in
order, and written to the writable ones; results likewise with the databases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from .database_client import DatabaseClient
from .hashserver_client import HashserverClient
from .http_service import TLS

KINDS = {"buffer": HashserverClient, "database": DatabaseClient}
EXAMPLE = '{"buffer": [{"url": "http://127.0.0.1:60123"}], "database": [{"url": "http://127.0.0.1:60234"}]}'


def remote_clients_parameters(hashserver_url: str, database_url: str) -> dict[str, list[dict[str, Any]]]:
    """The parameters naming one read-write hashserver and one read-write database."""
    return {"buffer": [{"url": hashserver_url}], "database": [{"url": database_url}]}


@dataclass
class RemoteClients:
    """The clients built from remote-clients parameters; ``close()`` closes them all."""

    hashservers: list[HashserverClient] = field(default_factory=list)
    databases: list[DatabaseClient] = field(default_factory=list)
    readonly: set[int] = field(default_factory=set)  # id() of the read-only clients

    def writable(self, clients: list) -> list:
        return [c for c in clients if id(c) not in self.readonly]

    def close(self) -> None:
        for client in (*self.hashservers, *self.databases):
            client.close()


def _invalid(message: str) -> ValueError:
    return ValueError(f"remote clients parameters: {message}; expected e.g. {EXAMPLE}")


def clients_from_parameters(parameters: Mapping[str, Any], *, tls: TLS | None = None) -> RemoteClients:
    """Build the clients named by ``parameters`` (see module docstring); raise ValueError if invalid.

    ``tls`` (credentials, role) is used for the ``https://`` URLs.
    """
    if not isinstance(parameters, Mapping):
        raise _invalid(f"must be a mapping, not {type(parameters).__name__}")
    unknown = set(parameters) - set(KINDS)
    if unknown:
        raise _invalid(f"unknown key(s) {sorted(unknown)}; valid keys: {', '.join(KINDS)}")
    clients = RemoteClients()
    targets: dict[str, list[Any]] = {"buffer": clients.hashservers, "database": clients.databases}
    for kind, client_class in KINDS.items():
        entries = parameters.get(kind, [])
        if not isinstance(entries, list):
            raise _invalid(f"'{kind}' must be a list of {{'url': ...}} entries")
        for i, entry in enumerate(entries):
            if not isinstance(entry, Mapping) or not isinstance(entry.get("url"), str):
                raise _invalid(f"'{kind}' entry {i + 1} needs a 'url' string, got {entry!r}")
            extra = set(entry) - {"url", "readonly"}
            if extra:
                raise _invalid(f"'{kind}' entry {i + 1} has unknown key(s) {sorted(extra)}; valid: url, readonly")
            client = client_class(entry["url"], tls=tls if entry["url"].startswith("https://") else None)
            targets[kind].append(client)
            if entry.get("readonly"):
                clients.readonly.add(id(client))
    return clients
