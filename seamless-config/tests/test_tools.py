"""tools.yaml and configure_*: launch dicts as plain data (nothing is launched here)."""

from __future__ import annotations

import itertools
import re

import pytest

from seamless_config import ConfigurationError, select
from seamless_config.cluster import define_clusters
from seamless_config.tools import (
    configure_daskserver,
    configure_database,
    configure_hashserver,
    configure_jobserver,
    configure_pure_daskserver,
    configure_tool,
    get_tools,
)

RHL_KEY = re.compile(r"^[A-Za-z0-9._-]+$")
HPC = {
    "type": "slurm",
    "tunnel": True,
    "workers": 10,
    "frontends": [
        {
            "hostname": "login.hpc.example",
            "ssh_hostname": "hpc",
            "daskserver": {"network_interface": "0.0.0.0", "port_start": 60300, "port_end": 60399, "timeout": 900},
            "hashserver": {"bufferdir": "/buffers", "port_start": 61000, "port_end": 61010},
            "database": {"database_dir": "/db"},
        }
    ],
    "queues": {
        "default": {
            "conda": "my-dask-env",
            "walltime": "02:00:00",
            "cores": 24,
            "memory": "96000MB",
            "unknown-task-duration": "1m",
            "target-duration": "10m",
            "lifetime-stagger": "4m",
            "maximum_jobs": 10,
            "partition": "normal",
        },
        "bigmem": {"TEMPLATE": "default", "memory": "512GB", "processes": 4, "worker_threads": 6, "job_cores": 48},
    },
}


@pytest.fixture
def hpc():
    define_clusters({"hpc": HPC, "jobs": {"type": "local", "workers": 3, "frontends": [{"jobserver": {}}]}})
    select.select_cluster("hpc")


def test_pure_daskserver_launch_dict(hpc):
    d = configure_pure_daskserver()
    assert d["key"] == "pure-daskserver-hpc-default"
    assert d["cluster_string"] == "dask_jobqueue::SLURMCluster"
    assert d["hostname"] == "login.hpc.example" and d["ssh_hostname"] == "hpc" and d["tunnel"] is True
    assert (d["network_interface"], d["port_start"], d["port_end"], d["timeout"]) == ("0.0.0.0", 60300, 60399, 900)
    assert d["conda"] == "my-dask-env" and d["workdir"] == "/tmp"
    assert d["handshake"] == {"path": "healthcheck", "port_name": "health_port"}
    assert d["command"].startswith("seamless-dask-wrapper {cluster_string} --port-range {port_start} {port_end}")
    assert "--status-file {status_file}" in d["command"] and "--timeout {timeout}" in d["command"]
    assert d["file_parameters"] == {
        "walltime": "02:00:00",
        "cores": 24,
        "memory": "96000MB",
        "partition": "normal",
        "unknown-task-duration": "1m",
        "target-duration": "10m",
        "lifetime-stagger": "4m",
        "maximum_jobs": 10,
        "interactive": False,
        "pure_dask": True,
        "worker_threads": 2,
    }
    assert d["meta"] == {"service": "pure-daskserver", "cluster": "hpc", "queue": "default", "tls": True}


def test_pure_daskserver_needs_no_project_and_uses_queue_in_key(hpc):
    select.select_queue("bigmem")
    d = configure_pure_daskserver()
    assert d["key"] == "pure-daskserver-hpc-bigmem"
    fp = d["file_parameters"]
    assert (fp["memory"], fp["processes"], fp["worker_threads"], fp["job_cores"]) == ("512GB", 4, 6, 48)
    assert configure_pure_daskserver(queue="default")["key"] == "pure-daskserver-hpc-default"


def test_pure_daskserver_explicit_cluster_argument(hpc):
    select.select_cluster(None)
    assert configure_pure_daskserver(cluster="hpc")["key"] == "pure-daskserver-hpc-default"


def test_pure_daskserver_on_embedded_local_launches_locally():
    select.select_cluster("local")
    d = configure_pure_daskserver()
    assert "hostname" not in d and "tunnel" not in d and "conda" not in d
    assert d["cluster_string"] == "distributed::LocalCluster"
    assert d["file_parameters"]["maximum_jobs"] >= 1 and d["file_parameters"]["pure_dask"] is True


def test_local_cluster_key_drops_hostname():
    define_clusters(
        {
            "local_cluster": "ws",
            "ws": {"type": "local", "tunnel": True, "frontends": [{"hostname": "ws.example", "daskserver": {}}]},
            "viassh": {"type": "local", "tunnel": True, "frontends": [{"hostname": "localhost", "daskserver": {}}]},
        }
    )
    d = configure_pure_daskserver(cluster="ws")
    assert "hostname" not in d and "tunnel" not in d
    d = configure_pure_daskserver(cluster="viassh")
    assert d["hostname"] == "localhost" and d["tunnel"] is True


def test_pure_daskserver_errors():
    with pytest.raises(ConfigurationError, match="No cluster defined"):
        configure_pure_daskserver()
    define_clusters({"jobs": {"type": "local", "frontends": [{"jobserver": {}}]}, "typeless": {"frontends": [{"hostname": "h", "daskserver": {}}], "queues": {"q": {}}}})
    with pytest.raises(ConfigurationError, match="No frontend of cluster 'jobs' can support a daskserver"):
        configure_pure_daskserver(cluster="jobs")
    with pytest.raises(ConfigurationError, match="Cluster 'typeless' needs a 'type'"):
        configure_pure_daskserver(cluster="typeless")
    with pytest.raises(ConfigurationError, match="Cluster 'local' has no queue 'x'"):
        configure_pure_daskserver(cluster="local", queue="x")
    with pytest.raises(ConfigurationError, match="Unknown cluster 'nowhere'"):
        configure_pure_daskserver(cluster="nowhere")


