"""The batch script of seamless_config.ssh_batching, run by a real ``sh`` on this machine with the
real ``rhl-*`` helpers and the small real daemon of ``status_file_service.py`` (over SSH the same
script runs on the frontend; tests/test_pure_dask.py launches through it)."""

from __future__ import annotations

import json
import re
import os
import subprocess
import sys
from pathlib import Path

import remote_http_launcher as rhl

from seamless_config import launching, ssh_batching
from seamless_config.ssh_batching import _SCRIPT_HEAD, HelperResults, _parse, _script, _status_file, planned_check, planned_launch


def _run(script: str) -> dict[str, subprocess.CompletedProcess]:
    env = {**os.environ, "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ["PATH"]}
    out = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=120, env=env)
    return _parse(out.stdout)


def _cfg(config: dict):
    return rhl.Configuration.from_mapping(launching._launch_parameters(config))


def test_cold_sequence_in_one_run_matches_what_the_launcher_asks(service):
    config = service("batch-cold", "--delay", "0.3")
    cfg = _cfg(config)
    launch = planned_launch(cfg)
    assert launch[:3] == ["rhl-launch-service", "--key", "batch-cold"]
    ran = _run(_script(cfg.key, launch, planned_check(cfg)))
    assert list(ran) == ["first", "launch", "state", "verify", "handshake"]
    assert ran["first"].returncode == 1 and "no state file" in ran["first"].stderr
    assert ran["launch"].returncode == 0
    state = json.loads(ran["state"].stdout)
    assert state["status"] == "running"  # waited for on the "frontend"
    assert ran["verify"].args == ["rhl-verify-port", "127.0.0.1", str(state["port"])]
    url = rhl.build_handshake_url("127.0.0.1", state["dashboard_port"], cfg.handshake)
    assert ran["handshake"].args == ["rhl-handshake", url] and ran["handshake"].returncode == 0
    # the launcher, run after it, finds exactly that service and reuses it
    payload = launching.launch(config)
    assert launching.server_state(config)["pid"] == state["pid"] and payload["dashboard_port"] == state["dashboard_port"]


def test_a_running_service_is_checked_without_a_launch(service):
    config = service("batch-running")
    launching.launch(config)
    cfg = _cfg(config)
    ran = _run(_script(cfg.key, planned_launch(cfg), planned_check(cfg)))
    assert list(ran) == ["first", "verify", "handshake"]
    assert json.loads(ran["first"].stdout)["pid"] == launching.server_state(config)["pid"]


def test_a_failed_launch_stops_the_sequence(service):
    config = service("batch-bad", command="/nonexistent/service --status-file {status_file}")
    cfg = _cfg(config)
    ran = _run(_script(cfg.key, planned_launch(cfg), planned_check(cfg)))
    assert ran["first"].returncode == 1
    assert "state" not in ran and "verify" not in ran  # nothing run after what failed


def test_results_are_handed_out_once_and_in_order():
    results = HelperResults()
    done = subprocess.CompletedProcess(["x"], 0, "{}", "")
    results.put(["rhl-inspect", "k"], done)
    results.put(["rhl-inspect", "k"], done)
    assert results.take(["rhl-inspect", "k"]) is done
    assert results.take(["rhl-stop", "k"]) is None  # another call: what was fetched is dropped
    assert results.take(["rhl-inspect", "k"]) is None


def test_the_wait_reads_the_status_file_that_the_launch_argv_names(tmp_path):
    """The remote wait polls the file the service writes (``~/`` expanded there), else rhl-inspect."""
    status = tmp_path / "s p" / "k.json"
    status.parent.mkdir()
    status.write_text(json.dumps({"status": "starting", "pid": os.getpid()}, indent=2))
    words = {
        "tilde": _status_file(["rhl-launch-service", "--", "svc", "--status-file", "~/d/k.json"]),
        "absolute": _status_file(["rhl-launch-service", "--", "svc", f"--status-file={status}"]),
        "none": _status_file(["rhl-launch-service", "--", "svc"]),
    }
    out = subprocess.run(["sh", "-c", "; ".join(f"printf '%s\\n' {w}" for w in words.values())],
                         capture_output=True, text=True, env={**os.environ, "HOME": "/h"}).stdout.splitlines()
    assert out == ["/h/d/k.json", str(status), ""]
    # a live pid that stays "starting": the wait polls the file until it says otherwise
    script = _SCRIPT_HEAD + f"(sleep 0.3; printf '%s' '{{\"status\": \"running\"}}' > {words['absolute']}) &\n" \
        f"wait_started k {words['absolute']}; cat {words['absolute']}\n"
    done = subprocess.run(["sh", "-c", script], capture_output=True, text=True, timeout=60)
    assert json.loads(done.stdout)["status"] == "running", done.stderr



