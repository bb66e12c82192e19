"""Cluster definitions: files, schema, TEMPLATE queues, the embedded local cluster, errors."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from seamless_config import ConfigurationError, select
from seamless_config.cluster import define_clusters, get_cluster, get_clusters, get_local_cluster_name
from seamless_config.command_files import load_cluster_files, load_config_files

DATA = Path(__file__).parent / "data"


def install_cluster_file(home: Path, name: str = "clusters.yaml") -> Path:
    target = home / ".seamless" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(DATA / "clusters-established.yaml", target)
    return target


def test_established_cluster_file_loads_with_template_inheritance(isolated_home: Path, project_dir: Path):
    install_cluster_file(isolated_home)
    load_config_files(project_dir)
    hpc = get_cluster("hpc")
    assert hpc.type == "slurm" and hpc.tunnel is True and hpc.workers == 100
    assert hpc.default_queue == "normal"
    normal, bigmem, gpu = hpc.queues["normal"], hpc.queues["bigmem"], hpc.queues["gpu"]
    assert normal.unknown_task_duration == "1m" and normal.maximum_jobs == 20
    # bigmem: overrides what it writes, inherits the rest
    assert bigmem.memory == "256GB" and bigmem.partition == "bigmem" and bigmem.maximum_jobs == 2
    assert bigmem.walltime == "02:00:00" and bigmem.cores == 8 and bigmem.conda == "seamless-dask"
    assert bigmem.job_extra_directives == ["--qos=normal"]
    assert bigmem.extra_dask_config == {"distributed.worker.memory.target": "0.8"}
    # gpu: explicit null unsets, job_script_prologue accepted
    assert gpu.partition is None and gpu.memory == "32GB"
    assert gpu.job_script_prologue == ["module load cuda"] and gpu.dask_resources == {"GPU": 1}
    # the template itself is untouched
    assert normal.partition == "normal" and normal.memory == "32GB"
    frontend = hpc.frontends[0]
    assert frontend.ssh_hostname == "hpc-login"
    assert frontend.services["daskserver"].network_interface == "ib0"
    assert frontend.services["jobserver"].conda == "seamless"
    assert get_local_cluster_name() == "workstation"
    assert get_cluster("workstation").is_local_cluster
    assert "local" in get_clusters()  # the embedded one is still there


def test_cluster_files_in_directory_merge_sorted(isolated_home: Path, project_dir: Path, write_yaml):
    d = isolated_home / ".seamless" / "clusters"
    write_yaml(d / "b.yaml", "c1: {type: local, workers: 2}\n")
    write_yaml(d / "a.yaml", "c1: {type: local, workers: 1}\nc2: {type: local}\n")
    write_yaml(isolated_home / ".seamless" / "clusters.yaml", "c0: {type: local, workers: 7}\nc1: {type: local}\n")
    load_config_files(project_dir)
    assert get_cluster("c1").workers == 2  # b.yaml comes last
    assert get_cluster("c0").workers == 7 and "c2" in get_clusters()


def test_inline_clusters_override_files(isolated_home: Path, project_dir: Path, write_yaml):
    write_yaml(isolated_home / ".seamless" / "clusters.yaml", "mine: {type: local, workers: 1}\n")
    write_yaml(project_dir / "seamless.yaml", "- clusters:\n    mine: {type: local, workers: 5}\n")
    load_config_files(project_dir)
    assert get_cluster("mine").workers == 5


def test_no_cluster_files_gives_only_local(project_dir: Path):
    assert load_cluster_files() == {}
    load_config_files(project_dir)
    assert list(get_clusters()) == ["local"]


def test_embedded_local_cluster_defaults():
    local = get_cluster("local")
    cpus = os.cpu_count()
    assert local.type == "local" and local.frontends[0].hostname is None
    assert set(local.frontends[0].services) == {"daskserver", "hashserver", "database"}
    assert local.default_queue == "default"
    assert local.queues["default"].values == {"cores": cpus, "maximum_jobs": cpus}


def test_minimal_local_cluster_needs_only_its_type():
    define_clusters({"laptop": {"type": "local", "workers": 3}})
    laptop = get_cluster("laptop")
    assert laptop.queues["default"].cores == 3 and laptop.queues["default"].maximum_jobs == 3
    service = laptop.frontends[0].services["daskserver"]
    assert (service.network_interface, service.port_start, service.port_end, service.timeout) == ("127.0.0.1", 60300, 60399, 600)


def test_user_can_redefine_local():
    define_clusters({"local": {"type": "local", "workers": 1}})
    assert get_cluster("local").workers == 1


def test_local_queue_fields_default_from_workers():
    define_clusters({"lab": {"type": "local", "workers": 6, "queues": {"small": {"worker_threads": 1}}}})
    small = get_cluster("lab").queues["small"]
    assert (small.cores, small.maximum_jobs, small.worker_threads) == (6, 6, 1)


def test_conda_is_optional_everywhere():
    define_clusters(
        {
            "hpc": {
                "type": "slurm",
                "frontends": [{"hostname": "login", "hashserver": {"bufferdir": "/b"}, "daskserver": {}}],
                "queues": {"q": {"walltime": "01:00:00", "cores": 1, "memory": "1GB"}},
            }
        }
    )
    assert get_cluster("hpc").queues["q"].conda is None


def _error(definition, *, raw=None):
    with pytest.raises(ConfigurationError) as info:
        define_clusters(raw if raw is not None else {"c": definition})
    return str(info.value)


def test_unknown_keys_are_listed():
    msg = _error({"type": "local", "colour": "red"})
    assert "cluster 'c': unknown key 'colour'; valid keys are: default_queue, frontends" in msg
    msg = _error({"type": "local", "queues": {"q": {"cpus": 2}}})
    assert "queue 'q': unknown key 'cpus'" in msg and "cores" in msg and "job_script_prologue" in msg
    msg = _error({"type": "local", "frontends": [{"daskserver": {"pure_dask": True}}]})
    assert "daskserver: unknown key 'pure_dask'" in msg


@pytest.mark.parametrize(
    "definition, message",
    [
        (
            {"type": "torque", "frontends": [{"hostname": "h"}]},
            "unknown type 'torque'; valid types are: local, slurm, oar, pbs, sge, lsf, htcondor",
        ),
        ({"type": "slurm"}, "missing required key(s) frontends (only a 'type: local' cluster may omit it)"),
        ({"type": "slurm", "frontends": [{"daskserver": {}}]}, "missing required key(s) hostname"),
        ({"type": "local", "frontends": []}, "'frontends' must be a non-empty list"),
        ({"type": "local", "workers": 0}, "'workers' must be a positive integer"),
        ({"type": "local", "tunnel": "maybe"}, "'tunnel' must be true or false"),
        ({"type": "local", "frontends": [{"hashserver": {}}]}, "hashserver: missing required key(s) bufferdir"),
        ({"type": "local", "frontends": [{"daskserver": {"port_start": 5}}]}, "give both port_start and port_end"),
        ({"type": "local", "frontends": [{"daskserver": {"port_start": 9, "port_end": 5}}]}, "port_start 9 is above port_end 5"),
        ({"type": "local", "frontends": [{"daskserver": {"port_start": 0, "port_end": 5}}]}, "port number between 1 and 65535"),
        (
            {"type": "slurm", "frontends": [{"hostname": "h"}], "queues": {"q": {"cores": 1}}},
            "queue 'q': missing required key(s) walltime, memory (a 'slurm' queue needs them)",
        ),
        ({"type": "local", "queues": {"q": {"walltime": "2h"}}}, "'walltime' must be a walltime such as \"02:00:00\""),
        ({"type": "local", "queues": {"q": {"memory": "lots"}}}, "'memory' must be a memory size"),
        ({"type": "local", "queues": {"q": {"job-extra-directives": "x"}}}, "'job-extra-directives' must be a list of strings"),
        ({"type": "local", "queues": {"q": {"extra_dask_config": {"a": 1}}}}, "mapping of strings to strings"),
        ({"type": "local", "queues": {"q": {"TEMPLATE": "later"}, "later": {}}}, "cannot use unknown queue 'later' as TEMPLATE"),
        ({"type": "local", "default_queue": "nope"}, "default_queue 'nope' is not one of its queues (default)"),
        ("just a string", "cluster 'c' must be a mapping"),
    ],
)
def test_schema_errors(definition, message):
    assert message in _error(definition)


def test_local_cluster_key_must_name_a_cluster():
    assert "'local_cluster' names an undefined cluster 'x'" in _error(None, raw={"local_cluster": "x"})


def test_errors_in_cluster_file_name_file_and_line(isolated_home: Path, project_dir: Path, write_yaml):
    path = write_yaml(
        isolated_home / ".seamless" / "clusters.yaml",
        "hpc:\n  type: slurm\n  frontends:\n    - hostname: login\n  queues:\n    q:\n      walltime: \"01:00:00\"\n      cores: many\n",
    )
    with pytest.raises(ConfigurationError, match=f"{path}:8: cluster 'hpc' queue 'q': 'cores' must be a positive integer"):
        load_config_files(project_dir)


def test_invalid_cluster_name():
    assert "may not contain '--'" in _error(None, raw={"a--b": {"type": "local"}})


def test_single_queue_is_the_default():
    define_clusters({"one": {"type": "slurm", "frontends": [{"hostname": "h"}], "queues": {"q": {"walltime": "1:00:00", "cores": 1, "memory": "1GB"}}}})
    assert get_cluster("one").default_queue == "q"
    select.select_cluster("one")
    assert select.resolve_queue("one") == "q"


@pytest.mark.parametrize("value, ok", [("10m", True), ("1.5h", True), ("500ms", True), ("1-00:00:00", True), ("90", True), ("10 minutes", True), ("500us", False), ("soon", False)])
def test_durations_are_the_forms_the_wrapper_reads(value, ok):
    definition = {"type": "local", "queues": {"q": {"lifetime": value}}}
    if ok:
        define_clusters({"c": definition})
    else:
        assert "'lifetime' must be a duration" in _error(definition)
