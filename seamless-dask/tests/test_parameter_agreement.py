"""seamless_config (cluster files) and seamless-dask-wrapper (status files) accept the same values.

Both sides derive their checks from the one table in seamless_service.queue_parameters; this test
sends the same accepted and rejected examples of every queue parameter through both real paths:
``define_clusters`` on the config side, ``parse_parameters`` on the wrapper side.
"""

from __future__ import annotations

from typing import Any

import pytest

from seamless_config.cluster import define_clusters
from seamless_config.errors import ConfigurationError
from seamless_dask.errors import WrapperError
from seamless_dask.parameters import parse_parameters
from seamless_service.queue_parameters import QUEUE_PARAMETERS

EXAMPLES: dict[str, list[Any]] = {
    "int": [4, "4", 0, -1, True, "four", 2.5, "", [4]],
    "bool": [True, False, "yes", "off", "1", "N", "maybe", 1, 0, ""],
    "duration": ["01:02:03", "02:03", "1-00:00:10", "1-02", "1-02:30", "5-10", "90", "90s", "10m",
                 "1.5h", "2d", "500ms", "10 minutes", 30, 2.5, "500us", "10 parsecs", "1:2:3:4",
                 "soon", "-5", "0s", 0, -3, True, ""],
    "walltime": ["01:00:00", "02:03", "1-00:00:10", "1-02", "100:00:00", "2h", "3600", 3600,
                 "0:00:00", "soon", "1:2:3:4", True],
    "memory": ["4GB", "4gb", "4 GB", "1500MB", "2GiB", "2gib", "512k", "1.5G", "100B", 1024,
               "0GB", 0, -1, "lots", "-1GB", "4XB", True, 4.5, ""],
    "str": ["x", "/scratch/me", "", "  ", 3, ["x"]],
    "word": ["normal", "gpu,normal", "a.b-c", "-A other", "x; touch /tmp/p", "", 3],
    "strlist": [["module load python"], [], "module load python", [1], ("a",)],
    "directives": [["--qos=short"], [], ["#SBATCH --qos=x"], ["a\nb"], "--qos=short", [2]],
    "strmap": [{"distributed.x": "1"}, {}, {"a": 1}, {"a.b": [1]}, ["x"], "a=b"],
    "resources": [{"GPU": 1}, {"S": 0.5}, {}, {"GPU": True}, {"GPU": "1"}, ["S"], 3],
}
BASE = {"walltime": "01:00:00", "cores": 2, "memory": "1GB", "disk": "1GB"}
CASES = [
    (p, value)
    for p in QUEUE_PARAMETERS
    if p.key is not None and p.parameter is not None
    for value in EXAMPLES[p.grammar]
]


def _config_accepts(key: str, ctype: str, value: Any) -> bool:
    queue = {k: v for k, v in BASE.items() if k != "disk" or ctype == "htcondor"}
    if ctype == "htcondor":
        queue.pop("walltime")
    queue[key] = value
    cluster = {"type": ctype, "frontends": [{"hostname": "login"}], "queues": {"q": queue}}
    try:
        define_clusters({"c": cluster})
    except ConfigurationError as exc:
        assert f"'{key}' must be" in str(exc), exc
        return False
    return True


def _wrapper_accepts(parameter: str, value: Any) -> bool:
    try:
        parse_parameters({"cores": 2, parameter: value})
    except WrapperError as exc:
        assert f"Parameter '{parameter}' must" in str(exc), exc
        return False
    return True


def test_every_grammar_has_examples():
    assert {p.grammar for p in QUEUE_PARAMETERS if p.key and p.parameter} <= set(EXAMPLES)


@pytest.mark.parametrize("param, value", CASES, ids=[f"{p.key}={v!r}" for p, v in CASES])
def test_config_and_wrapper_accept_the_same_values(param, value):
    ctype = "slurm" if param.types is None or "slurm" in param.types else param.types[0]
    assert _config_accepts(param.key, ctype, value) == _wrapper_accepts(param.parameter, value)


@pytest.mark.parametrize("value, accepted", [("4gb", True), ("4GB", True), ("lots", False), (0, False)])
def test_memory_4gb_is_treated_alike(value, accepted):
    assert _config_accepts("memory", "slurm", value) is accepted
    assert _wrapper_accepts("memory", value) is accepted


def test_memory_per_core_property_name_alike():
    for value, accepted in [("memcore", True), ("", False), (3, False)]:
        cluster = {"type": "oar", "memory_per_core_property_name": value, "frontends": [{"hostname": "login"}]}
        try:
            define_clusters({"c": cluster})
            config = True
        except ConfigurationError:
            config = False
        assert config is accepted
        assert _wrapper_accepts("memory_per_core_property_name", value) is accepted
