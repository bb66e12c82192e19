"""Importing seamless_remote is cheap: no seamless_config, seamless_transformer, Dask, aiohttp,
requests or urllib3, and not even the clients (their names are imported on first use: set_stage()
loads the clients while the services start)."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import seamless_remote


def test_import_loads_no_client_library():
    code = (
        "import json, sys; import seamless_remote, seamless_remote.activation; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout))
    assert "seamless_remote" in loaded and "urllib3" not in loaded
    assert not loaded & {"seamless_config", "seamless_transformer", "seamless_dask", "dask", "distributed", "aiohttp", "requests"}


def test_every_name_resolves_from_its_module_and_type_checkers_see_the_same_names():
    for name in seamless_remote.__all__:
        value = getattr(seamless_remote, name)
        assert value.__module__ == f"seamless_remote.{seamless_remote._EXPORTS[name]}", name
    tree = ast.parse(Path(seamless_remote.__file__).read_text())
    typed = {alias.asname for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.level == 1
             for alias in node.names}
    assert typed == set(seamless_remote.__all__)
    try:
        seamless_remote.NoSuchName  # noqa: B018
    except AttributeError as exc:
        assert "NoSuchName" in str(exc)
    else:
        raise AssertionError("an unknown name must raise AttributeError")
