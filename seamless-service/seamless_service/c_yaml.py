"""Import a module with PyYAML's C loader behind ``yaml.safe_load``.

``import distributed`` parses its default configuration (``distributed.yaml``, 15 KB) with
``yaml.safe_load``, PyYAML's pure-Python loader: ~35-60 ms of every process that imports it (the
scheduler's, the client's), against ~5 ms for libyaml's ``CSafeLoader`` on the same text, which
builds the same objects. :func:`import_module` swaps the C loader in for the import only.
Without PyYAML or libyaml it is a plain import.
"""

from __future__ import annotations

import contextlib
import importlib
import threading
from types import ModuleType
from typing import Any, Iterator


class _Swap:
    """``yaml.safe_load`` replaced while at least one caller is inside; the replacement uses the C
    loader for the threads inside only (nesting included), PyYAML's own function for any other
    thread. No lock is held while callers are inside: concurrent imports do not wait."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.inside: dict[int, int] = {}  # thread ident -> depth
        self.original: Any = None

    def enter(self, yaml: Any, loader: Any) -> None:
        with self.lock:
            if not self.inside:
                original = self.original = yaml.safe_load
                inside = self.inside

                def safe_load(stream: Any) -> Any:
                    if threading.get_ident() in inside:
                        return yaml.load(stream, Loader=loader)
                    return original(stream)

                yaml.safe_load = safe_load
            ident = threading.get_ident()
            self.inside[ident] = self.inside.get(ident, 0) + 1

    def leave(self, yaml: Any) -> None:
        with self.lock:
            ident = threading.get_ident()
            self.inside[ident] -= 1
            if not self.inside[ident]:
                del self.inside[ident]
            if not self.inside:
                yaml.safe_load, self.original = self.original, None


_swap = _Swap()


@contextlib.contextmanager
def c_safe_load() -> Iterator[None]:
    """``yaml.safe_load`` uses ``yaml.CSafeLoader`` for the duration (when libyaml is there)."""
    try:
        import yaml
    except ImportError:
        yield
        return
    loader = getattr(yaml, "CSafeLoader", None)
    if loader is None:
        yield
        return
    _swap.enter(yaml, loader)
    try:
        yield
    finally:
        _swap.leave(yaml)


def import_module(name: str) -> ModuleType:
    """``importlib.import_module(name)``, its YAML files parsed by the C loader (see above)."""
    import sys

    module = sys.modules.get(name)
    if module is not None:
        return module
    with c_safe_load():
        return importlib.import_module(name)
