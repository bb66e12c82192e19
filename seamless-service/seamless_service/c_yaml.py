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

_lock = threading.RLock()


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

    def safe_load(stream: Any) -> Any:
        return yaml.load(stream, Loader=loader)

    with _lock:  # one swap at a time: the last one out restores PyYAML's own function
        original, yaml.safe_load = yaml.safe_load, safe_load
        try:
            yield
        finally:
            yaml.safe_load = original


def import_module(name: str) -> ModuleType:
    """``importlib.import_module(name)``, its YAML files parsed by the C loader (see above)."""
    import sys

    module = sys.modules.get(name)
    if module is not None:
        return module
    with c_safe_load():
        return importlib.import_module(name)
