"""Clients of the services launched for Seamless's persistent mode, and their activation.

* `HashserverClient`: buffers by checksum (a seamless_transformer buffer store);
* `DatabaseClient`: transformation → result checksums (a result store);
* `JobserverClient`: runs a transformation on a seamless-jobserver;
* :mod:`seamless_remote.activation`: ``activate()`` / ``deactivate()``, called by
  ``seamless_config.set_stage()`` in persistent mode.

Importing the package does not import seamless_config, seamless_transformer or Dask.
"""

import logging

from .database_client import DatabaseClient
from .errors import ChecksumMismatchError, JobFailedError, RemoteError, ServiceUnavailableError
from .hashserver_client import HashserverClient
from .jobserver_client import JobserverClient
from .remote_clients import RemoteClients, clients_from_parameters, remote_clients_parameters

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "ChecksumMismatchError",
    "DatabaseClient",
    "HashserverClient",
    "JobFailedError",
    "JobserverClient",
    "RemoteClients",
    "RemoteError",
    "ServiceUnavailableError",
    "clients_from_parameters",
    "remote_clients_parameters",
]
