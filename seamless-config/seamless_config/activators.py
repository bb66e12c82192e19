"""Activators: what switches a mode on, found by name in the entry-point group :data:`GROUP`.

seamless-config decides the mode (:func:`.lifecycle.describe_mode`) but never imports the
packages above it: seamless-remote registers ``persistent`` (hashserver, database, jobserver or
Seamless Dask server) and seamless-transformer ``spawn`` (the local worker pool), in their
pyproject under ``[project.entry-points."seamless.activators"]``. Pure Dask is seamless-config's
own (:mod:`.pure_daskserver`). A new mode: a row of :data:`.plan.MODE_ACTIVATORS` and, when its
package sits above seamless-config, an entry point there.

An activator is a module or object with ``activate(*, mode, cluster)`` (``mode`` from
``describe_mode()``, the selected ``cluster``) and ``deactivate()``.
"""

from __future__ import annotations

import functools
import sys
from typing import Any, Protocol

from seamless_service.errors import SeamlessError

GROUP = "seamless.activators"
PURE_DASK = "pure-dask"


class Activator(Protocol):
    def activate(self, *, mode: str, cluster: str | None) -> Any: ...

    def deactivate(self) -> None: ...


class MissingActivator(SeamlessError, LookupError):
    """No installed package provides the activator ``name``; ``installed`` lists those that are."""

    def __init__(self, name: str, installed: list[str]):
        super().__init__(name)
        self.name = name
        self.installed = installed


class _PureDask:
    """seamless-config's own activator: :mod:`.pure_daskserver` (imported when activated)."""

    def activate(self, *, mode: str, cluster: str | None) -> Any:
        from . import pure_daskserver

        return pure_daskserver.activate()

    def deactivate(self) -> None:
        module = sys.modules.get("seamless_config.pure_daskserver")  # never imported just to switch off
        if module is not None:
            module.deactivate()


_BUILT_IN: dict[str, Activator] = {PURE_DASK: _PureDask()}


@functools.cache
def _entry_points() -> tuple[Any, ...]:
    """The installed packages' activators (their metadata is read once per process)."""
    from importlib.metadata import entry_points

    return tuple(entry_points(group=GROUP))


def installed() -> list[str]:
    """The names of every activator this installation provides."""
    return sorted({*_BUILT_IN, *(ep.name for ep in _entry_points())})


def find(name: str) -> Activator:
    """The activator ``name``; :class:`MissingActivator` when no installed package provides it.

    An entry point whose module is missing counts as not installed; an error inside an
    installed module is raised as it is.
    """
    if name in _BUILT_IN:
        return _BUILT_IN[name]
    for entry_point in (ep for ep in _entry_points() if ep.name == name):
        try:
            return entry_point.load()
        except ImportError as exc:
            module = entry_point.value.split(":")[0]
            if exc.name is None or not (module == exc.name or module.startswith(exc.name + ".")):
                raise  # the module is there but one of its own imports is broken: show that
    raise MissingActivator(name, [n for n in installed() if n != name])
