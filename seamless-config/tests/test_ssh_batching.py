"""The batch scripts of seamless_config.ssh_batching, run by a real ``sh`` on this machine (over
SSH the same script runs on the frontend; tests/test_pure_dask.py launches through it)."""

from __future__ import annotations

import subprocess

from seamless_config.ssh_batching import HelperResults, _parse, _script


def _run(commands: list[list[str]], *, stop_on_failure: bool) -> list[subprocess.CompletedProcess]:
    script = _script(commands, stop_on_failure=stop_on_failure)
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60)
    return _parse(out.stdout, commands)


def test_each_command_gets_its_own_output_error_and_exit_code():
    commands = [["echo", "a  'b'"], ["sh", "-c", "printf partial; echo oops >&2; exit 3"], ["true"]]
    first, second, third = _run(commands, stop_on_failure=False)
    assert (first.args, first.returncode, first.stdout, first.stderr) == (commands[0], 0, "a  'b'\n", "")
    assert (second.returncode, second.stdout, second.stderr.strip()) == (3, "partial", "oops")  # exactly what it printed
    assert third.returncode == 0 and third.stdout == ""


def test_a_failure_stops_the_rest_when_asked():
    results = _run([["false"], ["echo", "not run"]], stop_on_failure=True)
    assert [r.returncode for r in results] == [1]


def test_wait_for_an_unknown_key_returns_at_once():
    (waited, inspected) = _run([["wait_started", "no-such-key-here"], ["rhl-inspect", "no-such-key-here"]],
                               stop_on_failure=False)
    assert waited.returncode == 0 and inspected.returncode != 0


def test_results_are_handed_out_once_and_in_order():
    results = HelperResults()
    done = subprocess.CompletedProcess(["x"], 0, "{}", "")
    results.put(["rhl-inspect", "k"], done)
    results.put(["rhl-inspect", "k"], done)
    assert results.take(["rhl-inspect", "k"]) is done
    assert results.take(["rhl-stop", "k"]) is None  # another call: what was fetched is dropped
    assert results.take(["rhl-inspect", "k"]) is None