def _wrapped_helpers(tmp_path, *, loadable: bool, launcher_loadable: bool | None = None) -> dict:
    """PATH with logging copies of the helpers the runner loads (``rhl-launch-service`` included):
    ``loadable`` (``launcher_loadable`` for rhl-launch-service, default the same) keeps their
    ``from MODULE import main`` line (the runner calls that ``main``), else it hides it."""
    bin_dir, log = tmp_path / "bin", tmp_path / "ran.log"
    bin_dir.mkdir(parents=True)
    for name in ("rhl-inspect", "rhl-verify-port", "rhl-handshake", "rhl-launch-service"):
        real = (Path(sys.executable).parent / name).read_text()
        module = re.search(r"^from (\S+) import main$", real, re.M).group(1)
        keep = loadable if name != "rhl-launch-service" or launcher_loadable is None else launcher_loadable
        importer = f"from {module} import main" if keep else f"main = __import__({module!r}, fromlist=['main']).main"
        (bin_dir / name).write_text(
            f"#!{sys.executable}\nimport sys\n{importer}\nopen({str(log)!r}, 'a').write({name!r} + '\\n')\nsys.exit(main())\n")
        (bin_dir / name).chmod(0o700)
    path = os.pathsep.join([str(bin_dir), os.path.dirname(sys.executable), os.environ["PATH"]])
    return {"env": {**os.environ, "PATH": path}, "log": log}


def test_the_sequence_runs_in_one_interpreter_or_else_command_by_command(service, tmp_path):
    """The frontend's helpers, the launch included, run in one interpreter (none of their commands
    is started); a launcher that cannot be loaded so runs as its command, and when the helpers
    cannot be, the script runs the commands; with the same results."""
    labels = {}
    for loadable, launcher_loadable in ((True, True), (True, False), (False, False)):
        config = service(f"batch-one-{loadable}-{launcher_loadable}".lower(), "--delay", "0.3")
        cfg = _cfg(config)
        where = _wrapped_helpers(tmp_path / f"{loadable}{launcher_loadable}", loadable=loadable,
                                 launcher_loadable=launcher_loadable)
        out = subprocess.run(["sh", "-c", _script(cfg.key, planned_launch(cfg), planned_check(cfg))],
                             capture_output=True, text=True, timeout=120, env=where["env"])
        ran = _parse(out.stdout)
        labels[loadable, launcher_loadable] = list(ran)
        assert json.loads(ran["state"].stdout)["status"] == "running", out.stderr
        assert ran["handshake"].returncode == 0 and ran["handshake"].args[0] == "rhl-handshake"
        commands = where["log"].read_text().split() if where["log"].exists() else []
        if launcher_loadable:
            assert commands == []  # all in the runner's interpreter
        elif loadable:
            assert commands == ["rhl-launch-service"]
        else:
            assert commands[0] == "rhl-inspect" and commands[-2:] == ["rhl-verify-port", "rhl-handshake"]
            assert "rhl-launch-service" in commands
        launching.stop(config)
    assert set(map(tuple, labels.values())) == {("first", "launch", "state", "verify", "handshake")}


def test_a_service_launched_in_the_runner_that_dies_while_starting_is_noticed(service, monkeypatch):
    """The service the runner launched itself is its child: when it dies before it is running, the
    wait notices (a zombie would look alive until the wait's end, here an hour) and stops there."""
    monkeypatch.setattr(ssh_batching, "START_TIMEOUT", 3600)
    config = service("batch-crash", "--crash", "gone")
    cfg = _cfg(config)
    ran = _run(_script(cfg.key, planned_launch(cfg), planned_check(cfg)))
    assert list(ran) == ["first", "launch", "state"]  # not running: no port check, no handshake
    assert ran["launch"].returncode == 0 and json.loads(ran["state"].stdout)["status"] == "starting"
