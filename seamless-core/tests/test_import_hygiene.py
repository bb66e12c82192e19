"""`import seamless` stays light: no Dask, distributed, seamless_remote (nor numpy)."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("dask", "distributed", "seamless_remote", "seamless_transformer", "numpy")


def _modules_after(statement: str) -> set[str]:
    code = f"{statement}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return {m.split(".")[0] for m in json.loads(out.stdout)}


def test_import_seamless_is_light():
    loaded = _modules_after("import seamless")
    assert "seamless" in loaded
    assert not loaded & set(FORBIDDEN), loaded & set(FORBIDDEN)


def test_seamless_config_facade_reexports_seamless_config():
    code = (
        "import seamless.config as c, seamless_config as s\n"
        "assert list(c.__all__) == list(s.__all__)\n"
        "assert all(getattr(c, n) is getattr(s, n) for n in s.__all__)\n"
        "import sys; print('dask' in sys.modules or 'distributed' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_seamless_transformer_facade():
    code = (
        "import seamless.transformer as t, seamless_transformer as s\n"
        "assert t.delayed is s.delayed and t.direct is s.direct and t.spawn is s.spawn\n"
        "assert t.Transformation is s.Transformation"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr


def test_is_worker_false_in_a_normal_process():
    import seamless

    assert seamless.is_worker() is False
