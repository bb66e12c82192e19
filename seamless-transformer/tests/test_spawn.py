"""execution: spawn — transformations run in a pool of real worker processes."""

from __future__ import annotations

import os

import pytest

import seamless_transformer as st
from seamless_transformer import TransformationError
from seamless_transformer.spawn_pool import worker_pids


@pytest.fixture(autouse=True)
def spawn_mode(spawn_pool):
    st.set_execution("spawn")


def test_runs_in_a_worker_process(fns, spawn_pool):
    pid, is_worker = fns.where().run()
    assert pid != os.getpid() and pid in worker_pids()
    assert is_worker is True


def test_delayed_and_direct(fns, tmp_path):
    assert fns.add(2, 3).run() == 5
    assert fns.add_now(2, 3) == 5
    graph = fns.add(fns.add(1, 2), fns.add(3, 4))
    assert graph.run() == 10


def test_workers_run_concurrently(fns, tmp_path):
    """Two transformations wait for each other: only possible if both run at once."""
    tfs = [fns.meet(tag, str(tmp_path), 2) for tag in ("a", "b")]
    for tf in tfs:
        tf.start()
    assert [tf.compute().value for tf in tfs] == [2, 2]


def test_cache_hits_across_worker_processes(fns, tmp_path):
    log = str(tmp_path)
    assert [fns.add(i, 1, log=log).run() for i in (1, 2, 1, 2, 1)] == [2, 3, 2, 3, 2]
    assert fns.count_runs(tmp_path) == 2


def test_exception_traceback_from_worker(fns):
    tf = fns.divide(1, 0)
    with pytest.raises(TransformationError, match="ZeroDivisionError") as info:
        tf.run()
    assert "quotient = a / b" in info.value.traceback
    assert "transformer_functions.py" in info.value.traceback
    assert tf.exception.checksum == tf.checksum.hex()


def test_dead_worker_is_reported_and_replaced(fns):
    before = set(worker_pids())
    with pytest.raises(TransformationError, match="spawn worker .* died or was stopped"):
        fns.crash(3).run()
    after = set(worker_pids())
    assert len(after) == 2 and after != before
    assert fns.add(100, 1).run() == 101


def test_spawn_rejects_bad_sizes():
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="positive int"):
            st.spawn(bad)


def test_shutdown_stops_workers_and_next_use_restarts():
    pids = worker_pids()
    st.shutdown_workers()
    for pid in pids:
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)  # already reaped by shutdown: no such child
    assert worker_pids() == []
    st.spawn(2)
    assert len(worker_pids()) == 2


def test_close_wakes_callers_waiting_for_a_worker():
    """A caller queued for a busy pool gets an error when the pool closes, instead of hanging."""
    import threading

    from seamless_transformer.spawn_pool import WorkerDied, _Pool

    pool = _Pool(1)
    busy = pool._idle.get()  # the only worker is taken: the next caller must wait
    outcome = []

    def caller():
        try:
            pool.run(("unused",))
        except WorkerDied as exc:
            outcome.append(str(exc))

    thread = threading.Thread(target=caller)
    thread.start()
    pool.close()
    thread.join(30)
    assert outcome == ["the spawn pool was shut down"]
    assert busy.process.poll() is not None  # the worker process has exited
