"""Selection state: defaults of execution and persistent, source tracking, queue and remote rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from seamless_config import ConfigurationError, select
from seamless_config.cluster import define_clusters
from seamless_config.command_files import load_config_files

TWO_REMOTES = {
    "both": {"type": "local", "frontends": [{"daskserver": {}, "jobserver": {}}]},
    "split": {"type": "local", "frontends": [{"daskserver": {}}, {"hostname": "h2", "jobserver": {}}]},
    "jobonly": {"type": "local", "workers": 2, "frontends": [{"jobserver": {}}]},
    "hpc": {
        "type": "slurm",
        "frontends": [{"hostname": "login"}],
        "queues": {
            "a": {"walltime": "01:00:00", "cores": 2, "memory": "2GB"},
            "b": {"walltime": "01:00:00", "cores": 4, "memory": "8GB"},
        },
    },
}


def test_execution_defaults_to_process_without_cluster():
    assert select.get_execution() == "process"
    assert not select.execution_was_set_explicitly()


def test_execution_defaults_to_remote_when_cluster_selected():
    select.select_cluster("local")
    assert select.get_execution() == "remote"


def test_explicit_execution_wins_over_cluster_default():
    select.select_execution("process")
    select.select_cluster("local")
    assert select.get_execution() == "process"
    assert select.execution_was_set_explicitly()


def test_persistent_defaults_false_without_cluster():
    assert select.get_persistent() is False
    assert not select.persistent_was_set_explicitly()


def test_persistent_defaults_true_with_cluster():
    select.select_cluster("local")
    assert select.get_persistent() is True
    assert select.get_persistent(cluster=None) is True


def test_persistent_follows_cluster_argument():
    assert select.get_persistent(cluster="local") is True


def test_explicit_persistent_false_wins_with_cluster():
    select.select_cluster("local")
    select.select_persistent(False)
    assert select.get_persistent() is False
    assert select.persistent_was_set_explicitly()


def test_explicit_persistent_true_without_cluster_is_kept():
    select.select_persistent(True)
    assert select.get_persistent() is True


@pytest.mark.parametrize("value", ["yes", 1, None, "true"])
def test_persistent_must_be_boolean(value):
    with pytest.raises(ConfigurationError, match="persistent must be a boolean"):
        select.select_persistent(value)


def test_command_values_reset_on_reload_manual_values_survive(project_dir: Path, write_yaml):
    select.select_remote("daskserver")  # manual
    profile = write_yaml(project_dir / "seamless.yaml", "- execution: spawn\n- persistent: false\n")
    load_config_files(project_dir)
    assert select.get_execution() == "spawn" and select.get_persistent() is False
    assert select.execution_command_seen()
    profile.write_text("- project: p\n")
    load_config_files(project_dir)
    assert select.get_execution() == "process"
    assert not select.persistent_was_set_explicitly()
    assert not select.execution_command_seen()
    assert select.get_remote() == "daskserver"


def test_manual_value_overwritten_by_command_becomes_command_sourced(project_dir: Path, write_yaml):
    select.select_execution("spawn")
    profile = write_yaml(project_dir / "seamless.yaml", "- execution: process\n")
    load_config_files(project_dir)
    assert select.get_execution() == "process"
    profile.write_text("[]\n")
    load_config_files(project_dir)
    assert select.get_execution() == "process" and not select.execution_was_set_explicitly()


def test_manual_queue_survives_reload(project_dir: Path, write_yaml):
    write_yaml(project_dir / "seamless.yaml", "- cluster: local\n")
    load_config_files(project_dir)
    select.select_queue("default")
    load_config_files(project_dir)
    assert select.get_queue() == "default"


def test_cluster_change_clears_queue():
    define_clusters(TWO_REMOTES)
    select.select_cluster("hpc")
    select.select_queue("b")
    assert select.get_queue() == "b"
    select.select_cluster("local")
    assert select.get_queue() is None
    select.select_cluster("hpc")
    assert select.get_queue() is None


def test_get_queue_only_for_its_cluster():
    define_clusters(TWO_REMOTES)
    select.select_cluster("hpc")
    select.select_queue("a")
    assert select.get_queue("hpc") == "a"
    assert select.get_queue("local") is None


@pytest.mark.parametrize(
    "setup, queue, message",
    [
        (None, 3, "queue must be a string"),
        (None, "a", "Cannot select a queue without selecting a cluster first"),
        ("hpc", "zzz", "Cluster 'hpc' has no queue 'zzz'; its queues are: a, b"),
    ],
)
def test_queue_errors(setup, queue, message):
    define_clusters(TWO_REMOTES)
    if setup:
        select.select_cluster(setup)
    with pytest.raises(ConfigurationError, match=message):
        select.select_queue(queue)


def test_queue_on_cluster_that_vanished():
    select.select_cluster("gone")
    with pytest.raises(ConfigurationError, match="Unknown cluster 'gone'"):
        select.select_queue("a")


def test_resolve_queue_default_and_errors():
    define_clusters(TWO_REMOTES)
    assert select.resolve_queue("local") == "default"
    with pytest.raises(ConfigurationError, match="No queue selected and cluster 'hpc' has no default queue.*one of: a, b"):
        select.resolve_queue("hpc")
    assert select.resolve_queue("hpc", "b") == "b"


@pytest.mark.parametrize("value, message", [(3, "remote must be a string or null"), ("x", "remote must be one of")])
def test_remote_validation(value, message):
    with pytest.raises(ConfigurationError, match=message):
        select.select_remote(value)


def test_remote_accepts_targets():
    for target in (None, "daskserver", "jobserver"):
        select.select_remote(target)
        assert select.get_remote() == target


def test_remote_redundancy():
    define_clusters(TWO_REMOTES)
    with pytest.raises(ConfigurationError, match="frontend 'localhost' has both jobserver and daskserver.*seamless.profile.yaml"):
        select.check_remote_redundancy("both")
    with pytest.raises(ConfigurationError, match="Cluster 'split' exposes both"):
        select.check_remote_redundancy("split")
    assert select.check_remote_redundancy("jobonly") == "jobserver"
    assert select.check_remote_redundancy("local") == "daskserver"
    assert select.check_remote_redundancy("hpc") is None
    select.select_remote("daskserver")
    assert select.check_remote_redundancy("both") == "daskserver"


@pytest.mark.parametrize(
    "func, value",
    [
        (select.select_cluster, "a--b"),
        (select.select_cluster, "a/b"),
        (select.select_project, "STAGE-x"),
        (select.select_stage, "x/y"),
        (select.select_substage, "a--"),
        (select.select_subproject, "x--y"),
    ],
)
def test_name_validation(func, value):
    with pytest.raises(ConfigurationError, match="may not contain"):
        func(value)


def test_get_current():
    with pytest.raises(ConfigurationError, match="No cluster defined"):
        select.get_current()
    select.select_cluster("local")
    with pytest.raises(ConfigurationError, match="No project defined"):
        select.get_current()
    select.select_project("p")
    select.select_stage("s")
    assert select.get_current() == ("local", "p", None, "s", None)
    assert select.get_current(stage="t") == ("local", "p", None, "t", None)
