"""Persistent mode on Dask, the user's path: a profile naming a ``type: local`` cluster, a project
and ``remote: daskserver`` (persistence is the default with a cluster).

``seamless_config.set_stage()`` launches the hashserver, the database and a persistent-mode
``seamless-dask-wrapper`` (through remote-http-launcher), and registers the Dask transformation
backend. A ``@delayed`` transformation then runs on a Dask worker of that wrapper (a child process
of the wrapper, not the user's process); its result is recorded, so a second process with the same
profile gets it without executing anything. Every user run is a fresh ``python script.py`` with an
isolated HOME; afterwards every server is stopped by PID and the Dask workers are checked gone.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from seamless_config.launching import pid_alive, wait_for_exit

import persistent_services as ps


pytestmark = pytest.mark.servers

QUEUES = {"default": {"cores": 1, "maximum_jobs": 2, "memory": "1GB", "walltime": "01:00:00"}}

SCRIPT = """
import json, os, sys
from seamless_config import set_stage
from seamless_remote.activation import get_active
from seamless_transformer import delayed

set_stage()

@delayed
def square_where(x, sidefile):
    import os
    with open(sidefile, "a") as f:
        f.write("executed\\n")
    return {"square": x * x, "pid": os.getpid()}

@delayed
def plus_one(d, sidefile):
    with open(sidefile, "a") as f:
        f.write("executed\\n")
    return d["square"] + 1

first = square_where(int(sys.argv[1]), sys.argv[2])
second = plus_one(first, sys.argv[2])
total = second.run()
active = get_active()
print(json.dumps({"value": first.value, "total": total, "client_pid": os.getpid(),
                  "backend": type(active.backend).__name__, "daskserver": active.urls.get("daskserver")}))
"""


@pytest.fixture
def home(isolated_home: Path):
    worker_pids: list[int] = []
    yield isolated_home, worker_pids
    ps.stop_servers(isolated_home)
    survivors = [pid for pid in worker_pids if not wait_for_exit(pid)]
    assert not survivors, f"Dask worker processes survived their wrapper: {survivors}"


def test_transformations_run_on_dask_workers_and_persist(home, tmp_path: Path):
    home, worker_pids = home
    ps.write_cluster(home, "laptop", tmp_path / "store", daskserver={"timeout": 120}, queues=QUEUES)
    commands = [{"cluster": "laptop"}, {"project": "p"}, {"remote": "daskserver"}]
    script = ps.write_project(tmp_path / "proj", commands, SCRIPT)
    sidefile = tmp_path / "executions.txt"

    first = ps.last_json(ps.run_script(script, home, "6", str(sidefile)))
    assert first["total"] == 37 and first["value"]["square"] == 36
    assert first["backend"] == "DaskTransformationBackend"
    assert first["daskserver"].startswith("tls://127.0.0.1:")
    assert sidefile.read_text().count("executed") == 2
    worker = first["value"]["pid"]
    worker_pids.append(worker)
    servers = ps.launched_servers(home)
    assert set(servers) == {"hashserver-laptop-rw-p", "database-laptop-rw-p", "daskserver-laptop-p"}
    assert worker != first["client_pid"]
    assert pid_alive(worker) and servers["daskserver-laptop-p"] in ps.ancestors(worker)[:2], (
        "the transformation did not run in a worker process of the Seamless Dask server"
    )

    second = ps.last_json(ps.run_script(script, home, "6", str(sidefile)))
    assert second["total"] == 37 and second["value"] == first["value"]
    assert sidefile.read_text().count("executed") == 2, "the second process executed it again"
    assert ps.launched_servers(home) == servers, "the running servers were not reused"


NO_SEAMLESS_DASK = """
import sys
sys.modules["seamless_dask"] = None  # as if seamless-dask were not installed: its import fails
from seamless_config import set_stage
set_stage()
"""


def test_a_missing_dask_backend_is_reported_before_anything_is_launched(home, tmp_path: Path):
    home, _ = home
    ps.write_cluster(home, "laptop", tmp_path / "store", daskserver={"timeout": 120}, queues=QUEUES)
    script = ps.write_project(tmp_path / "proj", [{"cluster": "laptop"}, {"project": "p"}, {"remote": "daskserver"}],
                              NO_SEAMLESS_DASK)
    result = ps.run_script(script, home)
    assert result.returncode != 0
    assert "ConfigurationError" in result.stderr and "'remote: daskserver'" in result.stderr, result.stderr
    assert "Install seamless-dask" in result.stderr and "seamless_dask" in result.stderr
    assert ps.launched_servers(home) == {}, "services were launched for a stage that cannot run"
