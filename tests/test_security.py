"""Another local user against everything set_stage() launches: real services, a real second user.

For each topology (pure Dask on the local cluster; pure Dask with SLURM job workers; persistent
mode with the jobserver; persistent mode with a Seamless Dask server; pure Dask over SSH with a
tunnel) the owner's work runs, and then user 65534 (``setpriv --reuid=65534 --regid=65534
--clear-groups``; a Python it can start, with distributed importable), with the owner's home
at 0755 as on many clusters:

* cannot connect a Dask client (plain ``tcp://``, or ``tls://`` with a certificate of its own) to
  the scheduler, the workers or the nannies;
* gets no HTTP 200 that carries data from any port of any launched service, over plain HTTP or
  HTTPS without a client certificate (the bare ``OK`` of a health port excepted);
* cannot open any file the project or its services wrote under the home.

No key material appears on any command line meanwhile. The last tests check that a missing,
expired or foreign credential stops a launch within seconds, naming the file and the renew
command, with nothing left running.
"""

from __future__ import annotations

import json
import os
import secrets
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil
import pytest
import yaml

import persistent_services as ps
from seamless_config import launching
from seamless_service import credentials

ATTACKER = Path(__file__).with_name("attacker.py")
NOBODY = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"]


# --- the second user ------------------------------------------------------------------------


def _site_packages() -> str:
    import distributed

    return str(Path(distributed.__file__).parent.parent)


def _nobody_python() -> list[str] | None:
    """A command that runs Python as uid 65534 with distributed importable, or None."""
    for python in ("/usr/bin/python3", sys.executable):
        probe = subprocess.run(
            [*NOBODY, "env", f"PYTHONPATH={_site_packages()}", "HOME=/nonexistent", python, "-c",
             "import distributed, sys; sys.exit(sys.version_info[:2] != (%d, %d))" % sys.version_info[:2]],
            capture_output=True, text=True,
        )
        if probe.returncode == 0:
            return [*NOBODY, "env", f"PYTHONPATH={_site_packages()}", "HOME=/nonexistent", python]
    return None


def attack(*, ports: set[int], dask: set[str], files: list[str]) -> dict:
    """Run tests/attacker.py as uid 65534; return its report. ``dask``: ``host:port`` addresses."""
    fd, report = tempfile.mkstemp(prefix="attack-", suffix=".json")
    os.close(fd)
    os.chmod(report, 0o666)
    try:
        args = [str(ATTACKER), report, "--ports", *map(str, sorted(ports)), "--dask", *sorted(dask),
                "--files", *files]
        nobody = _nobody_python()
        # the user's own interpreter may sit in a 0700 home (pyenv): then the attacker imports
        # first and drops to uid 65534 itself before it tries anything
        cmd = [*nobody, *args] if nobody else [sys.executable, *args, "--drop"]
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
        assert run.returncode == 0, run.stderr
        result = json.loads(Path(report).read_text())
    finally:
        os.unlink(report)
    assert result["uid"] == 65534
    return result


def assert_nothing_reached(report: dict) -> None:
    assert report["dask"] == [], f"another user connected to Dask: {report['dask']}"
    assert report["http"] == [], f"another user got data over HTTP(S): {report['http']}"
    assert report["files"] == [], f"another user could open: {report['files']}"


# --- what the owner's services expose ---------------------------------------------------------


def listening_ports(pids: list[int]) -> set[int]:
    """TCP ports on which the processes ``pids`` or their descendants listen."""
    ports: set[int] = set()
    for pid in pids:
        try:
            root = psutil.Process(pid)
            family = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            continue
        for proc in family:
            try:
                connections = proc.net_connections(kind="tcp")
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
            ports |= {c.laddr.port for c in connections if c.status == psutil.CONN_LISTEN}
    return ports


def files_under(root: Path) -> list[str]:
    return [os.path.join(d, f) for d, _, names in os.walk(root) for f in names]


def assert_no_key_on_command_lines(*homes: Path) -> None:
    """No process's argv or environment holds key material of these homes' credentials (nor a
    PEM key)."""
    secrets_seen = []
    for home in homes:
        for key in (home / ".seamless" / "tls").rglob("*.key"):
            secrets_seen += [line for line in key.read_text().splitlines() if line and not line.startswith("-----")]
    for proc in psutil.process_iter(["cmdline"]):
        argv = " ".join(proc.info.get("cmdline") or [])
        try:
            environment = " ".join(proc.environ().values())
        except (psutil.AccessDenied, psutil.NoSuchProcess, psutil.ZombieProcess):
            environment = ""
        for text, where in ((argv, "command line"), (environment, "environment")):
            assert "PRIVATE KEY" not in text, f"a private key in the {where} of pid {proc.pid}"
            assert not any(s in text for s in secrets_seen), f"key material in the {where} of pid {proc.pid}"


