"""Persistent mode with local execution: real hashserver + seamless-database launched by set_stage.

``execution: process`` on a ``type: local`` cluster: results land in the database and their
buffers on the hashserver, so a second process with the same profile gets them without running
the transformation again. Every user run is a fresh process; servers are stopped by PID after.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from seamless import Checksum
from seamless_config.launching import pid_alive
from seamless_remote import DatabaseClient, HashserverClient

import persistent_services as ps


pytestmark = pytest.mark.servers

SCRIPT = """
import json, sys
import seamless_config
seamless_config.set_stage()
from seamless_transformer import delayed
from seamless_remote.activation import get_active

@delayed
def count_and_square(x, sidefile):
    with open(sidefile, "a") as f:
        f.write("executed\\n")
    return {"square": x * x}

tf = count_and_square(int(sys.argv[1]), sys.argv[2])
value = tf.run()
active = get_active()
print(json.dumps({"value": value, "tf": tf.checksum.hex(), "result": tf.result.hex(),
                  "hashserver": active.hashserver.url, "database": active.database.url}))
"""


@pytest.fixture
def home(isolated_home: Path):
    yield isolated_home
    ps.stop_servers(isolated_home)


def test_results_persist_across_processes(home: Path, tmp_path: Path):
    ps.write_cluster(home, "laptop", tmp_path / "store")
    script = ps.write_project(tmp_path / "proj", [{"cluster": "laptop"}, {"project": "demo"}, {"execution": "process"}], SCRIPT)
    sidefile = tmp_path / "executions.txt"

    first = ps.last_json(ps.run_script(script, home, "7", str(sidefile)))
    assert first["value"] == {"square": 49}
    assert sidefile.read_text().count("executed") == 1

    # the services hold the result, checked with fresh clients
    result = DatabaseClient(first["database"], tls=ps.user_tls(home)).get_result(Checksum(first["tf"]))
    assert result == Checksum(first["result"])
    assert HashserverClient(first["hashserver"], tls=ps.user_tls(home)).get_buffer(result).get_value("mixed") == {"square": 49}
    stored = tmp_path / "store" / "buffers" / "demo" / result.hex()[:2] / result.hex()
    assert stored.exists(), "the hashserver keeps the project's buffers under bufferdir/<project>"

    second = ps.last_json(ps.run_script(script, home, "7", str(sidefile)))
    assert second["value"] == {"square": 49} and second["tf"] == first["tf"]
    assert sidefile.read_text().count("executed") == 1, "the second process executed it again"
    assert second["hashserver"] == first["hashserver"], "the running hashserver was not reused"

    ps.last_json(ps.run_script(script, home, "8", str(sidefile)))
    assert sidefile.read_text().count("executed") == 2


def test_hashserver_that_cannot_start_reports_its_cause(home: Path, tmp_path: Path):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the buffer directory should be")
    ps.write_cluster(home, "laptop", blocker)
    script = ps.write_project(tmp_path / "proj", [{"cluster": "laptop"}, {"project": "demo"}, {"execution": "process"}], SCRIPT)

    result = ps.run_script(script, home, "1", str(tmp_path / "side.txt"))
    assert result.returncode != 0
    assert "LaunchError" in result.stderr
    assert "hashserver-laptop-rw-demo" in result.stderr
    assert "not-a-directory" in result.stderr, "the error does not show the server's own cause"
    assert not (tmp_path / "side.txt").exists()
    for key, pid in ps.launched_servers(home).items():
        assert not pid_alive(pid), f"{key} was left running after the failed activation"


def test_missing_dask_backend_is_reported_before_anything_is_launched(home: Path, tmp_path: Path):
    ps.write_cluster(home, "laptop", tmp_path / "store", daskserver={})
    script = ps.write_project(
        tmp_path / "proj",
        [{"cluster": "laptop"}, {"project": "demo"}, {"execution": "remote"}, {"remote": "daskserver"}],
        "import sys\nsys.modules['seamless_dask.backend.transformation_backend'] = None  # as if not installed\n"
        "import seamless_config\nseamless_config.set_stage()\n",
    )
    result = ps.run_script(script, home)
    assert result.returncode != 0
    # the error points at the line of the 'remote' command that asked for the Dask backend
    assert re.search(r"ConfigurationError: \S+seamless[.a-z]*yaml:\d+: command 'remote': Cluster 'laptop' selects 'remote: daskserver'", result.stderr), result.stderr
    assert "DaskTransformationBackend" in result.stderr and "remote: jobserver" in result.stderr
    assert ps.launched_servers(home) == {}, "services were launched although activation could not succeed"


def test_tilde_directories_are_the_frontends_home(home: Path, tmp_path: Path):
    """``bufferdir: ~/store/buffers`` is expanded where the hashserver runs (remote-http-launcher
    does it on the frontend), not by the client: here the same machine and HOME."""
    ps.write_cluster(home, "laptop", Path("~/store"))
    assert "~/store/buffers" in (home / ".seamless" / "clusters.yaml").read_text()
    script = ps.write_project(tmp_path / "proj", [{"cluster": "laptop"}, {"project": "demo"}, {"execution": "process"}], SCRIPT)
    first = ps.last_json(ps.run_script(script, home, "5", str(tmp_path / "side.txt")))
    result = first["result"]
    assert (home / "store" / "buffers" / "demo" / result[:2] / result).exists()
    assert (home / "store" / "database" / "demo" / "seamless.db").exists()
