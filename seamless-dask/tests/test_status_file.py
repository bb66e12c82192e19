"""The wrapper side of the status-file protocol: what the real wrapper reports in it."""

from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

WRAPPER = Path(sys.executable).parent / "seamless-dask-wrapper"


GOOD = {"walltime": "00:10:00", "cores": 1, "memory": "1GB", "pure_dask": True}


@pytest.mark.parametrize(
    "cluster, parameters, reason",
    [
        ("distributed::LocalCluster", {**GOOD, "cores": 0}, "Parameter 'cores' must be positive"),
        ("distributed::LocalCluster", {"memory": "1GB"}, "Missing required parameter 'cores'"),
        ("dask_jobqueue::SLURMCluster", {"cores": 1, "memory": "1GB"},
         "Missing required parameter 'walltime': job-queue clusters need walltime and memory"),
        ("distributed::LocalCluster", {**GOOD, "threads": 2}, "Unknown parameter(s) 'threads'; valid parameters are: cores, walltime"),
        ("LocalCluster", GOOD, "Cluster string must be of the form 'MODULE::SYMBOL'"),
        ("distributed::NoSuchCluster", GOOD, "module 'distributed' has no 'NoSuchCluster'"),
        ("no_such_module_xyz::C", GOOD, "cannot import 'no_such_module_xyz'"),
        ("distributed::Client", GOOD, "distributed::Client must be a Cluster instance, class or function"),
        ("dask_jobqueue::OARCluster", GOOD, "needs the parameter 'memory_per_core_property_name'"),
        ("dask_jobqueue::HTCondorCluster", {"cores": 1, "memory": "1GB"},
         "Missing required parameter 'disk': job-queue clusters need memory and disk"),
        ("dask_jobqueue::SGECluster", {**GOOD, "disk": "1GB"},
         "Parameter(s) 'disk' do not apply to sge clusters; its batch-specific parameters are: "
         "partition, project, resource_spec, walltime"),
    ],
)
def test_startup_errors_are_reported_in_the_status_file(start_wrapper, cluster, parameters, reason):
    wrapper = start_wrapper(cluster, parameters, timeout=5)
    assert wrapper.wait_exit(60) == 1
    status = wrapper.status()
    assert status["status"] == "failed"
    assert reason in status["reason"]
    assert "\n" not in status["reason"]
    assert status["parameters"] == parameters  # the launcher's content is kept
    assert reason.split("(")[0].split("'")[0] in wrapper.output()  # full reason in the log


def test_no_free_port_in_range(start_wrapper):
    blockers = []
    for _ in range(50):  # find two adjacent free ports and hold them
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
        other = socket.socket()
        try:
            other.bind(("127.0.0.1", port + 1))
        except OSError:
            sock.close()
            other.close()
            continue
        blockers = [sock, other]
        break
    try:
        wrapper = start_wrapper("distributed::LocalCluster", GOOD, port_range=(port, port + 1))
        assert wrapper.wait_exit(60) == 1
        assert f"No free port available in range {port}-{port + 1}" in wrapper.status()["reason"]
    finally:
        for sock in blockers:
            sock.close()


def test_bad_timeout_is_a_startup_error(start_wrapper):
    wrapper = start_wrapper("distributed::LocalCluster", GOOD, timeout=-1)
    assert wrapper.wait_exit(60) == 1
    assert "--timeout must be a positive number" in wrapper.status()["reason"]


def test_status_file_that_never_appears(tmp_path, monkeypatch, caplog):
    """In-process, with the 20 s wait shortened: the wrapper exits 1 and says why."""
    from seamless_dask import wrapper
    from seamless_service import status_file

    monkeypatch.setattr(status_file, "WAIT_SECONDS", 0.3)
    code = wrapper.main(["dask_jobqueue::SLURMCluster", "--port-range", "40000", "40010",
                         "--status-file", str(tmp_path / "never.json")])
    assert code == 1
    assert "did not appear within 0.3 s" in caplog.text


def test_usage_errors_exit_2(tmp_path):
    done = subprocess.run([str(WRAPPER), "distributed::LocalCluster"], capture_output=True, text=True)
    assert done.returncode == 2 and "--port-range" in done.stderr
    helped = subprocess.run([str(WRAPPER), "--help"], capture_output=True, text=True)
    assert helped.returncode == 0 and "--timeout" in helped.stdout and "pure_dask" in helped.stdout


def test_launcher_that_exits_without_writing_the_status_file(tmp_path):
    """The launcher starts the wrapper, then dies before writing the status file (here: a shell
    that exits at once): the wrapper notices its launcher is gone and exits, instead of waiting
    out the 20 s for the file."""
    log = tmp_path / "wrapper.log"
    status = tmp_path / "never.json"
    command = f"{shlex.quote(str(WRAPPER))} distributed::LocalCluster --port-range 40000 40010 " \
              f"--status-file {shlex.quote(str(status))} > {shlex.quote(str(log))} 2>&1 & echo $!"
    pid = int(subprocess.run(["sh", "-c", command], capture_output=True, text=True, check=True).stdout)
    deadline = time.monotonic() + 60
    while _running(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _running(pid), "the wrapper is still waiting"
    text = log.read_text()
    assert "the launcher failed before writing it" in text and "did not appear within" not in text


def _running(pid: int) -> bool:
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False


LOST_RACE = """
import dataclasses, json, logging, socket, sys
from seamless_dask import wrapper
from seamless_dask.configuration import build_configuration
from seamless_dask.parameters import parse_parameters
from seamless_service.status_file import StatusFile
from seamless_dask.cluster_factory import apply_dask_config

logging.basicConfig(level=logging.INFO, stream=sys.stderr)
start, end = int(sys.argv[1]), int(sys.argv[2])
args = wrapper.build_parser().parse_args(
    ["distributed::LocalCluster", "--port-range", str(start), str(end), "--status-file", "unused", "--no-tls"])
content = {"parameters": {"cores": 1, "maximum_jobs": 1, "pure_dask": True}}
cfg, placement = wrapper.configure(args, StatusFile("unused"), content)
# another process binds a picked port before Dask does
stolen = getattr(placement, sys.argv[3] + "_port")
thief = socket.socket()
thief.bind(("127.0.0.1", stolen))
thief.listen(1)
apply_dask_config(cfg)
cluster, cfg2, placement2 = wrapper.create_on_free_ports(args, StatusFile("unused"), content, cfg, placement)
print(json.dumps({"lost": stolen, "scheduler": cluster.scheduler.port,
                  "dashboard": cluster.scheduler.http_server.port, "placement": placement2.scheduler_port}))
cluster.close()
"""


@pytest.mark.parametrize("port", ["scheduler", "dashboard"])
def test_a_lost_port_race_is_retried_with_other_ports(tmp_path, port):
    """A port picked by the wrapper is taken before Dask binds it (as by another user's service
    on a login node): the scheduler's fails the start, the dashboard's makes Dask move it out of
    the range; either way the wrapper picks other ports and the cluster starts in the range."""
    done = subprocess.run([sys.executable, "-c", LOST_RACE, "40300", "40340", port], capture_output=True,
                          text=True, timeout=120, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["scheduler"] == result["placement"]
    assert result["lost"] not in (result["scheduler"], result["dashboard"])
    assert 40300 <= result["scheduler"] <= 40340 and 40300 <= result["dashboard"] <= 40340
    assert f"Address already in use on 127.0.0.1:{result['lost']}" in done.stderr
