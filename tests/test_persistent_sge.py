"""Persistent mode on a real Grid Engine (scripts/sge-up.sh): a ``type: sge`` cluster whose
frontend is this machine (``local_cluster``), a project and ``remote: daskserver``.

``set_stage()`` launches the hashserver, the database and a persistent-mode Seamless Dask server
(``dask_jobqueue::SGECluster``); the ``@delayed`` transformation then runs in a Dask worker inside
a Grid Engine job (its environment has the job's ``JOB_ID``), and its result is recorded. When the
servers are stopped, the job is deleted: the queue holds none of ours afterwards.
"""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
import yaml

import persistent_services as ps

pytestmark = [pytest.mark.servers, pytest.mark.sge]

SCRIPT = """
import json, os, sys
from seamless_config import set_stage
from seamless_remote.activation import get_active
from seamless_transformer import delayed

set_stage()

@delayed
def square_in_job(x):
    import os
    return {"square": x * x, "job_id": os.environ.get("JOB_ID"), "queue": os.environ.get("QUEUE")}

result = square_in_job(int(sys.argv[1])).run()
print(json.dumps({"result": result, "backend": type(get_active().backend).__name__}))
"""


def qstat_jobs() -> set[str]:
    out = subprocess.run(["qstat"], capture_output=True, text=True, timeout=20).stdout
    return {line.split()[0] for line in out.splitlines() if line.strip()[:1].isdigit()}


def test_transformation_runs_inside_a_grid_engine_job(isolated_home: Path, tmp_path: Path):
    store = tmp_path / "store"
    frontend = {
        "hostname": "localhost",  # with local_cluster, launched on this machine without SSH
        "hashserver": {"bufferdir": str(store / "buffers"), "timeout": 120},
        "database": {"database_dir": str(store / "database"), "timeout": 120},
        "daskserver": {"timeout": 120},
    }
    clusters = {
        "grid": {
            "type": "sge", "frontends": [frontend],
            "queues": {"default": {"walltime": "00:10:00", "cores": 1, "memory": "1GB",
                                   "maximum_jobs": 1, "queue": "all.q"}},
        },
        "local_cluster": "grid",
    }
    (isolated_home / ".seamless").mkdir()
    (isolated_home / ".seamless" / "clusters.yaml").write_text(yaml.safe_dump(clusters))
    script = ps.write_project(tmp_path / "proj", [{"cluster": "grid"}, {"project": "p"},
                                                  {"remote": "daskserver"}], SCRIPT)
    before = qstat_jobs()
    try:
        out = ps.last_json(ps.run_script(script, isolated_home, "7", timeout=180))
        assert out["backend"] == "DaskTransformationBackend"
        assert out["result"]["square"] == 49
        job_id = out["result"]["job_id"]
        assert job_id and job_id.isdigit(), f"the transformation did not run in a Grid Engine job: {out}"
        assert out["result"]["queue"] == "all.q"
        assert job_id in qstat_jobs() - before  # the worker job is still held by the Dask server
        servers = ps.launched_servers(isolated_home)
        assert "daskserver-grid-p" in servers
    finally:
        ps.stop_servers(isolated_home)
    left = qstat_jobs() - before
    deadline = time.monotonic() + 30
    while left and time.monotonic() < deadline:  # qdel takes a moment to empty the queue
        time.sleep(0.5)
        left &= qstat_jobs()
    assert not left, f"Grid Engine jobs left behind: {left}"
