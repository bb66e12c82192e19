"""The in-process helpers of local launches (seamless_config.rhl_adapter, workaround 6) against
the launcher's own console scripts, on a real launched service: the same exit status and
standard output (what the launcher reads), an error text exactly when the command writes one."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from seamless_config import launching, rhl_adapter
from seamless_config.launching import launch, server_state

BIN = Path(sys.executable).parent


def _script(argv: list[str]) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN / argv[0]), *argv[1:]], capture_output=True, text=True, timeout=60)


def test_in_process_helpers_answer_as_their_scripts(service):
    config = service()
    payload = launch(config)
    pid = server_state(config)["pid"]
    url = f"http://127.0.0.1:{payload['dashboard_port']}/health"
    cases = [
        ["rhl-inspect", config["key"]],
        ["rhl-inspect", config["key"], "--with-mtime"],
        ["rhl-inspect", "no-such-key"],
        ["rhl-inspect", "../bad key"],
        ["rhl-verify-port", "127.0.0.1", str(payload["port"])],
        ["rhl-verify-port", "not a host!", "1"],
        ["rhl-handshake", url],
        ["rhl-handshake", url.replace("/health", "/no-such-path")],
        ["rhl-handshake", "http://127.0.0.1:1/health"],
        ["rhl-handshake", "ftp://127.0.0.1/"],
        ["rhl-pid-alive", str(pid)],
        ["rhl-pid-alive", "not-a-pid"],
    ]
    # rhl-launch-service has tests of its own below (it starts a service)
    assert {argv[0] for argv in cases} | {"rhl-launch-service"} == set(rhl_adapter.IN_PROCESS)
    for argv in cases:
        mine, theirs = rhl_adapter.run_helper(argv), _script(argv)
        assert (mine.returncode, mine.stdout, bool(mine.stderr)) == (
            theirs.returncode, theirs.stdout, bool(theirs.stderr)), (argv, mine, theirs)


def _launch_argv(config: dict) -> list[str]:
    import remote_http_launcher as rhl

    from seamless_config.ssh_batching import planned_launch

    argv = planned_launch(rhl.Configuration.from_mapping(launching._launch_parameters(config)))
    assert argv is not None and argv[0] == "rhl-launch-service"
    return argv


def test_in_process_launch_writes_the_record_the_command_writes(service):
    mine_config, theirs_config = service("launch-mine"), service("launch-theirs")
    mine, theirs = rhl_adapter.run_helper(_launch_argv(mine_config)), _script(_launch_argv(theirs_config))
    assert (mine.returncode, mine.stdout, mine.stderr) == (theirs.returncode, theirs.stdout, theirs.stderr) == (0, "", "")
    records = {}
    for name, config in (("mine", mine_config), ("theirs", theirs_config)):
        record = server_state(config)
        assert launching.service_alive(config, record["pid"])
        key = config["key"]
        # the status and what a running service adds depend on how far it has started by now
        assert record["status"] in ("starting", "running")
        records[name] = {k: (v.replace(key, "KEY") if isinstance(v, str) else v) for k, v in record.items()
                         if k not in ("pid", "status", "port", "dashboard_port", "health_port", "running_since")}
        assert Path(record["log"]).is_file() and Path(record["workdir"]) == Path(config["workdir"])
    assert records["mine"] == records["theirs"] and records["mine"]["parameters"] == {"cores": 2}
    # each service started from its record and answers: the launcher reuses both
    for config in (mine_config, theirs_config):
        assert launch(config)["port"] == server_state(config)["port"]


@pytest.mark.parametrize("change", ["key", "binary", "workdir", "no-service", "parameters"])
def test_in_process_launch_refuses_as_the_command_does(service, change: str, capfd: pytest.CaptureFixture):
    argv = _launch_argv(service("launch-refused"))
    if change == "key":
        argv[argv.index("--key") + 1] = "../bad key"
    elif change == "binary":
        argv[argv.index("--") + 1] = "/bin/sh"
    elif change == "workdir":
        argv[argv.index("--workdir") + 1] = "relative/dir"
    elif change == "parameters":
        argv[argv.index("--parameters") + 1] = "{bad"
    else:
        del argv[argv.index("--") + 1:]
    capfd.readouterr()
    mine = rhl_adapter.run_helper(argv)
    assert capfd.readouterr() == ("", ""), "the in-process launch printed instead of returning its reason"
    theirs = _script(argv)
    assert mine.returncode == theirs.returncode == 1 and mine.stderr and theirs.stderr, (mine, theirs)
    if change == "parameters":
        assert "--parameters must be valid JSON" in mine.stderr and "--parameters must be valid JSON" in theirs.stderr
    assert server_state({"key": "launch-refused"}) is None


def test_a_service_that_ended_is_not_left_a_zombie(tmp_path, isolated_home, monkeypatch: pytest.MonkeyPatch):
    """The in-process launch makes the service this process's child: once it ends, its PID must
    be free again (reaped), or ``rhl-pid-alive`` would still call it alive."""
    tools = tmp_path / "rhl-tools.yaml"
    tools.write_text('{"quick": {"command_template": "true"}}')
    monkeypatch.setenv("RHL_TOOLS_YAML", str(tools))
    result = rhl_adapter.run_helper(["rhl-launch-service", "--key", "quick-exit", "--workdir", str(tmp_path), "--", "true"])
    assert result.returncode == 0, result
    pid = server_state({"key": "quick-exit"})["pid"]
    deadline = time.monotonic() + 60
    while rhl_adapter.run_helper(["rhl-pid-alive", str(pid)]).returncode == 0:
        assert time.monotonic() < deadline, f"PID {pid} still alive after its service exited"
        time.sleep(0.05)


def test_local_launch_runs_no_launcher_helper_as_a_process(service, monkeypatch: pytest.MonkeyPatch):
    config = service()
    started: list[str] = []
    real_run = subprocess.run

    def recording_run(argv, *args, **kwargs):
        if isinstance(argv, list) and str(argv[0]).startswith("rhl-"):
            started.append(argv[0])
        return real_run(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", recording_run)
    payload = launch(config)
    assert started == []
    assert launching.service_alive(config, server_state(config)["pid"]) and payload["port"]


def test_in_process_helpers_are_safe_from_threads(service):
    config = service()
    launch(config)
    results: dict[int, subprocess.CompletedProcess] = {}

    def probe(i: int) -> None:
        results[i] = rhl_adapter.run_helper(["rhl-inspect", config["key"] if i % 2 else f"missing-{i}"])

    threads = [threading.Thread(target=probe, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    for i, result in results.items():
        if i % 2:
            assert result.returncode == 0 and '"status": "running"' in result.stdout
        else:
            assert result.returncode != 0 and f"missing-{i}" in result.stderr
    assert len(results) == 16
