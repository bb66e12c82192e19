"""The in-process helpers of local launches (seamless_config.rhl_adapter, workaround 6) against
the launcher's own console scripts, on a real launched service: the same exit status and
standard output (what the launcher reads), an error text exactly when the command writes one."""

from __future__ import annotations

import subprocess
import sys
import threading
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
    assert {argv[0] for argv in cases} == set(rhl_adapter.IN_PROCESS)
    for argv in cases:
        mine, theirs = rhl_adapter.run_helper(argv), _script(argv)
        assert (mine.returncode, mine.stdout, bool(mine.stderr)) == (
            theirs.returncode, theirs.stdout, bool(theirs.stderr)), (argv, mine, theirs)


def test_local_launch_runs_only_the_launch_helper_as_a_process(service, monkeypatch: pytest.MonkeyPatch):
    config = service()
    started: list[str] = []
    real_run = subprocess.run

    def recording_run(argv, *args, **kwargs):
        if isinstance(argv, list) and str(argv[0]).startswith("rhl-"):
            started.append(argv[0])
        return real_run(argv, *args, **kwargs)

    monkeypatch.setattr(subprocess, "run", recording_run)
    payload = launch(config)
    assert started == ["rhl-launch-service"]
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