@pytest.fixture
def shared_home(monkeypatch):
    """A home at 0755 under a world-traversable directory, as on a login node; HOME points there.

    Afterwards every service launched under it is stopped by PID and the directory removed.
    """
    top = Path(tempfile.mkdtemp(prefix="seamless-security-"))
    os.chmod(top, 0o755)
    home = top / "home"
    home.mkdir(mode=0o755)
    os.chmod(home, 0o755)
    monkeypatch.setenv("HOME", str(home))
    ssh_configs: list[dict] = []
    yield home, ssh_configs
    for config in ssh_configs:
        launching.stop(config)
        key = shlex.quote(config["key"])
        subprocess.run(["ssh", launching.ssh_host(config), f"rm -f ~/.remote-http-launcher/server/{key}.log"], check=False)
    ps.stop_servers(home)
    from seamless_config.ssh_multiplex import close_masters

    close_masters()  # the SSH masters opened under this home
    shutil.rmtree(top, ignore_errors=True)


def _write_clusters(home: Path, definitions: dict) -> None:
    """``~/.seamless/clusters.yaml`` of the owner (its directory private, as the product makes it)."""
    (home / ".seamless").mkdir(mode=0o700)
    (home / ".seamless" / "clusters.yaml").write_text(yaml.safe_dump(definitions))


def _project(home: Path, commands: list, script: str) -> Path:
    path = ps.write_project(home.parent / "project", commands, script)
    for p in (path.parent, path):
        os.chmod(p, 0o755 if p.is_dir() else 0o644)
    return path


def _service_pids(home: Path) -> list[int]:
    return list(ps.launched_servers(home).values())


PURE_SCRIPT = """
import json
import seamless_config
client = seamless_config.set_stage()
assert client.submit(sum, [1, 2, 3]).result(timeout=120) == 6
client.wait_for_workers(1, timeout=120)
info = client.scheduler_info()
ports = set()
for address, worker in info["workers"].items():
    ports.add(int(address.rsplit(":", 1)[1]))
    if worker.get("nanny"):
        ports.add(int(worker["nanny"].rsplit(":", 1)[1]))
    ports |= {int(p) for p in (worker.get("services") or {}).values()}
scratch = sorted(set(client.run(lambda dask_worker: dask_worker.local_directory).values()))
print(json.dumps({"scheduler": client.scheduler.address, "worker_ports": sorted(ports),
                  "worker_addresses": sorted(info["workers"]),
                  "nannies": sorted(w["nanny"] for w in info["workers"].values() if w.get("nanny")),
                  "scratch": scratch}))
"""


def _run(script: Path, home: Path) -> dict:
    return ps.last_json(ps.run_script(script, home, timeout=240))


def _host_port(address: str) -> str:
    return address.split("://", 1)[1]


def _scratch_files(result: dict) -> list[str]:
    """The workers' scratch directories (spilled data) and what is in them: private, not /tmp's."""
    found = []
    for directory in result["scratch"]:
        assert "dask-scratch-space" not in directory.split(os.sep)[:3], directory
        parent = Path(directory).parent
        assert parent.stat().st_uid == os.getuid() and parent.stat().st_mode & 0o077 == 0, (
            f"worker scratch space {directory} is in a directory others can enter"
        )
        found += [directory, *files_under(Path(directory))]
    return found


def _check_pure(home: Path, result: dict, extra_ports: set[int] = frozenset()) -> None:
    assert result["scheduler"].startswith("tls://"), result
    assert all(a.startswith("tls://") for a in result["worker_addresses"] + result["nannies"]), result
    scheduler_port = int(result["scheduler"].rsplit(":", 1)[1])
    ports = listening_ports(_service_pids(home)) | set(result["worker_ports"]) | set(extra_ports)
    assert scheduler_port in ports
    dask = {_host_port(a) for a in (result["scheduler"], *result["worker_addresses"], *result["nannies"])}
    report = attack(ports=ports, dask=dask, files=files_under(home) + _scratch_files(result))
    assert_nothing_reached(report)
    assert_no_key_on_command_lines(home)


