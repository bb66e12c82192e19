"""Cluster types pbs, sge, lsf and htcondor: each accepts the queue keys of its batch system, and
refuses the keys of the others with the list of valid ones; launch dicts pass them on to the
wrapper under its parameter names."""

from __future__ import annotations

import pytest

from seamless_config import ConfigurationError
from seamless_config.cluster import QUEUE_FIELDS, define_clusters, queue_fields
from seamless_config.tools import configure_pure_daskserver

BASE = {"walltime": "01:00:00", "cores": 2, "memory": "4GB"}
QUEUES = {
    "pbs": {**BASE, "queue": "workq", "project": "p1", "resource_spec": "select=1:ncpus=2:mem=4GB"},
    "sge": {**BASE, "queue": "all.q", "project": "p1", "resource_spec": "h_vmem=4G"},
    "lsf": {**BASE, "queue": "normal", "project": "p1", "ncpus": 2, "mem": "4GB", "use_stdin": True},
    "htcondor": {"cores": 2, "memory": "4GB", "disk": "10GB", "submit_command_extra": ["-name", "sched1"]},
}
#: wrapper parameters each type's launch dict carries besides cores/memory/walltime
EXPECTED = {
    "pbs": {"partition": "workq", "project": "p1", "resource_spec": "select=1:ncpus=2:mem=4GB"},
    "sge": {"partition": "all.q", "project": "p1", "resource_spec": "h_vmem=4G"},
    "lsf": {"partition": "normal", "project": "p1", "ncpus": 2, "mem": "4GB", "use_stdin": True},
    "htcondor": {"disk": "10GB", "submit_command_extra": ["-name", "sched1"]},
}
CLUSTER_STRINGS = {"pbs": "dask_jobqueue::PBSCluster", "sge": "dask_jobqueue::SGECluster",
                   "lsf": "dask_jobqueue::LSFCluster", "htcondor": "dask_jobqueue::HTCondorCluster"}


def cluster(ctype: str, queue: dict) -> dict:
    return {"type": ctype, "frontends": [{"hostname": "login", "daskserver": {}}], "queues": {"q": queue}}


def error(ctype: str, queue: dict) -> str:
    with pytest.raises(ConfigurationError) as info:
        define_clusters({"c": cluster(ctype, queue)})
    return str(info.value)


@pytest.mark.parametrize("ctype", sorted(QUEUES))
def test_each_type_passes_its_keys_to_the_wrapper(ctype):
    define_clusters({"c": cluster(ctype, QUEUES[ctype])})
    launch = configure_pure_daskserver(cluster="c")
    assert launch["cluster_string"] == CLUSTER_STRINGS[ctype]
    params = launch["file_parameters"]
    for name, value in EXPECTED[ctype].items():
        assert params[name] == value, name
    assert params["cores"] == 2 and params["memory"] == "4GB"
    assert ("walltime" in params) is (ctype != "htcondor")


@pytest.mark.parametrize("ctype, key, value", [
    ("slurm", "disk", "10GB"),
    ("slurm", "queue", "short"),          # SLURM calls it partition
    ("sge", "partition", "short"),        # Grid Engine calls it queue
    ("sge", "ncpus", 4),
    ("pbs", "use_stdin", True),
    ("lsf", "resource_spec", "x"),
    ("htcondor", "walltime", "01:00:00"),  # HTCondor jobs have no walltime
    ("htcondor", "queue", "q"),
    ("local", "disk", "1GB"),
])
def test_keys_of_other_systems_are_refused_with_the_valid_ones(ctype, key, value):
    base = QUEUES.get(ctype, {**BASE} if ctype != "local" else {})
    msg = error(ctype, {**{k: v for k, v in base.items() if k != key}, key: value})
    assert f"key '{key}' does not apply to a '{ctype}' cluster (only to: " in msg
    valid = msg.split(f"valid keys for '{ctype}' are: ")[1]
    assert set(valid.split(", ")) == set(queue_fields(ctype))
    assert key not in valid.split(", ")


def test_required_keys_per_type():
    assert "missing required key(s) disk (a 'htcondor' queue needs them)" in error(
        "htcondor", {"cores": 2, "memory": "4GB"})
    assert "missing required key(s) walltime (a 'sge' queue needs them)" in error(
        "sge", {"cores": 2, "memory": "4GB"})
    assert "'mem' must be a memory size" in error("lsf", {**BASE, "mem": "lots"})
    assert "'use_stdin' must be true or false" in error("lsf", {**BASE, "use_stdin": "maybe"})


def test_a_cluster_without_type_accepts_every_key():
    assert set(queue_fields(None)) == set(QUEUE_FIELDS)
    define_clusters({"c": {"frontends": [{"hostname": "h"}], "queues": {"q": {"disk": "1GB", "queue": "x"}}}})


def test_error_names_file_and_line(tmp_path):
    from seamless_config.located_yaml import load_file

    path = tmp_path / "clusters.yaml"
    path.write_text("c:\n  type: sge\n  frontends: [{hostname: h}]\n  queues:\n    q:\n"
                    "      walltime: '01:00:00'\n      cores: 1\n      memory: 1GB\n      partition: x\n")
    with pytest.raises(ConfigurationError) as info:
        define_clusters(load_file(path))
    assert info.value.file == str(path) and info.value.line == 9
