"""Which execution mode is in force, and dispatch of one transformation to it.

The mode is ``process``, ``spawn`` or ``remote``. It comes from `set_execution()` if that was
called (a Python-level override, e.g. for scripts without seamless.yaml), else from
``seamless_config.select.get_execution()`` (seamless-config is a dependency).
"""

from __future__ import annotations

import logging

from seamless import Buffer, Checksum

from .code import CodeLocation
from .errors import TransformationError
from .execute import execute_spec
from .remote_backend import RemoteJob, require_backend
from .transformation_dict import TransformationSpec

logger = logging.getLogger(__name__)

_override: str | None = None


def set_execution(mode: str | None) -> None:
    """Override the execution mode for this process (None: follow seamless_config again)."""
    global _override
    from seamless_config.select import EXECUTION_MODES  # declared there, loaded when needed

    if mode is not None and mode not in EXECUTION_MODES:
        raise ValueError(
            f"execution must be one of: {', '.join(EXECUTION_MODES)} (or None), not {mode!r}"
        )
    _override = mode


def get_execution() -> str:
    """The execution mode in force (see module docstring)."""
    if _override is not None:
        return _override
    from seamless_config import select  # validated there: one of EXECUTION_MODES

    return select.get_execution()


def cluster_workers() -> int | None:
    """The ``workers`` value of the cluster selected in seamless_config, if any."""
    from seamless_config import cluster, select

    name = select.get_selected_cluster()
    if name is None:
        return None
    return cluster.get_cluster(name).workers


def dispatch(
    spec: TransformationSpec,
    checksum: Checksum,
    get_buffer,
    location: CodeLocation | None,
    *,
    looked_up: bool = False,
) -> Buffer:
    """Compute the result buffer of a transformation (not cached yet) with the mode in force.

    ``looked_up``: every result store was just asked for it, in vain (see `RemoteJob`)."""
    mode = get_execution()
    if mode == "process":
        return execute_spec(spec, get_buffer, location, checksum)
    if mode == "spawn":
        from .spawn_pool import run_spawned

        return run_spawned(spec, checksum, get_buffer, location)
    backend = require_backend()
    outcome = backend.submit(RemoteJob(checksum, spec.to_dict(), get_buffer, location, looked_up))
    if isinstance(outcome, Buffer):
        return outcome
    if isinstance(outcome, (Checksum, str)):
        return get_buffer(Checksum(outcome))
    raise TransformationError(
        f"Remote backend {type(backend).__name__}.submit() returned {type(outcome).__name__}; "
        "it must return the result Buffer or its Checksum"
    )
