"""The wrapper computes its configuration before Dask is imported, and pure mode loads no
Seamless package besides the wrapper's own modules."""

from __future__ import annotations

import subprocess
import sys

CHECK = """
import sys
from seamless_dask.wrapper import configure, main
from seamless_dask.configuration import build_configuration
from seamless_dask.parameters import parse_parameters
cfg_modules = set(sys.modules)
bad = sorted(m for m in cfg_modules if m.split('.')[0] in
             ('dask', 'distributed', 'dask_jobqueue', 'seamless', 'seamless_config',
              'seamless_remote', 'seamless_transformer', 'yaml'))
print(bad)
"""


def test_wrapper_modules_import_neither_dask_nor_seamless():
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_package_init_stays_import_free():
    done = subprocess.run(
        [sys.executable, "-c", "import sys, seamless_dask; print(sorted(m for m in sys.modules "
         "if m.startswith(('seamless', 'dask', 'distributed'))))"],
        capture_output=True, text=True, timeout=60,
    )
    assert done.stdout.strip() == "['seamless_dask']", done.stdout + done.stderr