def test_pure_dask_local(shared_home):
    home, _ = shared_home
    script = _project(home, [{"cluster": "local"}, {"persistent": False}], PURE_SCRIPT)
    result = _run(script, home)
    _check_pure(home, result)


CONFIG_LINE = ("from seamless_config.tools import configure_pure_daskserver\n"
               "print(json.dumps({\"config\": configure_pure_daskserver(), ")


def _frontend_ports(config: dict, home: Path) -> set[int]:
    """Ports of a service on the (loopback) frontend, and the local tunnel ports if any."""
    client_state = json.loads((home / ".remote-http-launcher" / "client" / f"{config['key']}.json").read_text())
    local = {v for k, v in client_state.items() if k.endswith("port") and not k.startswith("tunneled")}
    return local | listening_ports([launching.server_state(config)["pid"]])


def test_the_attacker_gets_in_when_tls_is_off(shared_home):
    """The control: with the documented opt-out (``tls: false``), the same attacker does reach
    the scheduler and the workers, and every launch warns. So the checks above can fail."""
    home, _ = shared_home
    _write_clusters(home, {"local": {"type": "local", "tls": False}})
    script = _project(home, [{"cluster": "local"}, {"persistent": False}], PURE_SCRIPT)
    run = ps.run_script(script, home, timeout=240)
    result = ps.last_json(run)
    assert "TLS is off" in run.stderr
    assert result["scheduler"].startswith("tcp://")
    dask = {_host_port(a) for a in (result["scheduler"], *result["worker_addresses"])}
    report = attack(ports=set(), dask=dask, files=[])
    reached = {line.split(" ", 1)[0] for line in report["dask"]}
    assert {f"tcp://{a}" for a in dask} <= reached, report


@pytest.mark.ssh
@pytest.mark.slurm
def test_pure_dask_with_slurm_workers(shared_home):
    home, ssh_configs = shared_home
    name = f"secslurm{secrets.token_hex(3)}"
    _write_clusters(home, {name: {
        "type": "slurm",
        "frontends": [{"hostname": "localhost", "daskserver": {"timeout": 120}}],
        "queues": {"debug": {"partition": "debug", "walltime": "00:10:00", "cores": 1, "memory": "1GB",
                             "maximum_jobs": 1}},
    }})
    script = _project(home, [{"cluster": name}, {"persistent": False}], PURE_SCRIPT.replace(
        "print(json.dumps({", CONFIG_LINE + "\"jobs\": sorted(set(map(str, client.run(__import__('os').getenv, 'SLURM_JOB_ID').values()))), "
    ))
    result = _run(script, home)
    ssh_configs.append(result["config"])
    assert result["jobs"] and all(j.isdigit() for j in result["jobs"]), result
    _check_pure(home, result, extra_ports=_frontend_ports(result["config"], home))


PERSISTENT_SCRIPT = """
import json
import seamless_config
seamless_config.set_stage()
from seamless_transformer import delayed
from seamless_remote.activation import get_active

@delayed
def add(a, b):
    return a + b

value = add(2, 3).run()
active = get_active()
print(json.dumps({"value": value, "urls": active.urls}))
"""


def _check_persistent(home: Path, result: dict, remote: str) -> None:
    assert result["value"] == 5
    urls = result["urls"]
    assert urls["hashserver"].startswith("https://") and urls["database"].startswith("https://")
    assert urls[remote].startswith("https://" if remote == "jobserver" else "tls://")
    ports = listening_ports(_service_pids(home))
    dask = {_host_port(urls["daskserver"])} if remote == "daskserver" else set()
    report = attack(ports=ports, dask=dask, files=files_under(home))
    assert_nothing_reached(report)
    assert_no_key_on_command_lines(home)


def test_persistent_with_jobserver(shared_home):
    home, _ = shared_home
    ps.write_cluster(home, "laptop", home / "store", jobserver={})
    commands = [{"cluster": "laptop"}, {"project": "p"}, {"execution": "remote"}, {"remote": "jobserver"}]
    result = _run(_project(home, commands, PERSISTENT_SCRIPT), home)
    assert set(ps.launched_servers(home)) == {"hashserver-laptop-rw-p", "database-laptop-rw-p", "jobserver-laptop-p"}
    _check_persistent(home, result, "jobserver")


