"""Seamless configuration: the command language, cluster definitions and service launching.

``set_stage()`` / ``init()`` read ``seamless.yaml`` / ``seamless.profile.yaml``, decide the mode
and launch what it needs; in pure Dask mode they return a plain ``distributed.Client``.
Importing this package is cheap: it imports no third-party and no other Seamless package, and
the lifecycle functions are loaded on first use (PEP 562).
"""

from importlib import import_module

_LAZY = {
    name: "lifecycle"
    for name in ("get_dask_client", "get_workdir", "init", "set_stage", "set_substage", "set_workdir")
}
# its root, SeamlessError, lives in seamless-service: loaded when the name is first used
_LAZY["ConfigurationError"] = "errors"

__all__ = ["ConfigurationError", *sorted(_LAZY)]


def __getattr__(name: str) -> object:
    if name not in _LAZY:
        raise AttributeError(f"module 'seamless_config' has no attribute {name!r}")
    value = getattr(import_module(f".{_LAZY[name]}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
