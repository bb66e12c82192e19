"""Persistent mode launches its services side by side; when several fail, ``set_stage()`` names
each failure and leaves nothing running. Real hashserver, database and Seamless Dask server."""

from __future__ import annotations

import pytest
import yaml

import persistent_services as ps

pytestmark = pytest.mark.servers

SCRIPT = """
import seamless_config
seamless_config.set_stage()
print("activated")
"""


def test_two_failing_services_are_both_reported_and_the_third_is_stopped(tmp_path, isolated_home):
    blocker = tmp_path / "not-a-directory"
    blocker.write_text("a file where the hashserver and the database expect their directories\n")
    definition = ps.write_cluster(isolated_home, "broken", tmp_path / "store", daskserver={"timeout": 120})
    frontend = definition["broken"]["frontends"][0]
    frontend["hashserver"]["bufferdir"] = str(blocker / "buffers")
    frontend["database"]["database_dir"] = str(blocker / "database")
    (isolated_home / ".seamless" / "clusters.yaml").write_text(yaml.safe_dump(definition))
    script = ps.write_project(tmp_path / "project", [{"cluster": "broken"}, {"project": "p"},
                                                     {"remote": "daskserver"}], SCRIPT)
    try:
        result = ps.run_script(script, isolated_home, timeout=240)
        assert result.returncode != 0 and "activated" not in result.stdout
        err = result.stderr
        assert "2 service(s) could not be started" in err, err
        assert "the hashserver 'hashserver-broken-rw-p'" in err and "the database 'database-broken-rw-p'" in err, err
        assert "Stopped what this launch had started: the Seamless Dask server 'daskserver-broken-p'" in err, err
        alive = {key: pid for key, pid in ps.launched_servers(isolated_home).items() if ps.pid_alive(pid)}
        assert not alive, f"left running: {alive}"
    finally:
        ps.stop_servers(isolated_home)
