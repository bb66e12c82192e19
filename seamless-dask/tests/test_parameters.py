"""Status-file parameters: validation, defaults and error messages (no Dask involved)."""

from __future__ import annotations

import pytest

from seamless_service.grammars import parse_duration
from seamless_dask.errors import WrapperError
from seamless_dask.parameters import PARAMETERS, parse_parameters

BASE = {"walltime": "01:00:00", "cores": 4, "memory": "8GB"}


def test_minimal_parameters_get_the_documented_defaults():
    p = parse_parameters(BASE)
    assert (p.walltime, p.cores, p.memory) == ("01:00:00", 4, "8GB")
    assert p.pure_dask is False and p.interactive is False
    assert p.maximum_jobs == 1
    assert (p.unknown_task_duration, p.target_duration) == ("1m", "10m")
    assert p.worker_threads is None and p.processes is None and p.python is None


def test_only_cores_is_always_required():
    with pytest.raises(WrapperError, match="Missing required parameter 'cores'"):
        parse_parameters({"walltime": "1h", "memory": "1GB"})
    # walltime and memory matter only to job-queue clusters (checked when one is created)
    p = parse_parameters({"cores": 2})
    assert p.walltime is None and p.memory is None


def test_unknown_parameter_lists_the_valid_ones():
    with pytest.raises(WrapperError) as info:
        parse_parameters({**BASE, "core": 3, "wall_time": "1h"})
    message = str(info.value)
    assert "'core'" in message and "'wall_time'" in message
    for param in PARAMETERS:
        assert param.name in message


def test_empty_or_missing_parameters_object():
    with pytest.raises(WrapperError, match="no 'parameters' object"):
        parse_parameters(None)
    with pytest.raises(WrapperError, match="no 'parameters' object"):
        parse_parameters({})


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("cores", "four", "Parameter 'cores' must be an integer"),
        ("cores", 0, "Parameter 'cores' must be positive"),
        ("cores", True, "Parameter 'cores' must be an integer"),
        ("maximum_jobs", -1, "Parameter 'maximum_jobs' must be positive"),
        ("memory", "lots", "Parameter 'memory' must be a memory size"),
        ("walltime", "soon", "Parameter 'walltime' must be a duration"),
        ("lifetime", "0s", "Parameter 'lifetime' must be a positive duration"),
        ("interactive", "maybe", "Parameter 'interactive' must be a boolean"),
        ("dask-resources", ["S"], "Parameter 'dask-resources' must be a mapping"),
        ("extra_dask_config", {"a.b": [1]}, "Parameter 'extra_dask_config' must be a mapping"),
        ("internal-port-range", "40000", "Parameter 'internal-port-range' must be a"),
        ("internal-port-range", [50, 10], "must satisfy 0 < start <= end"),
        ("job_extra_directives", [1, 2], "Parameter 'job_extra_directives' must be a list"),
    ],
)
def test_bad_values_name_the_parameter_and_the_valid_form(name, value, message):
    with pytest.raises(WrapperError, match=message):
        parse_parameters({**BASE, name: value})


@pytest.mark.parametrize("text, expected", [("yes", True), ("ON", True), ("1", True),
                                            ("n", False), ("off", False), ("0", False)])
def test_boolean_strings(text, expected):
    assert parse_parameters({**BASE, "pure_dask": text}).pure_dask is expected


def test_port_range_forms():
    assert parse_parameters({**BASE, "internal-port-range": "40000:40100"}).internal_port_range == (40000, 40100)
    assert parse_parameters({**BASE, "internal-port-range": [1, 2]}).internal_port_range == (1, 2)


def test_throttle_is_refused_in_pure_mode():
    with pytest.raises(WrapperError, match="only to persistent mode"):
        parse_parameters({**BASE, "pure_dask": True, "transformation_throttle": 2})


def test_none_values_count_as_absent():
    assert parse_parameters({**BASE, "partition": None}).partition is None


@pytest.mark.parametrize(
    "text, seconds",
    [("01:02:03", 3723), ("02:03", 123), ("1-00:00:10", 86410), ("1-02", 93600), ("1-02:30", 95400),
     ("90", 90), ("90s", 90),
     ("10m", 600), ("1.5h", 5400), ("2d", 172800), ("500ms", 0.5), (30, 30)],
)
def test_durations(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["10 parsecs", "1:2:3:4", "", True, None])
def test_bad_durations(text):
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration(text)
