"""Importing and using seamless_transformer loads no Dask, distributed, seamless_remote, and the
pure-Dask guard never imports seamless_config's launcher."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

FORBIDDEN = (
    "dask",
    "distributed",
    "seamless_remote",
    "seamless_dask",
    "remote_http_launcher",
    "seamless_config.pure_daskserver",
    "seamless_config.launching",
)

SCRIPT = """
import json, sys
import seamless_transformer
after_import = sorted(sys.modules)
from seamless_transformer import direct, delayed, get_execution

@direct
def inc(x):
    return x + 1

@delayed
def double(x):
    return 2 * x

assert get_execution() == "process", get_execution()   # seamless_config's default
assert inc(1) == 2 and double(double(3)).run() == 12
print(json.dumps([after_import, sorted(sys.modules)]))
"""


def _loaded(tmp_path) -> tuple[set[str], set[str]]:
    script = tmp_path / "hygiene.py"
    script.write_text(textwrap.dedent(SCRIPT))
    out = subprocess.run(
        [sys.executable, str(script)], capture_output=True, text=True, cwd=tmp_path
    )
    assert out.returncode == 0, out.stderr
    after_import, after_use = json.loads(out.stdout)
    return set(after_import), set(after_use)


def _forbidden(modules: set[str]) -> set[str]:
    return {m for m in modules if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)}


def test_import_and_use_stay_light(tmp_path, isolated_home):
    after_import, after_use = _loaded(tmp_path)
    assert "seamless_transformer" in after_import
    assert not _forbidden(after_import)
    assert not _forbidden(after_use)
    assert "seamless_config" not in after_import  # consulted only when a transformation runs