def test_frontend_by_name():
    define_clusters({"two": {"type": "slurm", "frontends": [{"hostname": "a", "daskserver": {"port_start": 1, "port_end": 2}}, {"hostname": "b", "daskserver": {"port_start": 3, "port_end": 4}}], "queues": {"q": {"walltime": "1:00:00", "cores": 1, "memory": "1GB"}}}})
    assert configure_pure_daskserver(cluster="two")["hostname"] == "a"
    assert configure_pure_daskserver(cluster="two", frontend_name="b")["port_start"] == 3
    with pytest.raises(ConfigurationError, match="with name 'c'"):
        configure_pure_daskserver(cluster="two", frontend_name="c")


NAMES = ["a", "b", "a-b", "b-c", "c", "a_b", "a.b", "x y", "é", "a_hb", "a-", "-b", "_"]


def test_pure_keys_unique_for_every_pair_and_valid_for_the_launcher():
    clusters = {n: {"type": "local", "queues": {q: {} for q in NAMES}} for n in NAMES}
    define_clusters(clusters)
    keys = {}
    for c, q in itertools.product(NAMES, NAMES):
        key = configure_pure_daskserver(cluster=c, queue=q)["key"]
        assert RHL_KEY.match(key), key
        assert key not in keys, f"{(c, q)} and {keys[key]} share key {key}"
        keys[key] = (c, q)
    # the established collision: cluster a-b + queue c against cluster a + queue b-c
    assert configure_pure_daskserver(cluster="a-b", queue="c")["key"] != configure_pure_daskserver(cluster="a", queue="b-c")["key"]


def test_persistent_tools_need_a_project(hpc):
    with pytest.raises(ConfigurationError, match="No project defined"):
        configure_hashserver()


def test_persistent_tool_dicts(hpc):
    select.select_project("proj")
    select.select_subproject("sub/part")
    select.select_stage("prod")
    h = configure_hashserver("rw")
    assert h["key"] == "hashserver-hpc-rw-proj--sub--part--STAGE-prod"
    assert h["workdir"] == "/buffers/proj/sub/part/STAGE-prod"
    assert h["command"].startswith(
        "seamless-jobserver serve-hashserver {workdir} --port-range {port_start} {port_end} --status-file {status_file}"
    )
    assert h["command"].endswith(" --writable") and "--encoding" not in h["command"]
    assert (h["port_start"], h["port_end"], h["network_interface"]) == (61000, 61010, "127.0.0.1")
    assert h["meta"] == {"service": "hashserver", "cluster": "hpc", "mode": "rw", "project": "proj", "subproject": "sub/part", "stage": "prod", "tls": True}
    ro = configure_hashserver("ro")
    assert "--writable" not in ro["command"] and ro["key"].startswith("hashserver-hpc-ro-")
    db = configure_database("rw")
    assert db["workdir"] == "/db/proj/sub/part/STAGE-prod" and "serve-database {workdir}/seamless.db" in db["command"]
    assert db["handshake"] == {"path": "healthcheck", "port_name": "health_port"}
    with pytest.raises(ConfigurationError, match="mode must be 'ro' or 'rw'"):
        configure_database("x")
    dask = configure_daskserver()
    assert dask["key"] == "daskserver-hpc-proj--sub--part--STAGE-prod"
    assert "pure_dask" not in dask["file_parameters"] and "worker_threads" not in dask["file_parameters"]
    assert dask["file_parameters"]["cores"] == 24 and dask["meta"]["queue"] == "default"


def test_jobserver_dict():
    define_clusters({"jobs": {"type": "local", "workers": 3, "frontends": [{"jobserver": {"conda": "js"}}]}, "noworkers": {"type": "slurm", "frontends": [{"hostname": "h", "jobserver": {}}]}})
    select.select_cluster("jobs")
    select.select_project("p")
    j = configure_jobserver(file_parameters={"buffer": [{"url": "http://x"}]})
    assert j["workers"] == 3 and j["conda"] == "js" and j["key"] == "jobserver-jobs-p"
    assert j["file_parameters"] == {"buffer": [{"url": "http://x"}]}
    select.select_cluster("noworkers")
    with pytest.raises(ConfigurationError, match="needs 'workers' to run a jobserver"):
        configure_jobserver()


def test_configure_tool_checks_added_and_injected():
    with pytest.raises(ValueError, match='"cluster_string" must be added'):
        configure_tool("pure_daskserver", {}, {"CLUSTER": "a", "QUEUE": "b"})
    added = {k: None for k in get_tools()["pure_daskserver"]["ADDED"]}
    with pytest.raises(ValueError, match='"QUEUE" must be injected'):
        configure_tool("pure_daskserver", added, {"CLUSTER": "a"})
    d = configure_tool("pure_daskserver", added, {"CLUSTER": "a", "QUEUE": "b", "TLSFLAG": ""})
    assert d["key"] == "pure-daskserver-a-b" and "hostname" not in d
    assert "--no-tls" not in d["command"]


def test_tls_is_on_unless_the_cluster_opts_out():
    from seamless_config.cluster import define_clusters

    define_clusters({
        "secure": {"type": "local"},
        "open": {"type": "local", "tls": False},
    })
    for name, flag in (("secure", False), ("open", True)):
        d = configure_pure_daskserver(cluster=name)
        assert d["command"].endswith("--no-tls") is flag
        assert d["meta"]["tls"] is not flag


def test_every_tool_declares_added_and_injected():
    tools = get_tools()
    assert set(tools) == {"hashserver", "database", "jobserver", "daskserver", "pure_daskserver"}
    for entry in tools.values():
        assert "key_template" in entry and ("command" in entry or "command_template" in entry)
