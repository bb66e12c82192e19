"""Pure Dask mode end to end: real seamless-dask-wrapper, real Dask, real sshd, real SLURM.

Every user-level run is a fresh ``.venv/bin/python script.py`` process with an isolated HOME and
a PATH *without* the venv (the venv is not activated), as a user would run it. Topologies:
local daemon; a frontend reached over SSH (``hostname: localhost``, the loopback sshd of
``scripts/sshd-up.sh``); the same with ``tunnel: true``; SLURM reached through that frontend.

Remote side: over SSH, remote-http-launcher keeps its server state in the *remote* user's home
(root's real ``~/.remote-http-launcher/server``; sshd gives sessions the passwd home). These tests
use cluster names with a random suffix, so their keys are unique, and the ``launched`` fixture
stops each server by PID (``rhl-stop``) and removes its state and log files there afterwards.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from seamless_config import launching, rhl_adapter
from seamless_config.launching import pid_alive, wait_for_exit
from seamless_config.service_records import proc_stat

# the environment of a user whose venv is not activated (shared with the other end-to-end tests)
from persistent_services import user_env


FORBIDDEN = ("seamless", "seamless_remote", "seamless_transformer", "seamless_dask")

SCRIPT = """
import json, os, sys
import seamless_config
client = seamless_config.set_stage({stage!r})
import dask, dask.array as da, distributed
assert distributed.get_client() is client, "not the default client"
assert seamless_config.get_dask_client() is client
(total,) = dask.compute(da.ones(10_000, chunks=1_000).sum())
from seamless_config.pure_daskserver import is_active
from seamless_config.tools import configure_pure_daskserver
from seamless_config import launching
config = configure_pure_daskserver()
state = launching.server_state(config)
print(json.dumps({{
    "total": float(total), "config": config, "pid": state["pid"], "active": is_active(),
    "scheduler": client.scheduler.address,
    "worker_jobs": sorted({{str(j) for j in client.run(os.getenv, "SLURM_JOB_ID").values()}}),
    "modules": sorted(m for m in sys.modules if m.split(".")[0] in {forbidden!r}),
}}))
"""


class Project:
    """A project directory with a profile, a user HOME with clusters.yaml, and a script runner."""

    def __init__(self, root: Path, home: Path):
        self.dir = root / "project"
        self.dir.mkdir()
        self.home = home
        self.configs: dict[str, dict] = {}

    def write(self, profile: str, clusters: str | None = None) -> None:
        (self.dir / "seamless.profile.yaml").write_text(profile)
        if clusters is not None:
            (self.home / ".seamless").mkdir(exist_ok=True)
            (self.home / ".seamless" / "clusters.yaml").write_text(clusters)

    def start(self, stage: str | None = None, code: str = SCRIPT) -> subprocess.Popen:
        script = self.dir / "run.py"
        script.write_text(code.format(stage=stage, forbidden=FORBIDDEN))
        return subprocess.Popen(
            [sys.executable, str(script)], cwd="/", env=user_env(self.home),
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        )

    def finish(self, proc: subprocess.Popen) -> tuple[dict, str]:
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, f"script failed:\n{err}"
        lines = out.splitlines()
        assert len(lines) == 1, f"stdout must hold only the script's own line, got:\n{out}"
        result = json.loads(lines[0])
        self.configs[result["config"]["key"]] = result["config"]
        return result, err

    def run(self, stage: str | None = None, code: str = SCRIPT) -> tuple[dict, str]:
        return self.finish(self.start(stage, code))


def _wrapper_pids(key: str, home: Path | None) -> list[int]:
    """seamless-dask-wrapper processes of ``key``; of the RHL state under ``home`` when given
    (other tests' schedulers may use the same key under another HOME). Not the forks of a
    wrapper, which share its command line (its LocalCluster's forkserver and workers)."""
    mark = key if home is None else f"{home}/.remote-http-launcher/server/{key}.json"
    pids = [
        pid for pid, argv in rhl_adapter.own_processes()
        if any(a.endswith("seamless-dask-wrapper") for a in argv[:2]) and any(mark in a for a in argv)
    ]
    return [pid for pid in pids if (fields := proc_stat(pid)) is not None and int(fields[1]) not in pids]


@pytest.fixture
def launched(tmp_path, isolated_home):
    """A :class:`Project`; afterwards every scheduler it started is stopped and its state removed."""
    project = Project(tmp_path, isolated_home)
    yield project
    leftovers, jobs = [], []
    for key, config in project.configs.items():
        host = launching.ssh_host(config)
        pids = _wrapper_pids(key, None if host else project.home)
        launching.stop(config)  # the wrapper closes its cluster: its batch jobs are cancelled
        if config.get("cluster_string", "").endswith("SLURMCluster"):
            jobs += _slurm_jobs_gone(key)
        if host is not None:  # remote side: root's real home (see the module doc); keys are unique
            logs = f"~/.remote-http-launcher/server/{shlex.quote(key)}"
            subprocess.run(["ssh", host, f"rm -f {logs}.log {logs}-job-*"], check=False)
        leftovers += [pid for pid in pids if not wait_for_exit(pid)]
    for pid in leftovers:
        os.kill(pid, signal.SIGKILL)
    assert not leftovers, f"wrapper processes survived stop(): {leftovers}"
    assert not jobs, f"SLURM jobs left behind after stopping the scheduler: {jobs}"


def _slurm_jobs(key: str) -> list[str]:
    """Queued/running SLURM jobs of the scheduler ``key`` (their output goes next to its log,
    ``<key>-job-<id>.out``)."""
    out = subprocess.run(["scontrol", "-o", "show", "job"], capture_output=True, text=True)
    jobs = []
    for line in out.stdout.splitlines():  # finished jobs stay listed for a while: skip them
        fields = dict(f.split("=", 1) for f in line.split() if "=" in f)
        if f"/{key}-job-" in fields.get("StdOut", "") and fields.get("JobState") in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING"):
            jobs.append(fields["JobId"])
    return jobs


def _slurm_jobs_gone(key: str, seconds: float = 30) -> list[str]:
    """Wait for the jobs of ``key`` to leave the queue; cancel and return those that do not."""
    deadline = time.monotonic() + seconds
    while (left := _slurm_jobs(key)) and time.monotonic() < deadline:
        time.sleep(0.5)
    if left:
        subprocess.run(["scancel", *left], check=False)
    return left


LOCAL_PROFILE = "- cluster: local\n- persistent: false\n"


# --- local daemon -----------------------------------------------------------------------------


def test_local_cluster_fresh_process(launched):
    launched.write(LOCAL_PROFILE)
    result, err = launched.run()
    assert result["total"] == 10_000.0
    assert result["active"] is True
    assert result["modules"] == [], "pure Dask mode imported Seamless proper"
    launched_keys = sorted(p.stem for p in (launched.home / ".remote-http-launcher" / "server").glob("*.json"))
    assert launched_keys == ["pure-daskserver-local-default"], "only the Dask scheduler is launched"
    assert result["config"]["key"] == "pure-daskserver-local-default"
    assert err.count("Dask dashboard: https://") == 1
    assert "stays up until it has been idle for 600 s" in err
    assert "seamless-services stop pure-daskserver-local-default" in err
    assert pid_alive(result["pid"])


def test_second_process_attaches_without_relaunch(launched):
    launched.write(LOCAL_PROFILE)
    first, err1 = launched.run()
    assert "Starting the Dask scheduler" in err1
    second, err2 = launched.run()
    assert second["pid"] == first["pid"]
    assert second["scheduler"] == first["scheduler"]
    assert "Starting the Dask scheduler" not in err2
    assert err2.count("Dask dashboard: https://") == 1


def test_dead_scheduler_is_relaunched(launched):
    launched.write(LOCAL_PROFILE)
    first, _ = launched.run()
    os.kill(first["pid"], signal.SIGKILL)
    assert wait_for_exit(first["pid"])
    second, err = launched.run()
    assert second["pid"] != first["pid"] and second["total"] == 10_000.0
    assert "Starting the Dask scheduler" in err


def test_eight_processes_end_with_one_scheduler(launched):
    launched.write(LOCAL_PROFILE)
    procs = [launched.start() for _ in range(8)]
    results = [launched.finish(p) for p in procs]
    assert {r["pid"] for r, _ in results} == {results[0][0]["pid"]}
    assert sum("Starting the Dask scheduler" in err for _, err in results) == 1
    assert _wrapper_pids(results[0][0]["config"]["key"], launched.home) == [results[0][0]["pid"]]


def test_changed_cluster_definition_relaunches(launched):
    launched.write(LOCAL_PROFILE, "local:\n  type: local\n  workers: 1\n")
    first, _ = launched.run()
    launched.write(LOCAL_PROFILE, "local:\n  type: local\n  workers: 2\n")
    second, err = launched.run()
    assert second["pid"] != first["pid"]
    assert "launched with other parameters" in err and "maximum_jobs: 1 -> 2" in err
    assert wait_for_exit(first["pid"])


def test_launch_failure_shows_the_cause(launched):
    """The scheduler cannot bind its address: the error carries the wrapper's own words."""
    launched.write(
        "- cluster: broken\n- persistent: false\n",
        "broken:\n  type: local\n  frontends:\n    - daskserver:\n        network_interface: 192.0.2.1\n",
    )
    proc = launched.start()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode != 0 and out == ""
    assert "LaunchError" in err and "could not be started" in err
    assert "192.0.2.1" in err.split("could not be started", 1)[1], "the log tail with the cause is missing"
    assert not _wrapper_pids("pure-daskserver-broken-default", launched.home)


@pytest.fixture
def in_process(launched):
    """This process runs set_stage on the local profile; the selection is reset afterwards."""
    from seamless_config import cluster, lifecycle, pure_daskserver

    launched.write(LOCAL_PROFILE)
    launched.configs["pure-daskserver-local-default"] = {"key": "pure-daskserver-local-default"}
    lifecycle.reset()
    cluster.define_clusters({})
    yield launched
    lifecycle.reset()
    assert not pure_daskserver.is_active()


def test_stage_change_in_process_closes_the_old_client(in_process):
    """set_stage returns the client; a stage change reattaches, or relaunches a dead scheduler."""
    import distributed

    import seamless_config
    from seamless_config import pure_daskserver

    client = seamless_config.set_stage(workdir=in_process.dir)
    assert isinstance(client, distributed.Client) and pure_daskserver.is_active()
    assert distributed.get_client() is client
    config = in_process.configs["pure-daskserver-local-default"]
    pid = launching.server_state(config)["pid"]
    # a stage change: the old client is closed, a new one attaches to the same scheduler
    client2 = seamless_config.set_stage("b", workdir=in_process.dir)
    assert client2 is not client and client.status == "closed"
    assert distributed.get_client() is client2
    assert launching.server_state(config)["pid"] == pid
    os.kill(pid, signal.SIGKILL)
    assert wait_for_exit(pid)
    client3 = seamless_config.set_stage("c", workdir=in_process.dir)
    assert client3.submit(sum, [1, 2, 3]).result(timeout=30) == 6
    assert launching.server_state(config)["pid"] != pid


def test_wrapper_events_become_log_messages(in_process, caplog):
    import seamless_config
    from seamless_config import pure_daskserver

    client = seamless_config.set_stage(workdir=in_process.dir)
    events = [
        {"kind": "worker-failed", "job_id": "4242", "state": "FAILED",
         "stderr_tail": "ModuleNotFoundError: No module named 'distributed'"},
        {"kind": "jobs-pending", "pending": 2, "waited_seconds": 31},
    ]

    def publish(dask_scheduler, events=events):  # as seamless-dask-wrapper does, on the scheduler
        for event in events:
            dask_scheduler.log_event(pure_daskserver.WRAPPER_TOPIC, event)

    with caplog.at_level("INFO", logger="seamless_config"):
        client.run_on_scheduler(publish)
        deadline = time.monotonic() + 10
        while "4242" not in caplog.text or "pending" not in caplog.text:
            assert time.monotonic() < deadline, caplog.text
            time.sleep(0.1)
    assert "FAILED" in caplog.text and "No module named 'distributed'" in caplog.text
    assert "Waiting for 2 Dask worker job(s) pending" in caplog.text


# --- SSH topologies ---------------------------------------------------------------------------


def _ssh_clusters(name: str, *, tunnel: bool = False, slurm: bool = False) -> str:
    lines = [f"{name}:", f"  type: {'slurm' if slurm else 'local'}"]
    if tunnel:
        lines.append("  tunnel: true")
    lines += ["  frontends:", "    - hostname: localhost", "      daskserver:", "        timeout: 120"]
    lines += ["  queues:", "    debug:" if slurm else "    default:", "      walltime: '00:10:00'",
              "      cores: 1", "      memory: 1GB", "      maximum_jobs: 1"]
    if slurm:
        lines.append("      partition: debug")
    return "\n".join(lines) + "\n"


@pytest.mark.ssh
def test_frontend_over_ssh(launched):
    name = f"ssh{secrets.token_hex(3)}"
    launched.write(f"- cluster: {name}\n- persistent: false\n", _ssh_clusters(name))
    result, err = launched.run()
    assert result["total"] == 10_000.0 and result["modules"] == []
    assert result["config"]["hostname"] == "localhost" and "tunnel" not in result["config"]
    assert "over SSH" in err
    again, err2 = launched.run()
    assert again["pid"] == result["pid"] and "Starting the Dask scheduler" not in err2


@pytest.mark.ssh
def test_services_cli_lists_and_reads_logs_on_the_frontend(launched):
    """seamless-services list / logs for a scheduler on a frontend: rhl-inspect / rhl-logs over SSH."""
    name = f"sshlog{secrets.token_hex(3)}"
    launched.write(f"- cluster: {name}\n- persistent: false\n", _ssh_clusters(name))
    result, _ = launched.run()
    key = result["config"]["key"]
    cli = [str(Path(sys.executable).parent / "seamless-services")]
    env = user_env(launched.home)
    listed = subprocess.run([*cli, "list", "--json"], env=env, capture_output=True, text=True, timeout=120)
    (service,) = json.loads(listed.stdout)["services"]
    assert service["key"] == key and service["where"] == "localhost" and service["state"] == "running"
    assert service["pid"] == result["pid"] and service["url"].startswith("tls://localhost:")
    logs = subprocess.run([*cli, "logs", key, "--tail", "50"], env=env, capture_output=True, text=True, timeout=120)
    assert logs.returncode == 0 and "Scheduler at:" in logs.stdout, logs.stderr
    # without the launch record (a failed launch leaves none), --host says where to look
    (launched.home / ".seamless" / "launches" / f"{key}.json").rename(launched.home / "record.json")
    try:
        logs = subprocess.run([*cli, "logs", key, "--host", "localhost"], env=env, capture_output=True, text=True, timeout=120)
        assert logs.returncode == 0 and "Scheduler at:" in logs.stdout
    finally:
        (launched.home / "record.json").rename(launched.home / ".seamless" / "launches" / f"{key}.json")


@pytest.mark.ssh
def test_tunnel_and_relaunch_through_a_stale_tunnel(launched):
    name = f"tun{secrets.token_hex(3)}"
    launched.write(f"- cluster: {name}\n- persistent: false\n", _ssh_clusters(name, tunnel=True))
    first, err = launched.run()
    assert first["config"]["tunnel"] is True and first["total"] == 10_000.0
    client_state = json.loads(
        (launched.home / ".remote-http-launcher" / "client" / f"{first['config']['key']}.json").read_text()
    )
    assert client_state["tunneled-port"] != client_state["port"]  # the client talks to a forwarded port
    assert first["scheduler"].endswith(f":{client_state['port']}")
    old_tunnels = rhl_adapter.tunnel_processes({client_state["port"], client_state["dashboard_port"]})
    # the scheduler's, dashboard's and health port's tunnels: one monitor of ours holds them all
    assert len(old_tunnels) == 1 and old_tunnels == rhl_adapter.tunnel_processes({client_state["health_port"]})
    # the scheduler dies; the tunnel stays and resets connections (RHL 0.4.5 raises there)
    subprocess.run(["ssh", "localhost", f"kill -9 {first['pid']}"], check=True)
    assert wait_for_exit(first["pid"])
    second, err2 = launched.run()
    assert second["pid"] != first["pid"] and second["total"] == 10_000.0
    assert "tunnel" in err2 and "leads nowhere" in err2, err2
    assert all(not pid_alive(pid) for pid in old_tunnels)
    # `seamless-services stop` closes the new tunnels with the scheduler
    key = second["config"]["key"]
    state = json.loads((launched.home / ".remote-http-launcher" / "client" / f"{key}.json").read_text())
    local = {state[name] for name in ("port", "dashboard_port", "health_port")}
    tunnels = rhl_adapter.tunnel_processes(local)
    assert len(tunnels) == 1
    cli = str(Path(sys.executable).parent / "seamless-services")
    stopped = subprocess.run([cli, "stop", key], env=user_env(launched.home), capture_output=True, text=True, timeout=120)
    assert stopped.returncode == 0, stopped.stderr
    assert not pid_alive(tunnels[0]) and rhl_adapter.tunnel_processes(local) == []
    for port in local:  # the forwardings are cancelled in the master: nothing listens
        with socket.socket() as sock:
            assert sock.connect_ex(("127.0.0.1", port)) != 0, port


@pytest.mark.ssh
@pytest.mark.slurm
def test_slurm_through_ssh_frontend(launched):
    name = f"slurm{secrets.token_hex(3)}"
    launched.write(f"- cluster: {name}\n- persistent: false\n", _ssh_clusters(name, slurm=True))
    result, err = launched.run()
    assert result["total"] == 10_000.0
    assert result["config"]["cluster_string"] == "dask_jobqueue::SLURMCluster"
    assert result["config"]["file_parameters"]["partition"] == "debug"
    jobs = result["worker_jobs"]
    assert jobs and all(j.isdigit() for j in jobs), f"workers did not run in SLURM jobs: {jobs}"
    assert set(jobs) <= set(_slurm_jobs(result["config"]["key"]))


WAIT_FOR_MESSAGE = """
import json, logging, time
import seamless_config
found = []

class Collect(logging.Handler):
    def emit(self, record):
        if NEEDLE in record.getMessage():
            found.append(record.getMessage())

logging.getLogger("seamless_config").addHandler(Collect())
logging.getLogger("seamless_config").setLevel(logging.INFO)
client = seamless_config.set_stage()
from seamless_config.tools import configure_pure_daskserver
deadline = time.monotonic() + 90
while not found and time.monotonic() < deadline:
    time.sleep(0.2)
print(json.dumps({{"config": configure_pure_daskserver(), "found": found}}))
"""


#: What only the message of a failed worker job contains (on a busy batch system, a job may be
#: reported pending first: "Waiting for 1 Dask worker job(s) pending ...").
FAILED_JOB = " failed ("


def _wait_for_message(needle: str) -> str:
    """A user script that activates the profile and waits for a log message containing ``needle``."""
    return WAIT_FOR_MESSAGE.replace("NEEDLE", repr(needle))


@pytest.mark.ssh
@pytest.mark.slurm
def test_failing_slurm_worker_is_reported(launched):
    """A worker job that dies (its interpreter does not exist) reaches the user with id and stderr."""
    name = f"slfail{secrets.token_hex(3)}"
    clusters = _ssh_clusters(name, slurm=True) + "      python: /nonexistent/bin/python\n      interactive: true\n"
    launched.write(f"- cluster: {name}\n- persistent: false\n", clusters)
    result, err = launched.run(code=_wait_for_message(FAILED_JOB))
    assert result["found"], "no worker failure was reported"
    message = result["found"][0]
    assert re.match(r"Dask worker job \d+ failed", message), message
    assert "/nonexistent/bin/python" in message  # the job's stderr tail


@pytest.mark.slurm
def test_fast_failing_slurm_worker_is_reported_on_this_machine(launched):
    """The scheduler on this machine (``local_cluster``): the job fails at once, possibly before
    the client's subscription reached the scheduler; the client replays the events logged since
    its launch began, so the failure is reported all the same."""
    name = f"sllocal{secrets.token_hex(3)}"
    clusters = f"local_cluster: {name}\n" + _ssh_clusters(name, slurm=True) + (
        "      python: /nonexistent/bin/python\n      interactive: true\n"
    )
    launched.write(f"- cluster: {name}\n- persistent: false\n", clusters)
    result, err = launched.run(code=_wait_for_message(FAILED_JOB))
    assert result["found"], "no worker failure was reported"
    assert re.match(r"Dask worker job \d+ failed", result["found"][0]), result["found"][0]
    assert len(result["found"]) == len(set(result["found"])), "an event was reported twice"


@pytest.mark.ssh
@pytest.mark.slurm
def test_pending_slurm_jobs_are_reported(launched):
    """A worker job held in the queue (it may start only in 10 min): the user is told, with why."""
    name = f"slpend{secrets.token_hex(3)}"
    clusters = _ssh_clusters(name, slurm=True) + (
        "      interactive: true\n      job_extra_directives: ['--begin=now+600']\n"
    )
    launched.write(f"- cluster: {name}\n- persistent: false\n", clusters)
    result, err = launched.run(code=_wait_for_message("pending in the batch queue"))
    assert result["found"], "pending worker jobs were not reported"
    assert re.match(r"Waiting for 1 Dask worker job\(s\) pending in the batch queue \(\d+ s so far; reason: BeginTime\)",
                    result["found"][0]), result["found"][0]
