"""Seamless configuration: the command language, cluster definitions and service launching.

``set_stage()`` / ``init()`` read ``seamless.yaml`` / ``seamless.profile.yaml``, decide the mode
and launch what it needs; in pure Dask mode they return a plain ``distributed.Client``.
Importing this package is cheap: it imports no third-party and no other Seamless package.
"""

from .errors import ConfigurationError
from .lifecycle import get_dask_client, get_workdir, init, set_stage, set_substage, set_workdir

__all__ = ["ConfigurationError", "get_dask_client", "get_workdir", "init", "set_stage", "set_substage", "set_workdir"]
