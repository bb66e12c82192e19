"""seamless-services: list, stop and read the logs of what was launched (a real local Dask scheduler,
and the status-file test service of the launching tests for logs that grow)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import seamless_config
from seamless_config import launching, lifecycle, services_cli
from seamless_config.tools import configure_pure_daskserver

CLI = str(Path(sys.executable).parent / "seamless-services")


def cli(*args: str, home: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home)}
    return subprocess.run([CLI, *args], capture_output=True, text=True, env=env, timeout=120)


def test_usage_errors(isolated_home: Path):
    assert cli(home=isolated_home).returncode == 2
    done = cli("stop", home=isolated_home)
    assert done.returncode == 2 and "give one or more KEYs, or --all" in done.stderr
    assert "List or stop the services" in cli("--help", home=isolated_home).stdout
    done = cli("logs", "some-key", "--tail", "-1", home=isolated_home)
    assert done.returncode == 2 and "--tail must be 0 or more" in done.stderr


def test_nothing_launched(isolated_home: Path):
    done = cli("list", home=isolated_home)
    assert done.returncode == 0 and "No services launched" in done.stdout
    done = cli("stop", "pure-daskserver-nope-default", home=isolated_home)
    assert done.returncode == 1 and "no launched service 'pure-daskserver-nope-default'" in done.stderr
    done = cli("logs", "pure-daskserver-nope-default", home=isolated_home)
    assert done.returncode == 1 and "no log of 'pure-daskserver-nope-default' on this machine" in done.stderr
    assert json.loads(cli("list", "--json", home=isolated_home).stdout) == {"services": []}


def test_list_and_stop_a_real_scheduler(isolated_home: Path, project_dir: Path, write_yaml):
    write_yaml(project_dir / "seamless.profile.yaml", "- clusters:\n    cli: {type: local, workers: 1}\n- cluster: cli\n- persistent: false\n")
    config = None
    try:
        client = seamless_config.set_stage(workdir=project_dir)
        config = configure_pure_daskserver()
        pid = launching.server_state(config)["pid"]
        lifecycle.reset()  # close the client: the scheduler stays up
        assert client.status == "closed" and launching.pid_alive(pid)

        deadline = time.monotonic() + 60
        while True:  # the wrapper notices within a poll that its client is gone, and says so
            listed = cli("list", home=isolated_home)
            assert listed.returncode == 0
            (line,) = listed.stdout.splitlines()
            if "\tidle " in line:
                break
            assert time.monotonic() < deadline, f"the idle time never showed: {line}"
            time.sleep(0.5)
        fields = line.split("\t")
        assert fields[:4] == ["pure-daskserver-cli-default", f"running (pid {pid})", "this machine", "cluster=cli queue=default"]
        state = launching.server_state(config)
        # mutual TLS (the default): the scheduler speaks tls://, its dashboard https://
        assert fields[4:6] == [f"tls://127.0.0.1:{state['port']}", f"https://127.0.0.1:{state['dashboard_port']}/status"]
        assert fields[6].startswith("up ") and fields[6].endswith(" s")
        assert fields[7].startswith("idle ")  # the wrapper publishes it: its client is closed

        document = json.loads(cli("list", "--json", home=isolated_home).stdout)
        (service,) = document["services"]
        assert service["key"] == "pure-daskserver-cli-default" and service["state"] == "running" and service["pid"] == pid
        assert service["service"] == "pure-daskserver" and service["cluster"] == "cli" and service["queue"] == "default"
        assert service["dashboard"] == fields[5] and 0 <= service["age_seconds"] < 600
        assert 0 <= service["idle_seconds"] <= service["age_seconds"] + 1

        logs = cli("logs", "pure-daskserver-cli-default", home=isolated_home)
        assert logs.returncode == 0 and "Scheduler at:" in logs.stdout  # the wrapper's own Dask log
        tail = cli("logs", "pure-daskserver-cli-default", "--tail", "2", home=isolated_home)
        everything = cli("logs", "pure-daskserver-cli-default", "--tail", "100000", home=isolated_home)
        assert everything.stdout.startswith(logs.stdout)  # all of it (the log may have grown since)
        assert tail.returncode == 0 and len(tail.stdout.splitlines()) == 2 and tail.stdout in everything.stdout
        stopped = cli("stop", "--all", home=isolated_home)
        assert stopped.returncode == 0 and stopped.stdout.strip() == "pure-daskserver-cli-default: stopped"
        assert launching.wait_for_exit(pid)
        assert "No services launched" in cli("list", home=isolated_home).stdout
        config = None
    finally:
        lifecycle.reset()
        if config is not None:
            launching.stop(config)


def test_logs_follow_prints_what_the_service_writes(service, isolated_home: Path):
    """--follow shows lines the service writes after the command started; Ctrl-C ends it cleanly."""
    config = service("followed-service", "--log-requests")
    payload = launching.launch(config)
    env = {**os.environ, "HOME": str(isolated_home)}
    follower = subprocess.Popen([CLI, "logs", "followed-service", "--follow"], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert follower.stdout.readline().startswith("serving on 127.0.0.1:")  # what was there already
        url = f"http://127.0.0.1:{payload['port']}/health?marker=after-follow-started"
        lines = []
        while not any("marker=after-follow-started" in line for line in lines):
            urllib.request.urlopen(url, timeout=10).read()
            lines.append(follower.stdout.readline())
        assert all(line.startswith("request: ") for line in lines)
    finally:
        follower.send_signal(signal.SIGINT)
        assert follower.wait(timeout=30) == 0


def test_logs_of_a_service_that_failed_to_start(service, isolated_home: Path):
    """The launch error names the command; the log is still there though the launch left no record."""
    config = service("failing-service", "--fail", "'bad parameter: cores'")
    with pytest.raises(launching.LaunchError) as info:
        launching.launch(config)
    command = services_cli.logs_command(config)
    assert command in str(info.value) and "failing-service" not in launching.records()
    done = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "HOME": str(isolated_home)})
    assert done.returncode == 0 and "bad parameter: cores" in done.stdout
