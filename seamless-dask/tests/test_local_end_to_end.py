"""The real wrapper with ``distributed::LocalCluster``: start via a status file, compute, the
workers it was asked for, idle exit after the timeout, no exit while a task runs, SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import urllib.request

import pytest

PURE = {"walltime": "00:10:00", "cores": 1, "memory": "1GB", "pure_dask": True, "maximum_jobs": 2}


def test_pure_local_cluster_end_to_end(start_wrapper, wrapper_tools):
    wrapper = start_wrapper("distributed::LocalCluster", PURE, timeout=3)
    status = wrapper.wait_running()
    start, end = wrapper.port_range
    assert start <= status["port"] <= end and start <= status["dashboard_port"] <= end
    assert start <= status["health_port"] <= end
    assert len({status["port"], status["dashboard_port"], status["health_port"]}) == 3
    assert status["parameters"] == PURE and status["log"] == str(wrapper.log_path)
    # the launcher's handshake port is plain HTTP and says only OK; the dashboard is TLS and
    # wants a client certificate
    health = urllib.request.urlopen(f"http://127.0.0.1:{status['health_port']}/healthcheck", timeout=10)
    assert health.read() == b"OK"
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{status['dashboard_port']}/health", timeout=10)

    with wrapper.client(timeout=30) as client:
        client.wait_for_workers(2, timeout=60)
        workers = client.scheduler_info(n_workers=-1)["workers"].values()
        assert [w["nthreads"] for w in workers] == [2, 2]
        assert {w["memory_limit"] for w in workers} == {10**9}  # the queue's memory per worker
        assert all(start <= int(addr.rsplit(":", 1)[1]) <= end for addr in client.scheduler_info(n_workers=-1)["workers"])
        assert client.submit(sum, [1, 2, 3]).result() == 6
        assert sum(client.gather(client.map(pow, range(10), [2] * 10))) == 285
        # pure mode: no Seamless module in the wrapper (but its own) nor on the workers
        in_wrapper = client.run_on_scheduler(wrapper_tools.seamless_modules)
        assert in_wrapper and all(m.startswith(("seamless_dask", "seamless_service")) for m in in_wrapper), in_wrapper
        assert list(client.run(wrapper_tools.seamless_modules).values()) == [[], []]
        assert set(client.run(os.getenv, "SEAMLESS_WORKER_TRANSFORMATION_THROTTLE").values()) == {None}
        # the wrapper does not exit while a client is connected
        with pytest.raises(subprocess.TimeoutExpired):
            wrapper.proc.wait(5)

    assert wrapper.wait_exit(60) == 0
    assert not wrapper.status_path.exists()
    assert "idle for 3 s: shutting down" in wrapper.output()


def test_persistent_local_cluster_keeps_seamless_defaults(start_wrapper):
    params = {"cores": 2, "maximum_jobs": 1}  # what the embedded `local` cluster sends
    wrapper = start_wrapper("distributed::LocalCluster", params, timeout=2)
    with wrapper.client(timeout=30) as client:
        client.wait_for_workers(1, timeout=60)
        (worker,) = client.scheduler_info()["workers"].values()
        assert worker["nthreads"] == 6  # cores x transformation_throttle (3)
        assert set(client.run(os.getenv, "SEAMLESS_WORKER_TRANSFORMATION_THROTTLE").values()) == {"3"}
    assert wrapper.wait_exit(60) == 0


def test_no_idle_exit_while_a_task_runs(start_wrapper, tmp_path):
    """A fire-and-forget task outlives its client: the wrapper must wait for it to finish."""
    from distributed import fire_and_forget

    marker = tmp_path / "task-finished"
    wrapper = start_wrapper("distributed::LocalCluster", PURE, timeout=1)
    with wrapper.client(timeout=30) as client:
        client.wait_for_workers(1, timeout=60)
        fire_and_forget(client.submit(subprocess.run, ["sh", "-c", f"sleep 6 && touch {marker}"], pure=False))
    # The client is gone; if the wrapper exited after its 1 s timeout, the worker would be
    # killed and the marker never written.
    assert wrapper.wait_exit(90) == 0
    assert marker.exists()
    assert not wrapper.status_path.exists()


def test_sigterm_closes_cleanly(start_wrapper):
    wrapper = start_wrapper("distributed::LocalCluster", PURE)  # no timeout: runs until stopped
    with wrapper.client(timeout=30) as client:
        client.wait_for_workers(1, timeout=60)
        worker_pids = set(client.run(os.getpid).values())
    wrapper.proc.send_signal(signal.SIGTERM)
    assert wrapper.wait_exit(60) == 0
    assert not wrapper.status_path.exists()
    assert "received SIGTERM: shutting down" in wrapper.output()
    for pid in worker_pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
