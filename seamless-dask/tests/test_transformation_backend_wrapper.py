"""DaskTransformationBackend on a real ``seamless-dask-wrapper`` in persistent mode.

The wrapper is launched the way persistent mode launches it:
``seamless_config.launching.launch(seamless_config.tools.configure_daskserver())`` with a
``type: local`` cluster and a project selected by a profile file, in an isolated HOME. Each test
stops the wrapper by its PID and checks that the wrapper and its worker processes are gone.
"""

from __future__ import annotations

import os
import runpy
import threading
from pathlib import Path
from types import SimpleNamespace

import pytest
from distributed import Client

import seamless_transformer as st
from seamless import Buffer
from seamless_config import cluster as config_cluster
from seamless_config import launching, lifecycle
from seamless_config.command_files import load_config_files
from seamless_config import client_credentials
from seamless_config.tools import configure_daskserver
from seamless_dask.configuration import DEFAULT_THROTTLE, THROTTLE_ENV
from seamless_dask.backend.transformation_backend import DaskTransformationBackend
from seamless_transformer import RemoteJob, TransformationError
from seamless_transformer import cache as st_cache

CORES = 1
WORKERS = 2
CLUSTERS_YAML = f"""\
daskloc:
  type: local
  queues:
    default: {{cores: {CORES}, maximum_jobs: {WORKERS}, memory: 1GB, walltime: "01:00:00"}}
"""
PROFILE = "- project: p\n- cluster: daskloc\n"
fns = SimpleNamespace(**runpy.run_path(str(Path(__file__).with_name("transformation_backend_functions.py"))))


class Wrapper:
    """A launched persistent-mode wrapper: its launch dict, RHL payload and a client."""

    def __init__(self, config: dict, payload: dict):
        self.config = config
        self.payload = payload
        self.creds = client_credentials.for_launch(config)
        self.address = f"tls://{payload['hostname']}:{payload['port']}"
        self.client = self.connect(timeout=30)
        self.client.wait_for_workers(WORKERS, timeout=60)
        self.worker_pids = sorted(self.client.run(os.getpid).values())

    def connect(self, **kwargs) -> Client:
        """A client with the user's certificate (the wrapper speaks mutual TLS)."""
        return Client(self.address, set_as_default=False, security=client_credentials.dask_security(self.creds), **kwargs)


@pytest.fixture
def wrapper(isolated_home: Path, tmp_path: Path):
    (isolated_home / ".seamless").mkdir()
    (isolated_home / ".seamless" / "clusters.yaml").write_text(CLUSTERS_YAML)
    project = tmp_path / "project"
    project.mkdir()
    (project / "seamless.profile.yaml").write_text(PROFILE)
    lifecycle.reset()
    load_config_files(project)
    config = configure_daskserver()
    payload = launching.launch(config, what="Seamless Dask server")
    wrapper_pid = launching.server_state(config)["pid"]
    launched = None
    try:
        launched = Wrapper(config, payload)
        st.set_cache_dir(None)
        st.clear_memory_cache()
        st.set_execution("remote")
        st.register_backend(DaskTransformationBackend(launched.client))
        yield launched
    finally:
        st.register_backend(None)
        st.set_execution(None)
        st.clear_memory_cache()
        if launched is not None:
            launched.client.close()
        launching.stop(config)
        lifecycle.reset()
        config_cluster.define_clusters({})
        survivors = [
            pid for pid in [wrapper_pid, *(launched.worker_pids if launched else [])]
            if not launching.wait_for_exit(pid)
        ]
        assert not survivors, f"processes survived stopping the wrapper: {survivors}"


def test_workers_have_the_persistent_defaults(wrapper):
    assert wrapper.config["key"] == "daskserver-daskloc-p"
    assert "pure_dask" not in wrapper.config["file_parameters"]
    info = wrapper.client.scheduler_info(n_workers=-1)["workers"]
    assert len(info) == WORKERS
    assert {w["nthreads"] for w in info.values()} == {CORES * DEFAULT_THROTTLE}
    throttles = wrapper.client.run(os.getenv, THROTTLE_ENV)
    assert set(throttles.values()) == {str(DEFAULT_THROTTLE)}


def test_transformations_graph_and_errors(wrapper):
    value = fns.whoami("w").run()
    assert value["pid"] in wrapper.worker_pids and value["pid"] != os.getpid()
    assert fns.add(fns.add(1, 2), fns.add(3, 4)).run() == 10
    with pytest.raises(TransformationError) as info:
        fns.divide(1, 0).run()
    assert "divide() raised ZeroDivisionError" in info.value.message
    assert "quotient = a / b" in info.value.traceback


def test_identical_submissions_from_two_clients_run_once(wrapper, tmp_path):
    tf = fns.slow_once(str(tmp_path), 2.0)
    job = RemoteJob(tf.checksum, tf.transformation_dict, st_cache.get_buffer)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def submit() -> None:
        with wrapper.connect() as client:
            barrier.wait()
            try:
                outcomes.append(DaskTransformationBackend(client).submit(job))
            except Exception as exc:  # reported by the assertion below
                outcomes.append(exc)

    threads = [threading.Thread(target=submit) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert outcomes == [Buffer.from_value("computed")] * 2
    assert len(list(tmp_path.glob("run-*"))) == 1
