"""DaskTransformationBackend against a real Dask LocalCluster (2 worker processes) started here.

Transformations go through the public transformer API (``execution: remote`` + the registered
backend) or, where the Dask-level behaviour itself is tested (dedup across clients, buffer
tasks), straight through ``backend.submit(RemoteJob)``. Side effects (files written by the
transformations) count executions; nothing is timed.
"""

from __future__ import annotations

import os
import runpy
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import pytest
from distributed import Client, LocalCluster

import seamless_transformer as st
from seamless import Buffer
from seamless_dask.configuration import THROTTLE_ENV
from seamless_dask.backend.transformation_backend import DaskTransformationBackend
from seamless_dask.backend.transformation_task import (
    BUFFER_KEY_PREFIX,
    CORES_ENV,
    ThrottleError,
    transformation_key,
    worker_capacity,
)
from seamless_transformer import RemoteJob, TransformationError
from seamless_transformer import cache as st_cache


#: the transformer functions (their source is what runs on the workers)
fns = SimpleNamespace(**runpy.run_path(str(Path(__file__).with_name("transformation_backend_functions.py"))))


def runs(folder: Path, prefix: str) -> int:
    return len([p for p in folder.iterdir() if p.name.startswith(prefix)])


def job_of(tf: st.Transformation) -> RemoteJob:
    """The RemoteJob seamless_transformer would submit for ``tf``."""
    return RemoteJob(tf.checksum, tf.transformation_dict, st_cache.get_buffer)


# --- fixtures ----------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def cluster():
    """Two worker processes with 3 threads each and the persistent-mode throttle exported."""
    with LocalCluster(
        n_workers=2, threads_per_worker=3, processes=True, dashboard_address=":0",
        host="127.0.0.1", env={THROTTLE_ENV: "3"},
    ) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def client(cluster):
    with Client(cluster, set_as_default=False) as client:
        yield client


@pytest.fixture
def backend(client):
    """Remote execution through a fresh backend; clean caches before and after."""
    backend = DaskTransformationBackend(client)
    st.set_cache_dir(None)
    st.clear_memory_cache()
    st.set_execution("remote")
    st.register_backend(backend)
    yield backend
    st.register_backend(None)
    st.set_execution(None)
    st.clear_memory_cache()


# --- tests -------------------------------------------------------------------------------------

def test_result_computed_on_a_worker(backend, client):
    worker_pids = set(client.run(os.getpid).values())
    value = fns.whoami("x").run()
    assert value["tag"] == "x"
    assert value["pid"] in worker_pids and value["pid"] != os.getpid()


def test_graph_of_transformations(backend, tmp_path):
    inner = fns.add(1, 2, log=str(tmp_path))
    outer = fns.add(inner, 4, log=str(tmp_path))
    assert outer.run() == 7
    assert inner.value == 3
    assert runs(tmp_path, "add-") == 2
    assert fns.add(3, 4, log=str(tmp_path)).run() == 7  # same checksum as outer: a cache hit
    assert runs(tmp_path, "add-") == 2


def test_exception_carries_the_worker_traceback(backend):
    tf = fns.divide(1, 0)
    with pytest.raises(TransformationError) as info:
        tf.run()
    err = info.value
    assert "divide() raised ZeroDivisionError" in err.message
    assert "on Dask worker tcp://127.0.0.1:" in err.message
    assert "quotient = a / b" in err.traceback
    assert err.checksum == tf.checksum.hex()
    downstream = fns.add(fns.divide(2, 0), 1)
    downstream.compute()
    assert "Input 'a' of add() failed" in str(downstream.exception)


