"""Every module of seamless_service imports only the standard library when it is imported: the
wrapper, seamless_config's launcher and the services all stand on it."""

from __future__ import annotations

import json
import pkgutil
import subprocess
import sys

import seamless_service


def test_service_is_stdlib_only():
    names = sorted(f"seamless_service.{m.name}" for m in pkgutil.iter_modules(seamless_service.__path__))
    code = (
        "import sys, json, importlib; before = set(sys.modules); "
        f"[importlib.import_module(n) for n in {names!r}]; "
        "print(json.dumps(sorted({m.split('.')[0] for m in set(sys.modules) - before})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert set(json.loads(out.stdout)) - set(sys.stdlib_module_names) == {"seamless_service"}
