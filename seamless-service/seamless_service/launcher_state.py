"""Where remote-http-launcher 0.4.5 keeps its state, as its library computes it.

``REMOTE_HTTP_LAUNCHER_DIR`` set: the library keeps both the client records and the server
records (status files, logs) directly in that directory; unset: ``~/.remote-http-launcher/client``
and ``~/.remote-http-launcher/server``. (Its ``rhl-*`` helpers use ``$DIR/client`` and
``$DIR/server`` instead, a discrepancy of 0.4.5; the launcher's own files are what we read.)
``seamless_config.rhl_adapter`` pins this against the library. Stdlib only.
"""

from __future__ import annotations

import os
from pathlib import Path

#: The environment variable that moves remote-http-launcher's state.
DIR_VARIABLE = "REMOTE_HTTP_LAUNCHER_DIR"
_DEFAULT_DIRNAME = ".remote-http-launcher"


def launcher_root() -> Path:
    """The directory that holds all of remote-http-launcher's state (made private at launch)."""
    base = os.environ.get(DIR_VARIABLE)
    return Path(base).expanduser() if base else Path.home() / _DEFAULT_DIRNAME


def _state_dir(kind: str) -> Path:
    return launcher_root() if os.environ.get(DIR_VARIABLE) else launcher_root() / kind


def server_dir() -> Path:
    """Where the launcher keeps a service's status file ``<key>.json`` and log ``<key>.log``."""
    return _state_dir("server")


def client_dir() -> Path:
    """Where the launcher keeps its client record ``<key>.json`` (host, ports, tunnel)."""
    return _state_dir("client")
