"""Persistent mode returns a new result before storing it: the real hashserver + database still
get it before the process exits, and a failure to store surfaces.

``execution: process`` on a ``type: local`` cluster (real hashserver and seamless-database
launched by set_stage); every user run is a fresh process; servers are stopped by PID after.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seamless import Checksum
from seamless_remote import DatabaseClient, HashserverClient

import persistent_services as ps

pytestmark = pytest.mark.servers

COMMANDS = [{"cluster": "laptop"}, {"project": "hot"}, {"execution": "process"}]

# computes N new transformations and exits right after the last one returned
BURST = """
import json, sys
import seamless_config
seamless_config.set_stage()
from seamless_transformer import delayed
from seamless_remote.activation import get_active

@delayed
def triple(x):
    return 3 * x

first, n = int(sys.argv[1]), int(sys.argv[2])
tfs = [triple(i) for i in range(first, first + n)]
values = [tf.run() for tf in tfs]
active = get_active()
print(json.dumps({"values": values, "tfs": [tf.checksum.hex() for tf in tfs],
                  "hashserver": active.hashserver.url, "database": active.database.url}))
"""

# stops its own hashserver (by PID, from the launcher's record), then computes
UNSTORABLE = """
import json, os, signal, sys, time
from pathlib import Path
import seamless_config
seamless_config.set_stage()
import seamless_transformer as st
from seamless_transformer import StoreError, delayed
from seamless_transformer.write_behind import get_writer
from seamless_remote.activation import get_active

@delayed
def triple(x):
    return 3 * x

assert triple(1).run() == 3
st.flush()  # stored while the hashserver runs
record = next((Path.home() / ".remote-http-launcher" / "server").glob("hashserver*.json"))
pid = json.loads(record.read_text())["pid"]
os.kill(pid, signal.SIGTERM)
while Path(f"/proc/{pid}").exists() and "zombie" not in Path(f"/proc/{pid}/status").read_text().lower():
    time.sleep(0.05)
tf = triple(14)
out = {"value": tf.run(), "tf": tf.checksum.hex(), "database": get_active().database.url}
if sys.argv[1] == "next-call":
    get_writer().drain()  # the failure is known (the client gave up on the stopped hashserver)
    try:
        triple(15).run()
    except StoreError as exc:
        out["error"] = str(exc)
print(json.dumps(out), flush=True)
"""


@pytest.fixture
def home(isolated_home: Path):
    yield isolated_home
    ps.stop_servers(isolated_home)


def test_results_are_stored_before_the_process_exits(home: Path, tmp_path: Path):
    ps.write_cluster(home, "laptop", tmp_path / "store")
    script = ps.write_project(tmp_path / "proj", COMMANDS, BURST)

    first = ps.last_json(ps.run_script(script, home, "1000", "20"))
    assert first["values"] == [3 * i for i in range(1000, 1020)]
    # the process has exited: every result is in the real database, its buffer on the hashserver
    database = DatabaseClient(first["database"], tls=ps.user_tls(home))
    hashserver = HashserverClient(first["hashserver"], tls=ps.user_tls(home))
    for tf, value in zip(first["tfs"], first["values"]):
        result = database.get_result(Checksum(tf))
        assert result is not None, f"transformation {tf} was not stored before the process exited"
        assert hashserver.get_buffer(result).get_value("mixed") == value

    # and a new process gets them as cache hits (a new one would be a different transformation)
    second = ps.last_json(ps.run_script(script, home, "1000", "20"))
    assert second["tfs"] == first["tfs"] and second["values"] == first["values"]


@pytest.mark.parametrize("when", ["next-call", "exit"])
def test_a_failure_to_store_surfaces(home: Path, tmp_path: Path, when: str):
    ps.write_cluster(home, "laptop", tmp_path / "store")
    script = ps.write_project(tmp_path / "proj", COMMANDS, UNSTORABLE)

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
