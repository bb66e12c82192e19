"""Status-file protocol: the StatusFile class, and the real wrapper's failure reports."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from seamless_dask.status_file import StatusFile, StatusFileError

WRAPPER = Path(sys.executable).parent / "seamless-dask-wrapper"


def test_waits_for_the_file_then_keeps_the_launchers_keys(tmp_path):
    path = tmp_path / "s.json"
    status = StatusFile(path)
    original = {"status": "starting", "parameters": {"cores": 1}, "workdir": "/w", "pid": 1}
    timer = threading.Timer(0.3, lambda: path.write_text(json.dumps(original)))
    timer.start()
    assert status.wait_and_read(5) == original
    status.write_running(41001, dashboard_port=41002)
    written = json.loads(path.read_text())
    since = written.pop("running_since")
    assert written == {**original, "status": "running", "port": 41001, "dashboard_port": 41002}
    assert abs(since - time.time()) < 3600  # epoch seconds
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert not path.with_name("s.json.tmp").exists()
    status.finish()
    assert not path.exists()


def test_failure_reason_is_one_line(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"status": "starting", "parameters": {}}))
    status = StatusFile(path)
    status.write_failed("first line\n  second line")
    assert json.loads(path.read_text())["reason"] == "first line second line"
    assert json.loads(path.read_text())["status"] == "failed"


def test_exit_before_running_marks_failed(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"status": "starting"}))
    StatusFile(path).finish()
    assert json.loads(path.read_text())["status"] == "failed"


def test_missing_and_bad_files(tmp_path):
    with pytest.raises(StatusFileError, match="did not appear within 0.3 s"):
        StatusFile(tmp_path / "none.json").wait_and_read(0.3)
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(StatusFileError, match="must hold a JSON object"):
        StatusFile(tmp_path / "list.json").wait_and_read(0.3)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(StatusFileError, match="not valid JSON"):
        StatusFile(tmp_path / "bad.json").wait_and_read(0.3)


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
    from seamless_dask import status_file, wrapper

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
