"""``seamless.config`` and ``seamless.transformer``: the public API of packages above
seamless-core, which never imports them by name.

A package that offers a facade registers its module in the entry-point group
:data:`GROUP` (seamless-config: ``config``, seamless-transformer: ``transformer``).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

GROUP = "seamless.facades"


def find(name: str) -> ModuleType | None:
    """The module registered as facade ``name``, imported; None when no package registers it."""
    from importlib.metadata import entry_points

    for entry_point in entry_points(group=GROUP, name=name):
        return entry_point.load()
    return None


def export(namespace: dict[str, Any], name: str) -> bool:
    """Fill ``namespace`` with the public API (``__all__``) of facade ``name``; False without one."""
    module = find(name)
    if module is None:
        return False
    names = list(module.__all__)
    namespace.update({n: getattr(module, n) for n in names})
    namespace["__all__"] = names
    return True
