"""Services of a stage launched side by side (seamless_config.parallel_launch), with the real
remote-http-launcher and the small real daemon of ``status_file_service.py`` (see conftest)."""

from __future__ import annotations

import pytest

from seamless_config.launching import LaunchError, launch, pid_alive, server_state
from seamless_config.parallel_launch import ParallelLaunchError, launch_all


def test_all_are_launched_and_returned_in_order(service):
    configs = [service(f"par-ok-{i}", "--delay", "0.5") for i in range(3)]
    payloads = launch_all([(config, "service") for config in configs])
    assert len({p["port"] for p in payloads}) == 3
    for config, payload in zip(configs, payloads, strict=True):
        state = server_state(config)
        assert state["status"] == "running" and state["port"] == payload["port"]
    again = launch_all([(config, "service") for config in configs])  # reconnects
    assert [p["port"] for p in again] == [p["port"] for p in payloads]


def test_every_failure_is_reported_and_nothing_started_is_left(service):
    good = service("par-good", "--delay", "0.5")
    bad_status = service("par-bad-status", "--fail", "'Missing required parameter cores'")
    bad_exit = service("par-bad-exit", "--crash", "'bad interface eth7'")
    with pytest.raises(ParallelLaunchError) as info:
        launch_all([(good, "hashserver"), (bad_status, "database"), (bad_exit, "Seamless Dask server")])
    message = str(info.value)
    assert "2 service(s) could not be started" in message
    assert "the database 'par-bad-status'" in message and "Missing required parameter cores" in message
    assert "the Seamless Dask server 'par-bad-exit'" in message and "bad interface eth7" in message
    assert {key for _, key, _ in info.value.failures} == {"par-bad-status", "par-bad-exit"}
    # the one that did start was stopped again; the failed ones left nothing behind
    assert "the hashserver 'par-good'" in message
    for config in (good, bad_status, bad_exit):
        assert server_state(config) is None, config["key"]


def test_a_service_that_was_already_running_stays_up(service):
    running = service("par-running")
    launch(running)
    pid = server_state(running)["pid"]
    bad = service("par-bad", "--crash", "'no such port'")
    with pytest.raises(LaunchError) as info:  # one failure: that error itself
        launch_all([(running, "hashserver"), (bad, "database")])
    assert "no such port" in str(info.value) and "par-bad" in str(info.value)
    assert pid_alive(pid) and server_state(running)["pid"] == pid  # reused, not ours to stop


def test_meanwhile_runs_in_the_caller_and_its_error_comes_after_the_launches(service):
    import threading

    configs = [service(f"par-mw-{i}", "--delay", "0.3") for i in range(2)]
    seen = []

    def meanwhile():
        seen.append(threading.current_thread() is threading.main_thread())
        raise ValueError("the client library is broken")

    with pytest.raises(ValueError, match="client library is broken"):
        launch_all([(config, "service") for config in configs], meanwhile=meanwhile)
    assert seen == [True]
    assert all(server_state(config)["status"] == "running" for config in configs)  # launched all the same


def test_meanwhile_begins_once_every_service_has_been_started(service):
    """``meanwhile`` (CPU work such as an import) must not hold the GIL the launch steps need: it
    begins when each service has been started, i.e. has its launcher record, and is waited for."""
    configs = [service(f"par-after-{i}", "--delay", "1") for i in range(3)]
    from seamless_config.rhl_adapter import server_state_path

    records = []

    def meanwhile():  # a file read each, at once: RHL's server record written by the launch
        records.extend(server_state_path(config["key"]).is_file() for config in configs)

    launch_all([(config, "service") for config in configs], meanwhile=meanwhile)
    assert records == [True] * 3
    assert all(server_state(config)["status"] == "running" for config in configs)


def test_then_follows_each_launch_in_its_thread_and_its_error_fails_that_launch(service):
    import threading

    fast, slow = service("par-then-fast"), service("par-then-slow", "--delay", "1.5")
    seen: dict[str, tuple] = {}

    def follow(name):
        def then(payload):  # the fast service's follow-up runs while the slow one still starts
            other = server_state(slow if name == "fast" else fast)
            seen[name] = (payload["port"], threading.current_thread() is threading.main_thread(),
                          other and other["status"])
        return then

    payloads = launch_all([(fast, "hashserver"), (slow, "database")], then=[follow("fast"), follow("slow")])
    assert seen["fast"] == (payloads[0]["port"], False, "starting")
    assert seen["slow"] == (payloads[1]["port"], False, "running")

    others = [service("par-then-ok"), service("par-then-bad")]

    def refuse(payload):
        raise ConnectionError(f"nothing answers at port {payload['port']}")

    with pytest.raises(ConnectionError, match="nothing answers"):
        launch_all([(others[0], "hashserver"), (others[1], "database")], then=[None, refuse])
    for config in others:  # both were started by this call: both stopped again
        assert server_state(config) is None, config["key"]
