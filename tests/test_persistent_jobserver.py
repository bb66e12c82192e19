"""Persistent mode with ``remote: jobserver``: set_stage launches hashserver, database and a real
seamless-jobserver; transformations run in the jobserver's workers, results are persisted.

Every user run is a fresh ``python script.py`` with an isolated HOME; servers are stopped by PID.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from seamless import Checksum
from seamless_config.launching import pid_alive
from seamless_remote import DatabaseClient, HashserverClient

import persistent_services as ps


pytestmark = pytest.mark.servers

COMMANDS = [{"cluster": "laptop"}, {"project": "demo"}, {"execution": "remote"}, {"remote": "jobserver"}]

SCRIPT = """
import json, os, sys
import seamless_config
seamless_config.set_stage()
import seamless_transformer as st
from seamless_remote.activation import deactivate, get_active

@st.delayed
def where(sidefile, offset):
    import os
    with open(sidefile, "a") as f:
        f.write("executed\\n")
    return {"pid": os.getpid(), "offset": offset}

@st.delayed
def fail(x):
    def helper_that_fails(x):
        raise KeyError(f"no such thing: {x}")
    return helper_that_fails(x)

tf = where(sys.argv[1], 1)
value = tf.run()
failed = fail(5).compute()
active = get_active()
report = {"value": value, "my_pid": os.getpid(), "tf": tf.checksum.hex(), "result": tf.result.hex(),
          "hashserver": active.hashserver.url, "database": active.database.url,
          "jobserver": active.urls["jobserver"], "error": str(failed.exception)}
deactivate()
from seamless_transformer import cache
report["after_deactivate"] = {"backend": st.get_backend() is not None, "stores": len(cache._extra_stores)}
print(json.dumps(report))
"""


@pytest.fixture
def home(isolated_home: Path):
    yield isolated_home
    ps.stop_servers(isolated_home)


def test_transformation_runs_in_the_jobserver(home: Path, tmp_path: Path):
    ps.write_cluster(home, "laptop", tmp_path / "store", jobserver={})
    script = ps.write_project(tmp_path / "proj", COMMANDS, SCRIPT)
    sidefile = tmp_path / "executions.txt"

    report = ps.last_json(ps.run_script(script, home, str(sidefile)))
    assert report["value"]["offset"] == 1
    assert report["value"]["pid"] != report["my_pid"], "the transformation ran in the caller's process"
    servers = ps.launched_servers(home)
    jobserver_pid = servers["jobserver-laptop-demo"]
    assert report["value"]["pid"] != jobserver_pid  # one of its worker processes
    assert Path(f"/proc/{report['value']['pid']}").exists() and pid_alive(jobserver_pid)
    assert ps.parent_pid(report["value"]["pid"]) == jobserver_pid, "not a worker of the jobserver"

    result = DatabaseClient(report["database"], tls=ps.user_tls(home)).get_result(Checksum(report["tf"]))
    assert result == Checksum(report["result"])
    assert HashserverClient(report["hashserver"], tls=ps.user_tls(home)).get_buffer(result).get_value("mixed") == report["value"]

    # the error of the failing transformation reached the caller, with the remote traceback
    assert "fail() raised KeyError" in report["error"] and "no such thing: 5" in report["error"]
    traceback = report["error"].split("Traceback (most recent call last):", 1)[1]
    assert f'File "{script}"' in traceback and "in helper_that_fails" in traceback
    assert 'raise KeyError(f"no such thing: {x}")' in traceback
    assert report["after_deactivate"] == {"backend": False, "stores": 0}

    # a second process: same services reused, cached result, nothing executed again
    again = ps.last_json(ps.run_script(script, home, str(sidefile)))
    assert again["value"] == report["value"] and again["jobserver"] == report["jobserver"]
    assert sidefile.read_text().count("executed") == 1
    assert ps.launched_servers(home)["jobserver-laptop-demo"] == jobserver_pid


def test_jobserver_that_cannot_start_reports_its_cause(home: Path, tmp_path: Path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ps.write_cluster(home, "laptop", tmp_path / "store", jobserver={"port_start": port, "port_end": port})
        script = ps.write_project(tmp_path / "proj", COMMANDS, SCRIPT)
        result = ps.run_script(script, home, str(tmp_path / "side.txt"))
    assert result.returncode != 0
    assert "LaunchError: The jobserver 'jobserver-laptop-demo' could not be started" in result.stderr
    assert f"No free port available in range {port}-{port} on 127.0.0.1" in result.stderr
    assert not (tmp_path / "side.txt").exists()
    jobserver_pid = ps.launched_servers(home).get("jobserver-laptop-demo")
    assert jobserver_pid is None or not pid_alive(jobserver_pid)
