"""The ``spawn`` activator of ``seamless_config.set_stage()`` (entry-point group
``seamless.activators``): ``execution: spawn`` starts the pool of local worker processes."""

from __future__ import annotations

from .spawn_pool import spawn


def activate(*, mode: str, cluster: str | None) -> None:
    """Start the pool: the selected cluster's ``workers``, else one per core."""
    spawn()


def deactivate() -> None:
    """The pool outlives a stage change (its workers hold no stage state); ``shutdown_workers()``
    stops it."""