def test_identical_concurrent_submissions_from_two_clients_run_once(backend, cluster, tmp_path):
    tf = fns.slow_once(str(tmp_path), 2.0)
    job = job_of(tf)
    barrier = threading.Barrier(2)
    outcomes: list[object] = []

    def submit(client: Client) -> None:
        other = DaskTransformationBackend(client)
        barrier.wait()
        try:
            outcomes.append(other.submit(job))
        except Exception as exc:  # reported by the assertion below
            outcomes.append(exc)

    with Client(cluster, set_as_default=False) as c1, Client(cluster, set_as_default=False) as c2:
        threads = [threading.Thread(target=submit, args=(c,)) for c in (c1, c2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert outcomes == [Buffer.from_value("computed")] * 2
    assert runs(tmp_path, "run-") == 1
    # Once released, the key is gone: a later identical submission (cache bypassed) runs again.
    assert backend.submit(job) == Buffer.from_value("computed")
    assert runs(tmp_path, "run-") == 2


def test_many_client_threads_at_once(backend):
    results: dict[int, object] = {}

    def work(i: int) -> None:
        try:
            results[i] = fns.add(i, 1000).run()
        except Exception as exc:  # reported by the assertion below
            results[i] = exc

    threads = [threading.Thread(target=work, args=(i,)) for i in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == {i: i + 1000 for i in range(12)}


def test_large_inputs_travel_as_buffer_tasks(backend, client):
    data = "x" * 300_000
    tf = fns.total_length(data, 1)
    futures: list = []
    shipped = backend._ship_buffers(job_of(tf).buffers(), futures)
    try:
        data_hex = Buffer.from_value(data).checksum.hex()
        assert [f.key for f in futures] == [BUFFER_KEY_PREFIX + data_hex]
        assert isinstance(shipped[tf.transformation_dict["code"]["checksum"]], bytes)  # small: inline
    finally:
        for f in futures:
            f.release()
    assert tf.run() == 300_001
    assert fns.total_length(data, 2).run() == 300_002  # same large input, second transformation


def test_task_key_is_the_transformation_checksum(backend, client, tmp_path):
    tf = fns.slow_once(str(tmp_path), 1.0)
    tf.start()
    wanted = transformation_key(tf.checksum.hex())

    def scheduler_keys(dask_scheduler=None):
        return [str(k) for k in dask_scheduler.tasks]

    seen = False
    while not tf._done.is_set() and not seen:
        seen = wanted in client.run_on_scheduler(scheduler_keys)
    tf.compute()
    assert tf.value == "computed"
    assert seen, f"{wanted} never appeared on the scheduler"


def scheduler_keys(client: Client) -> set[str]:
    def keys(dask_scheduler=None):
        return [str(k) for k in dask_scheduler.tasks]

    return set(client.run_on_scheduler(keys))


def wait_until(condition, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still not {what} after {timeout} s"
        time.sleep(0.05)


@pytest.fixture
def use(client):
    """Register a backend made here (e.g. with another ``release_after``); unregister it after."""
    def register(backend: DaskTransformationBackend) -> DaskTransformationBackend:
        st.set_cache_dir(None)
        st.clear_memory_cache()
        st.set_execution("remote")
        st.register_backend(backend)
        return backend

    yield register
    st.register_backend(None)
    st.set_execution(None)
    st.clear_memory_cache()


def test_finished_task_is_released_with_the_next_submission(client, use):
    use(DaskTransformationBackend(client, release_after=600))
    first = fns.add(21, 1)
    assert first.run() == 22
    first_key = transformation_key(first.checksum.hex())
    assert first_key in scheduler_keys(client)  # held until the next submission
    second = fns.add(22, 1)
    assert second.run() == 23
    wait_until(lambda: first_key not in scheduler_keys(client), "released with the next submission")
    assert transformation_key(second.checksum.hex()) in scheduler_keys(client)


def test_finished_task_is_released_after_a_while_without_submissions(client, use):
    backend = use(DaskTransformationBackend(client, release_after=0.2))
    keys = []
    for i in range(3):
        tf = fns.add(31 + i, 1)
        assert tf.run() == 32 + i
        keys.append(transformation_key(tf.checksum.hex()))
    wait_until(lambda: not set(keys) & scheduler_keys(client), "released without a next submission")
    assert len(backend._spent) == 0


def test_failed_task_is_released_at_once_so_that_it_can_run_again(client, use, tmp_path):
    """A failure may be the environment's (here, a missing file): the same transformation,
    submitted again once that is fixed, runs again instead of getting the held failure."""
    use(DaskTransformationBackend(client, release_after=600))
    path = tmp_path / "appears-later.txt"
    failed = fns.read_file(str(path))
    failed.compute()
    assert "FileNotFoundError" in str(failed.exception)
    path.write_text("here now")
    again = fns.read_file(str(path))
    assert again.checksum == failed.checksum
    assert again.run() == "here now"


def test_closed_client_gives_a_transformation_error(cluster):
    client = Client(cluster, set_as_default=False)
    backend = DaskTransformationBackend(client)
    client.close()
    st.clear_memory_cache()
    st.set_execution("remote")
    st.register_backend(backend)
    try:
        tf = fns.add(5, 5)
        tf.compute()
    finally:
        st.register_backend(None)
        st.set_execution(None)
    assert "Dask could not run transformation" in str(tf.exception)


def test_client_closed_during_a_transformation_gives_a_transformation_error(cluster, tmp_path):
    client = Client(cluster, set_as_default=False)
    st.clear_memory_cache()
    st.set_execution("remote")
    st.register_backend(DaskTransformationBackend(client))
    try:
        tf = fns.slow_once(str(tmp_path), 3.0).start()
        wait_until(lambda: runs(tmp_path, "run-") == 1, "started on a worker")
        client.close()
        tf.compute()
    finally:
        st.register_backend(None)
        st.set_execution(None)
    assert "Dask could not run transformation" in str(tf.exception)


def test_rejects_what_is_not_a_client():
    with pytest.raises(TypeError, match="needs a distributed.Client"):
        DaskTransformationBackend("tcp://127.0.0.1:8786")


# --- the throttle ----------------------------------------------------------------------------

def test_worker_capacity_from_environment():
    assert worker_capacity({}) is None
    assert worker_capacity({THROTTLE_ENV: "3", CORES_ENV: "2"}) == 6
    assert worker_capacity({THROTTLE_ENV: "2", "PYTHON_CPU_COUNT": "4"}) == 8
    affinity = len(os.sched_getaffinity(0))
    assert worker_capacity({THROTTLE_ENV: "2", "PYTHON_CPU_COUNT": "4(x2)"}) == 2 * affinity
    with pytest.raises(ThrottleError, match=f"{THROTTLE_ENV} must be a positive integer, not 'many'"):
        worker_capacity({THROTTLE_ENV: "many"})
    with pytest.raises(ThrottleError, match=f"{CORES_ENV} must be a positive integer, not '0'"):
        worker_capacity({THROTTLE_ENV: "1", CORES_ENV: "0"})


def _run_remote(client: Client, make_tfs) -> list:
    """Start the transformations ``make_tfs()`` at once through a backend on ``client``;
    return them when all are done."""
    st.clear_memory_cache()
    st.set_execution("remote")
    st.register_backend(DaskTransformationBackend(client))
    try:
        tfs = make_tfs()
        for tf in tfs:
            tf.start()
        return [tf.compute() for tf in tfs]
    finally:
        st.register_backend(None)
        st.set_execution(None)


def test_throttle_caps_concurrent_transformations_below_thread_count(tmp_path):
    """One worker with 4 threads but throttle 1 x 1 core: transformations run one at a time."""
    folder = tmp_path / "occupancy"
    folder.mkdir()
    with LocalCluster(
        n_workers=1, threads_per_worker=4, processes=True, dashboard_address=":0",
        host="127.0.0.1", env={THROTTLE_ENV: "1", CORES_ENV: "1"},
    ) as cluster, Client(cluster, set_as_default=False) as client:
        done = _run_remote(client, lambda: [fns.occupy(i, str(folder), 0.4) for i in range(4)])
    assert [tf.run() for tf in done] == [1, 1, 1, 1]


def test_bad_throttle_value_fails_with_a_clear_error():
    with LocalCluster(
        n_workers=1, threads_per_worker=1, processes=True, dashboard_address=":0",
        host="127.0.0.1", env={THROTTLE_ENV: "lots"},
    ) as cluster, Client(cluster, set_as_default=False) as client:
        (tf,) = _run_remote(client, lambda: [fns.add(1, 1)])
    message = str(tf.exception)
    assert f"ThrottleError: Environment variable {THROTTLE_ENV} must be a positive integer, not 'lots'" in message
    assert "on Dask worker tcp://127.0.0.1:" in message
