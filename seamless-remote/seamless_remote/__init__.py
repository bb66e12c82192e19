"""Clients of the services launched for Seamless's persistent mode, and their activation.

* `HashserverClient`: buffers by checksum (a seamless_transformer buffer store);
* `DatabaseClient`: transformation → result checksums (a result store);
* `JobserverClient`: runs a transformation on a seamless-jobserver;
* :mod:`seamless_remote.activation`: ``activate()`` / ``deactivate()``, called by
  ``seamless_config.set_stage()`` in persistent mode.

Importing the package does not import seamless_config, seamless_transformer or Dask; its names
are imported from their modules on first use.
"""

import importlib
import logging
from typing import TYPE_CHECKING, Any

logging.getLogger(__name__).addHandler(logging.NullHandler())

#: each public name and the module that defines it, imported on first use (set_stage() loads the
#: clients while the services start, not before)
_EXPORTS = {
    "ChecksumMismatchError": "errors",
    "DatabaseClient": "database_client",
    "HashserverClient": "hashserver_client",
    "JobFailedError": "errors",
    "JobserverClient": "jobserver_client",
    "RemoteClients": "remote_clients",
    "RemoteError": "errors",
    "ServiceUnavailableError": "errors",
    "clients_from_parameters": "remote_clients",
    "remote_clients_parameters": "remote_clients",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:  # the same names for type checkers (``X as X``: re-exported)
    from .database_client import DatabaseClient as DatabaseClient
    from .errors import ChecksumMismatchError as ChecksumMismatchError
    from .errors import JobFailedError as JobFailedError
    from .errors import RemoteError as RemoteError
    from .errors import ServiceUnavailableError as ServiceUnavailableError
    from .hashserver_client import HashserverClient as HashserverClient
    from .jobserver_client import JobserverClient as JobserverClient
    from .remote_clients import RemoteClients as RemoteClients
    from .remote_clients import clients_from_parameters as clients_from_parameters
    from .remote_clients import remote_clients_parameters as remote_clients_parameters


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{module}", __name__), name)
