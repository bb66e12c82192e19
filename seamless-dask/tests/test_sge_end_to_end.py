"""The real wrapper on the real single-node Grid Engine (scripts/sge-up.sh): adaptive jobs seen in
qstat, worker failures (read back with qacct) and held jobs reported as Dask events, no job left
behind. The twin of test_slurm_end_to_end.py."""

from __future__ import annotations

import subprocess

import pytest

pytestmark = pytest.mark.sge

# Tiny jobs; Adaptive checks every second and releases a job after 2 idle checks.
PURE = {
    "walltime": "00:10:00", "cores": 1, "memory": "1GB", "pure_dask": True, "maximum_jobs": 2,
    "target-duration": "1s",
    "extra_dask_config": {"distributed.adaptive.interval": "1s",
                          "distributed.adaptive.wait-count": "2"},
}


def qstat_jobs() -> set[str]:
    """Ids of the jobs Grid Engine holds (waiting or running)."""
    out = subprocess.run(["qstat"], capture_output=True, text=True, timeout=20).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()[:1].isdigit()}


def test_sge_cluster_scales_up_computes_scales_down_and_exits(start_wrapper, wrapper_tools, tmp_path):
    wrapper = start_wrapper("dask_jobqueue::SGECluster", PURE, timeout=4)
    seen_jobs: set[str] = set()
    with wrapper.client(timeout=30) as client:
        assert wrapper_tools.our_sge_jobs(tmp_path) == []  # adaptive, minimum 0: no job before work
        slow = wrapper_tools.by_value("def slow(x):\n    import time\n    time.sleep(2)\n    return x * x\n", "slow")
        futures = client.map(slow, range(8))

        def two_jobs_in_qstat() -> bool:
            seen_jobs.update(set(wrapper_tools.our_sge_jobs(tmp_path)) & qstat_jobs())
            return len(seen_jobs) >= 2

        wrapper_tools.wait_for(two_jobs_in_qstat, 90, "two worker jobs in qstat")
        assert sum(client.gather(futures)) == sum(x * x for x in range(8))
        # the workers run inside Grid Engine jobs: the job id is in their environment
        job_id = wrapper_tools.by_value("def job_id():\n    import os\n    return os.environ.get('JOB_ID')\n", "job_id")
        assert set(client.run(job_id).values()) <= seen_jobs
        # adaptive scaling may be retiring a worker by now: ask those still there (at least one)
        modules = client.run(wrapper_tools.seamless_modules, on_error="ignore")
        assert modules and all(mods == [] for mods in modules.values())
        del futures
        wrapper_tools.wait_for(lambda: wrapper_tools.our_sge_jobs(tmp_path) == [], 60, "jobs released (scale down)")
        assert wrapper.proc.poll() is None
    assert wrapper.wait_exit(60) == 0
    assert not wrapper.status_path.exists()
    assert wrapper_tools.our_sge_jobs(tmp_path) == [] and not seen_jobs & qstat_jobs()
    # stdout and stderr kept apart (dask-jobqueue's "-j y" is skipped), next to the wrapper's log
    assert any((tmp_path / f"wrapper0-job-{job}.err").exists() for job in seen_jobs)
    assert any((tmp_path / f"wrapper0-job-{job}.out").exists() for job in seen_jobs)


def test_worker_job_failure_is_logged_and_published(start_wrapper, wrapper_tools, tmp_path):
    params = {**PURE, "maximum_jobs": 1, "python": "/nonexistent/bin/python3"}
    wrapper = start_wrapper("dask_jobqueue::SGECluster", params, timeout=3)
    with wrapper.client(timeout=30) as client:
        future = client.submit(sum, [1, 2])
        failed = wrapper_tools.wait_for(lambda: wrapper_tools.events(client, "worker-failed"), 90,
                                        "a worker-failed event")[0]
        # read from the accounting record (qacct): the job has left qstat
        assert failed["state"] == "finished" and failed["exit_status"] not in (None, "0")
        assert "/nonexistent/bin/python3" in failed["stderr_tail"]
        assert failed["job_id"] not in qstat_jobs()
        future.cancel()
    assert wrapper.wait_exit(60) == 0
    log = wrapper.output()
    assert f"worker job {failed['job_id']} finished (exit status {failed['exit_status']})" in log
    assert "/nonexistent/bin/python3" in log
    assert wrapper_tools.our_sge_jobs(tmp_path) == []


def test_held_jobs_are_published_and_deleted_on_sigterm(start_wrapper, wrapper_tools, tmp_path):
    params = {**PURE, "maximum_jobs": 1, "job_extra_directives": ["-h"]}  # user hold: state hqw
    wrapper = start_wrapper("dask_jobqueue::SGECluster", params)
    with wrapper.client(timeout=30) as client:
        future = client.submit(sum, [1, 2])
        first = wrapper_tools.wait_for(lambda: wrapper_tools.events(client, "jobs-pending"), 60,
                                       "a jobs-pending event")[0]
        assert first["pending"] == 1
        held = wrapper_tools.our_sge_jobs(tmp_path)
        assert len(held) == 1 and held[0] in qstat_jobs()
        assert future.status == "pending"
    wrapper.proc.terminate()
    assert wrapper.wait_exit(60) == 0
    assert wrapper_tools.our_sge_jobs(tmp_path) == [] and held[0] not in qstat_jobs()
    assert "waiting for 1 queued worker job(s)" in wrapper.output()
