"""Persistent mode with local execution: real hashserver + seamless-database launched by set_stage.

``execution: process`` on a ``type: local`` cluster: results land in the database and their
buffers on the hashserver, so a second process with the same profile gets them without running
the transformation again. A new result is returned before it is stored: the services still get
it before the process exits, and a failure to store surfaces (also with ``remote: daskserver``). Every user run is a fresh
process; servers are stopped by PID after.
"""

from __future__ import annotations

import json
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

# x, x+1, ... (argument 3: how many; default 1); the process exits right after the last one returned
x, sidefile, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 1
tfs = [count_and_square(i, sidefile) for i in range(x, x + n)]
values = [tf.run() for tf in tfs]
tf, active = tfs[0], get_active()
print(json.dumps({"value": values[0], "tf": tf.checksum.hex(), "result": tf.result.hex(),
                  "values": values, "tfs": [t.checksum.hex() for t in tfs],
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


# -- the hot path: results returned before they are stored ------------------------------------

#: where the transformations run: in the user's process, or on the workers of a Seamless Dask
#: server (whose backend holds a finished task until the next submission: the stores must not care)
MODES = {"process": [{"execution": "process"}], "daskserver": [{"remote": "daskserver"}]}


def hot_project(home: Path, tmp_path: Path, mode: str, script: str) -> Path:
    daskserver = {"timeout": 120} if mode == "daskserver" else None
    ps.write_cluster(home, "laptop", tmp_path / "store", daskserver=daskserver)
    return ps.write_project(tmp_path / "proj", [{"cluster": "laptop"}, {"project": "hot"}, *MODES[mode]], script)


# stops its own hashserver (by PID, from the launcher's record), then computes
UNSTORABLE = """
import json, os, signal, sys, time
from pathlib import Path
import seamless_config
seamless_config.set_stage()
import seamless_transformer as st
from seamless_transformer import StoreError, delayed
from seamless_transformer.write_behind import get_write_behind
from seamless_remote.activation import get_active

@delayed
def triple(x):
    return 3 * x

assert triple(1).run() == 3
st.flush()  # stored while the hashserver runs
record = next((Path.home() / ".remote-http-launcher" / "server").glob("hashserver*.json"))
pid = json.loads(record.read_text())["pid"]
os.kill(pid, signal.SIGTERM)
def gone(pid):  # the service is this process's child (the launch runs in-process): reaped at once
    try:
        return "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    except OSError:
        return True
while not gone(pid):
    time.sleep(0.05)
tf = triple(14)
out = {"value": tf.run(), "tf": tf.checksum.hex(), "database": get_active().database.url}
if sys.argv[1] == "next-call":
    get_write_behind().drain()  # the failure is known (the client gave up on the stopped hashserver)
    try:
        triple(15).run()
    except StoreError as exc:
        out["error"] = str(exc)
print(json.dumps(out), flush=True)
"""


@pytest.mark.parametrize("mode", list(MODES))
def test_results_are_stored_before_the_process_exits(home: Path, tmp_path: Path, mode: str):
    script = hot_project(home, tmp_path, mode, SCRIPT)

    sidefile = tmp_path / "executions.txt"
    first = ps.last_json(ps.run_script(script, home, "1000", str(sidefile), "20"))
    assert first["values"] == [{"square": i * i} for i in range(1000, 1020)]
    assert sidefile.read_text().count("executed") == 20
    # the process has exited: every result is in the real database, its buffer on the hashserver
    database = DatabaseClient(first["database"], tls=ps.user_tls(home))
    hashserver = HashserverClient(first["hashserver"], tls=ps.user_tls(home))
    for tf, value in zip(first["tfs"], first["values"], strict=True):
        result = database.get_result(Checksum(tf))
        assert result is not None, f"transformation {tf} was not stored before the process exited"
        assert hashserver.get_buffer(result).get_value("mixed") == value

    # and a new process gets them as cache hits from the database, executing nothing
    second = ps.last_json(ps.run_script(script, home, "1000", str(sidefile), "20"))
    assert second["tfs"] == first["tfs"] and second["values"] == first["values"]
    assert sidefile.read_text().count("executed") == 20, "the second process executed them again"


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("when", ["next-call", "exit"])
def test_a_failure_to_store_surfaces(home: Path, tmp_path: Path, when: str, mode: str):
    script = hot_project(home, tmp_path, mode, UNSTORABLE)

    run = ps.run_script(script, home, when)
    assert run.stdout.strip(), run.stderr
    out = json.loads(run.stdout.strip().splitlines()[-1])
    assert out["value"] == 42  # the result was returned
    if when == "next-call":
        assert run.returncode == 0, run.stderr
        assert f"Storing the result of transformation {out['tf']} failed" in out["error"]
        assert "hashserver" in out["error"] and "cannot be reached" in out["error"]
    else:  # raised by the exit handler
        assert f"StoreError: Storing the result of transformation {out['tf']} failed" in run.stderr, run.stderr
        assert "cannot be reached" in run.stderr
    # the database never names a result whose buffer could not be stored
    assert DatabaseClient(out["database"], tls=ps.user_tls(home)).get_result(Checksum(out["tf"])) is None
