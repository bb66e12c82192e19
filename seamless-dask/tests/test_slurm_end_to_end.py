"""The real wrapper on the real single-node SLURM (scripts/slurm-up.sh): adaptive jobs,
worker failures and queued jobs reported as Dask events, no job left behind."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slurm

# Tiny jobs; Adaptive checks every second and releases a job after 2 idle checks.
PURE = {
    "walltime": "00:10:00", "cores": 1, "memory": "1GB", "pure_dask": True, "maximum_jobs": 2,
    "target-duration": "1s",
    "extra_dask_config": {"distributed.adaptive.interval": "1s",
                          "distributed.adaptive.wait-count": "2"},
}


def squeue_states(job_ids: list[str]) -> dict[str, str]:
    out = subprocess.run(["squeue", "--noheader", "--states=all", "--jobs=" + ",".join(job_ids),
                          "--format=%i %T"], capture_output=True, text=True, timeout=20).stdout
    return dict(line.split() for line in out.splitlines() if line.strip())


def test_slurm_cluster_scales_up_computes_scales_down_and_exits(start_wrapper, wrapper_tools, tmp_path):
    wrapper = start_wrapper("dask_jobqueue::SLURMCluster", PURE, timeout=4)
    seen_jobs: set[str] = set()
    with wrapper.client(timeout=30) as client:
        assert wrapper_tools.our_slurm_jobs(tmp_path) == []  # adaptive, minimum 0: no job before work
        slow = wrapper_tools.by_value("def slow(x):\n    import time\n    time.sleep(2)\n    return x * x\n", "slow")
        futures = client.map(slow, range(8))

        def two_jobs_seen() -> bool:
            seen_jobs.update(wrapper_tools.our_slurm_jobs(tmp_path))
            return len(seen_jobs) >= 2

        wrapper_tools.wait_for(two_jobs_seen, 90, "two worker jobs in squeue")
        assert sum(client.gather(futures)) == sum(x * x for x in range(8))
        # pure mode on SLURM: workers run no Seamless code, 2 threads each
        # adaptive scaling may be retiring a worker by now: ask those still there (at least one)
        modules = client.run(wrapper_tools.seamless_modules, on_error="ignore")
        assert modules and all(mods == [] for mods in modules.values())
        assert {w["nthreads"] for w in client.scheduler_info()["workers"].values()} == {2}
        # the workers run the wrapper's own interpreter (this venv's), not a bare `python`
        executable = wrapper_tools.by_value("def exe():\n    import sys\n    return sys.executable\n", "exe")
        venv_bin = os.path.dirname(sys.executable)
        assert {os.path.dirname(exe) for exe in client.run(executable).values()} == {venv_bin}
        del futures  # results released: nothing left to keep a worker for
        # still connected, no work: Adaptive releases the jobs while the wrapper keeps running
        wrapper_tools.wait_for(lambda: wrapper_tools.our_slurm_jobs(tmp_path) == [], 60, "jobs released (scale down)")
        assert wrapper.proc.poll() is None
    assert wrapper.wait_exit(60) == 0
    assert not wrapper.status_path.exists()
    assert wrapper_tools.our_slurm_jobs(tmp_path) == []
    assert set(squeue_states(sorted(seen_jobs)).values()) <= {"CANCELLED", "COMPLETED"}
    # the worker jobs' logs go next to the wrapper's log
    assert any((tmp_path / f"wrapper0-job-{job}.err").exists() for job in seen_jobs)


def test_worker_job_failure_is_logged_and_published(start_wrapper, wrapper_tools, tmp_path):
    params = {**PURE, "maximum_jobs": 1, "python": "/nonexistent/bin/python3"}
    wrapper = start_wrapper("dask_jobqueue::SLURMCluster", params, timeout=3)
    with wrapper.client(timeout=30) as client:
        future = client.submit(sum, [1, 2])
        failed = wrapper_tools.wait_for(lambda: wrapper_tools.events(client, "worker-failed"), 90,
                                "a worker-failed event")[0]
        assert failed["state"] == "FAILED"
        assert "/nonexistent/bin/python3" in failed["stderr_tail"]
        assert squeue_states([failed["job_id"]]) == {failed["job_id"]: "FAILED"}
        future.cancel()
    assert wrapper.wait_exit(60) == 0
    log = wrapper.output()
    assert f"worker job {failed['job_id']} FAILED" in log and "/nonexistent/bin/python3" in log
    assert wrapper_tools.our_slurm_jobs(tmp_path) == []


def test_pending_jobs_are_published_and_cancelled_on_sigterm(start_wrapper, wrapper_tools, tmp_path):
    # --begin keeps the job queued (reason BeginTime) long past this test
    params = {**PURE, "maximum_jobs": 1, "job_extra_directives": ["--begin=now+600"]}
    wrapper = start_wrapper("dask_jobqueue::SLURMCluster", params)
    with wrapper.client(timeout=30) as client:
        future = client.submit(sum, [1, 2])  # held: a released task asks for no worker
        first = wrapper_tools.wait_for(lambda: wrapper_tools.events(client, "jobs-pending"), 60,
                               "a jobs-pending event")[0]
        assert first["pending"] == 1 and "BeginTime" in first["reasons"]
        later = wrapper_tools.wait_for(
            lambda: [e for e in wrapper_tools.events(client, "jobs-pending") if e["waited_seconds"] >= 4],
            60, "a later jobs-pending event")
        assert later[0]["waited_seconds"] > first["waited_seconds"]
        pending = wrapper_tools.our_slurm_jobs(tmp_path)
        assert len(pending) == 1
        assert future.status == "pending"
    wrapper.proc.terminate()
    assert wrapper.wait_exit(60) == 0
    assert wrapper_tools.our_slurm_jobs(tmp_path) == []
    assert squeue_states(pending) == {pending[0]: "CANCELLED"}
    assert "waiting for 1 queued worker job(s)" in wrapper.output()
