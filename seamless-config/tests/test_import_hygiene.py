"""`import seamless_config` loads no other Seamless package and no third-party package."""

from __future__ import annotations

import json
import subprocess
import sys

FORBIDDEN = ("seamless", "seamless_service", "seamless_remote", "seamless_transformer", "seamless_dask", "yaml", "dask", "distributed", "remote_http_launcher")


def test_import_loads_nothing_heavy():
    code = (
        "import sys, json; before = set(sys.modules); import seamless_config; "
        "print(json.dumps(sorted(set(sys.modules) - before)))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    loaded = json.loads(out.stdout)
    top = {m.split(".")[0] for m in loaded}
    assert not top & set(FORBIDDEN), sorted(top & set(FORBIDDEN))
    assert loaded == ["seamless_config"], loaded  # everything else is imported when needed
    assert out.stderr == ""


def test_loading_a_profile_imports_only_yaml():
    code = (
        "import sys, json, tempfile, pathlib; d = tempfile.mkdtemp(); "
        "pathlib.Path(d, 'seamless.yaml').write_text('- cluster: local\\n- execution: process\\n- persistent: false\\n'); "
        "import seamless_config; seamless_config.set_stage(workdir=d); "
        "print(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    top = set(json.loads(out.stdout))
    assert "yaml" in top
    assert not top & {"seamless", "seamless_remote", "seamless_transformer", "seamless_dask", "distributed", "dask"}


def test_public_names_load_on_first_use():
    code = (
        "import sys, seamless_config; assert 'seamless_config.lifecycle' not in sys.modules; "
        "ns = {}; exec('from seamless_config import *', ns); "
        "from seamless_config import lifecycle; "
        "assert ns['set_stage'] is lifecycle.set_stage is seamless_config.set_stage; "
        "assert set(seamless_config.__all__) <= set(dir(seamless_config)); "
        "print(sorted(n for n in ns if not n.startswith('__')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == str(sorted(["ConfigurationError", "get_dask_client", "get_workdir", "init", "set_stage", "set_substage", "set_workdir"]))


def test_unknown_attribute_is_an_attribute_error():
    import seamless_config
    import pytest

    with pytest.raises(AttributeError, match="no attribute 'frobnicate'"):
        _ = seamless_config.frobnicate