def test_persistent_with_dask_server(shared_home):
    home, _ = shared_home
    queues = {"default": {"cores": 1, "maximum_jobs": 1, "memory": "1GB", "walltime": "01:00:00"}}
    ps.write_cluster(home, "laptop", home / "store", daskserver={"timeout": 120}, queues=queues)
    commands = [{"cluster": "laptop"}, {"project": "p"}, {"remote": "daskserver"}]
    result = _run(_project(home, commands, PERSISTENT_SCRIPT), home)
    _check_persistent(home, result, "daskserver")


@pytest.mark.ssh
def test_pure_dask_over_ssh_with_tunnel(shared_home):
    home, ssh_configs = shared_home
    name = f"sectun{secrets.token_hex(3)}"
    _write_clusters(home, {name: {
        "type": "local", "tunnel": True,
        "frontends": [{"hostname": "localhost", "daskserver": {"timeout": 120}}],
        "queues": {"default": {"cores": 1, "memory": "1GB", "walltime": "00:10:00", "maximum_jobs": 1}},
    }})
    script = _project(home, [{"cluster": name}, {"persistent": False}], PURE_SCRIPT.replace("print(json.dumps({", CONFIG_LINE))
    result = _run(script, home)
    config = result["config"]
    ssh_configs.append(config)
    assert config["tunnel"] is True
    copy = credentials.host_directory("localhost", home / ".seamless" / "tls")
    assert sorted(p.name for p in copy.iterdir() if not p.name.startswith(".")) == sorted([*credentials.CLIENT_FILES, "client.p12"])
    _check_pure(home, result, extra_ports=_frontend_ports(config, home))


# --- credentials that are missing, expired or foreign -----------------------------------------


def _pure_local_run(home: Path) -> subprocess.CompletedProcess:
    script = _project(home, [{"cluster": "local"}, {"persistent": False}], PURE_SCRIPT)
    return ps.run_script(script, home, timeout=120)


def _no_service_left(home: Path) -> None:
    assert not [pid for pid in _service_pids(home) if launching.pid_alive(pid)], "a service was left running"


@pytest.mark.parametrize("fault", ["missing", "expired", "foreign"])
def test_bad_client_credential_stops_the_launch(shared_home, fault):
    home, _ = shared_home
    tls_dir = home / ".seamless" / "tls"
    creds = credentials.ensure(tls_dir)
    if fault == "missing":
        creds.key("client").unlink()
        expected = "client.key: missing"
    elif fault == "expired":
        credentials.create(tls_dir, valid_from=credentials._now() - __import__("datetime").timedelta(days=30), leaf_days=3)
        expected = "expired on"
    else:
        other = credentials.create(home.parent / "other-ca")
        for suffix in ("pem", "key"):
            creds.directory.joinpath(f"client.{suffix}").write_bytes(other.directory.joinpath(f"client.{suffix}").read_bytes())
        expected = "not signed by the CA"
    run = _pure_local_run(home)
    assert run.returncode != 0
    assert "CredentialError" in run.stderr and expected in run.stderr, run.stderr
    assert str(tls_dir) in run.stderr and "seamless-services renew-credentials" in run.stderr
    _no_service_left(home)
    # the renew command named in the message repairs it
    renew = subprocess.run([str(Path(sys.executable).with_name("seamless-services")), "renew-credentials"],
                           env=ps.user_env(home), capture_output=True, text=True, timeout=60)
    assert renew.returncode == 0, renew.stderr
    assert _pure_local_run(home).returncode == 0


def test_expired_service_credential_fails_the_service_start(shared_home):
    """The client's own certificate is fine, the services' one expired: the service refuses to
    start and the user sees why, with nothing left running."""
    home, _ = shared_home
    tls_dir = home / ".seamless" / "tls"
    expired = credentials.create(home.parent / "old", valid_from=credentials._now() - __import__("datetime").timedelta(days=30), leaf_days=3)
    fresh = credentials.ensure(tls_dir)
    for suffix in ("pem", "key"):  # an expired service certificate of the same CA is not at hand: use
        fresh.directory.joinpath(f"service.{suffix}").write_bytes(expired.directory.joinpath(f"service.{suffix}").read_bytes())
    run = _pure_local_run(home)
    assert run.returncode != 0
    assert "could not be started" in run.stderr and "service.pem" in run.stderr, run.stderr
    assert "renew-credentials" in run.stderr
    _no_service_left(home)
