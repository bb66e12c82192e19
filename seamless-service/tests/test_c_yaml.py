"""seamless_service.c_yaml: distributed imported with libyaml's loader has the very configuration
of a plain import, and PyYAML's own ``safe_load`` is back afterwards."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import yaml

from seamless_service import c_yaml

CONFIG = """
import json, sys
from seamless_service import c_yaml
import yaml
original = yaml.safe_load
if sys.argv[1] == "c":
    c_yaml.import_module("distributed")
else:
    import distributed
import dask.config
assert yaml.safe_load is original
print(json.dumps(dask.config.config, sort_keys=True, default=repr))
"""


def test_distributed_gets_the_same_configuration():
    configs = [subprocess.run([sys.executable, "-c", CONFIG, how], capture_output=True, text=True, check=True,
                              timeout=120).stdout for how in ("c", "plain")]
    assert configs[0] == configs[1] and "distributed" in json.loads(configs[0])


def test_safe_load_is_the_c_loader_only_inside_and_restored_after_an_error():
    if not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML without libyaml: c_yaml imports as usual")
    original = yaml.safe_load
    with pytest.raises(ZeroDivisionError):
        with c_yaml.c_safe_load():
            assert yaml.safe_load is not original
            with c_yaml.c_safe_load():  # nested (an import inside an import): no deadlock
                assert yaml.safe_load("a: [1, 2]") == {"a": [1, 2]}
            raise ZeroDivisionError("inside")
    assert yaml.safe_load is original
    assert c_yaml.import_module("json") is sys.modules["json"]


def test_concurrent_users_do_not_wait_for_each_other_and_the_last_one_out_restores():
    import threading

    if not hasattr(yaml, "CSafeLoader"):
        pytest.skip("PyYAML without libyaml: c_yaml imports as usual")
    original = yaml.safe_load
    inside, release = threading.Event(), threading.Event()

    def long_import():  # e.g. distributed's, in a thread
        with c_yaml.c_safe_load():
            inside.set()
            release.wait(30)

    thread = threading.Thread(target=long_import)
    thread.start()
    assert inside.wait(30)
    # another thread keeps PyYAML's own loader (and what was registered with SafeLoader)
    yaml.SafeLoader.add_constructor("!seamless-test", lambda loader, node: "constructed")
    try:
        assert yaml.safe_load("a: !seamless-test x") == {"a": "constructed"}
    finally:
        del yaml.SafeLoader.yaml_constructors["!seamless-test"]
    with c_yaml.c_safe_load():  # entered at once, although the other one is still inside
        assert yaml.safe_load is not original
    assert yaml.safe_load is not original  # the other one is still inside
    release.set()
    thread.join(30)
    assert yaml.safe_load is original
