"""The pure-Dask guard: Seamless transformations are refused while pure Dask mode is active.

Pure Dask mode (``execution: remote`` + ``persistent: false``) runs a plain Dask client, without
the hashserver and database that Seamless transformations need. The state lives in
``seamless_config.pure_daskserver``; it is looked up in ``sys.modules`` and never imported, since
importing it would pull in the launcher (and Dask) for every transformation.
"""

from __future__ import annotations

import sys

from .errors import TransformationError

PURE_DASK_MODULE = "seamless_config.pure_daskserver"

PURE_DASK_MESSAGE = (
    "Seamless transformers are unavailable in pure Dask mode (execution: remote with "
    "persistent: false). To use them, set 'persistent: true' for this stage in your "
    "seamless.yaml / seamless.profile.yaml (persistent mode: hashserver, database and the "
    "Seamless Dask client), or keep pure Dask mode and submit plain Dask work through the "
    "client from distributed.get_client()."
)


def pure_dask_active() -> bool:
    """True if seamless_config's pure-Dask launcher is loaded and says it is active."""
    module = sys.modules.get(PURE_DASK_MODULE)
    if module is None:
        return False
    is_active = getattr(module, "is_active", None)
    return bool(is_active()) if callable(is_active) else False


def check_not_pure_dask() -> None:
    """Raise `TransformationError` if pure Dask mode is active."""
    if pure_dask_active():
        raise TransformationError(PURE_DASK_MESSAGE)
