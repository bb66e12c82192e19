"""The execution mode and spawn pool size follow seamless_config's selection state."""

from __future__ import annotations

import pytest

import seamless_transformer as st
from seamless_config import cluster, select
from seamless_transformer import RemoteBackendMissingError
from seamless_transformer.spawn_pool import worker_pids


@pytest.fixture
def config_state(isolated_home):
    select.reset_all()
    cluster.define_clusters({"three": {"type": "local", "workers": 3}})
    st.set_execution(None)  # follow seamless_config
    yield
    st.shutdown_workers()
    select.reset_all()
    cluster.define_clusters({})


def test_default_is_process(config_state, fns):
    assert st.get_execution() == "process"
    assert fns.add(1, 1).run() == 2


def test_spawn_pool_sized_from_cluster_workers(config_state, fns):
    select.select_cluster("three")
    select.select_execution("spawn")
    assert st.get_execution() == "spawn"
    st.shutdown_workers()
    pid, _ = fns.where().run()
    assert len(worker_pids()) == 3 and pid in worker_pids()


def test_cluster_defaults_to_remote_and_refuses_without_backend(config_state, fns):
    select.select_cluster("three")
    assert st.get_execution() == "remote"
    with pytest.raises(RemoteBackendMissingError, match="no remote backend is active"):
        fns.add(1, 2).run()


def test_override_wins_over_config(config_state, fns):
    select.select_execution("remote")
    st.set_execution("process")
    assert st.get_execution() == "process"
    assert fns.add(2, 2).run() == 4


def test_spawn_without_n_uses_cluster_workers(config_state):
    select.select_cluster("three")
    st.shutdown_workers()
    st.spawn()
    assert len(worker_pids()) == 3
