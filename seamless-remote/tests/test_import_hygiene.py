"""Importing seamless_remote is cheap: no seamless_config, seamless_transformer, Dask, aiohttp, requests or urllib3."""

from __future__ import annotations

import json
import subprocess
import sys


def test_import_loads_only_the_clients():
    code = (
        "import json, sys; import seamless_remote; "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    loaded = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout))
    assert "seamless_remote" in loaded
    assert not loaded & {
        "seamless_config", "seamless_transformer", "seamless_dask", "dask", "distributed", "aiohttp", "requests", "urllib3",
    }
