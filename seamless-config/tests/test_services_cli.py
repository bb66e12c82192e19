"""seamless-services: list and stop what set_stage() launched (a real local Dask scheduler)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

import seamless_config
from seamless_config import launching, lifecycle
from seamless_config.tools import configure_pure_daskserver

CLI = str(Path(sys.executable).parent / "seamless-services")


def cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "HOME": str(home)}
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env, timeout=120)


def test_usage_errors(isolated_home: Path):
    assert cli(home=isolated_home).returncode == 2
    done = cli("stop", home=isolated_home)
    assert done.returncode == 2 and "give one or more KEYs, or --all" in done.stderr
    assert "List or stop the services" in cli("--help", home=isolated_home).stdout


def test_nothing_launched(isolated_home: Path):
    done = cli("list", home=isolated_home)
    assert done.returncode == 0 and "No services launched" in done.stdout
    done = cli("stop", "pure-daskserver-nope-default", home=isolated_home)
    assert done.returncode == 1 and "no launched service 'pure-daskserver-nope-default'" in done.stderr


def test_list_and_stop_a_real_scheduler(isolated_home: Path, project_dir: Path, write_yaml):
    write_yaml(project_dir / "seamless.profile.yaml", "- clusters:\n    cli: {type: local, workers: 1}\n- cluster: cli\n- persistent: false\n")
    config = None
    try:
        client = seamless_config.set_stage(workdir=project_dir)
        config = configure_pure_daskserver()
        pid = launching.server_state(config)["pid"]
        lifecycle.reset()  # close the client: the scheduler stays up
        assert client.status == "closed" and launching.pid_alive(pid)

        listed = cli("list", home=isolated_home)
        assert listed.returncode == 0
        assert listed.stdout.splitlines() == [
            f"pure-daskserver-cli-default\trunning (pid {pid})\tthis machine\tcluster=cli queue=default"
        ]
        stopped = cli("stop", "--all", home=isolated_home)
        assert stopped.returncode == 0 and stopped.stdout.strip() == "pure-daskserver-cli-default: stopped"
        assert launching.wait_for_exit(pid)
        assert "No services launched" in cli("list", home=isolated_home).stdout
        config = None
    finally:
        lifecycle.reset()
        if config is not None:
            launching.stop(config)
