"""seamless-config explain, run as a user runs it (a subprocess in the project directory).

It must tell what set_stage() would do and launch nothing; its errors are set_stage()'s. The
state of a service already running under a key is checked against a real pure-Dask scheduler.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import seamless_config
from seamless_config import ConfigurationError, launching, lifecycle
from seamless_config.tools import configure_pure_daskserver

CLI = str(Path(sys.executable).parent / "seamless-config")

CLUSTERS = """\
hpc:
  type: slurm
  tunnel: true
  frontends:
    - hostname: login.hpc.invalid
      daskserver: {network_interface: 0.0.0.0, port_start: 60300, port_end: 60399}
      hashserver: {bufferdir: /scratch/buffers}
      database: {database_dir: /scratch/db}
  default_queue: normal
  queues:
    normal: {walltime: "02:00:00", cores: 8, memory: 32GB, partition: normal}
    bigmem: {TEMPLATE: normal, memory: 256GB}
"""
SHARED = "- project: myproject\n- cluster: hpc\n"
PROFILE = "- queue: bigmem\n- stage dask-only:\n    - persistent: false\n"


def explain(*args: str, cwd: Path, home: Path, module: bool = False) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "seamless_config"] if module else [CLI]
    env = {**os.environ, "HOME": str(home)}
    return subprocess.run([*command, "explain", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=120)


@pytest.fixture
def hpc_project(project_dir: Path, isolated_home: Path, write_yaml) -> Path:
    write_yaml(isolated_home / ".seamless" / "clusters.yaml", CLUSTERS)
    write_yaml(project_dir / "seamless.yaml", SHARED)
    write_yaml(project_dir / "seamless.profile.yaml", PROFILE)
    return project_dir


def test_files_settings_sources_mode_and_services(hpc_project: Path, isolated_home: Path):
    done = explain("--json", cwd=hpc_project, home=isolated_home)
    assert done.returncode == 0, done.stderr
    doc = json.loads(done.stdout)
    shared, profile = str(hpc_project / "seamless.yaml"), str(hpc_project / "seamless.profile.yaml")
    assert doc["files"] == [str(isolated_home / ".seamless" / "clusters.yaml"), shared, profile]
    settings = doc["settings"]
    assert settings["cluster"] == {"value": "hpc", "source": "command", "file": shared, "line": 2}
    assert settings["queue"] == {"value": "bigmem", "source": "command", "file": profile, "line": 1}
    assert settings["project"]["line"] == 1 and settings["subproject"]["value"] is None
    assert settings["execution"]["value"] == "remote" and settings["execution"]["source"] == "default"
    assert "cluster 'hpc' is selected" in settings["execution"]["why"]
    assert settings["persistent"] == {"value": True, "source": "default", "why": settings["persistent"]["why"]}
    assert settings["remote"]["value"] == "daskserver" and "only kind of remote service" in settings["remote"]["why"]
    assert doc["mode"] == "remote-daskserver"
    assert [s["key"] for s in doc["services"]] == [
        "hashserver-hpc-rw-myproject", "database-hpc-rw-myproject", "daskserver-hpc-myproject",
    ]
    hashserver, _, dask = doc["services"]
    assert hashserver["where"] == "login.hpc.invalid over SSH (tunnelled)" and hashserver["port_range"] == [60100, 60199]
    assert hashserver["workdir"] == "/scratch/buffers/myproject" and hashserver["tls"] is True
    assert "--port-range 60100 60199" in hashserver["command"] and "/scratch/buffers/myproject" in hashserver["command"]
    assert dask["workers"] == "in SLURM batch jobs" and dask["cluster_string"] == "dask_jobqueue::SLURMCluster"
    assert dask["parameters"]["memory"] == "256GB" and dask["parameters"]["partition"] == "normal"
    assert dask["network_interface"] == "0.0.0.0" and dask["port_range"] == [60300, 60399]
    # the frontend does not resolve: the state is unknown (not "not running"), and says why
    assert dask["running"]["state"] == "unknown" and "ssh login.hpc.invalid failed" in dask["running"]["detail"]


def test_stage_and_text_output(hpc_project: Path, isolated_home: Path):
    done = explain("--stage", "dask-only", "--no-state", cwd=hpc_project, home=isolated_home, module=True)
    assert done.returncode == 0, done.stderr
    text = done.stdout
    assert "Stage: dask-only" in text
    assert f"  persistent  false       {hpc_project / 'seamless.profile.yaml'}:3" in text
    assert "  execution   remote      default: no 'execution' command, and cluster 'hpc' is selected" in text
    assert "Mode: pure-dask:" in text
    assert "Dask scheduler 'pure-daskserver-hpc-bigmem'" in text and "hashserver" not in text
    assert "  workers:           in SLURM batch jobs" in text
    assert "pure_dask=true" in text and "now:" not in text  # --no-state asks nothing


def test_no_files_is_process_mode(project_dir: Path, isolated_home: Path):
    done = explain("--json", "--workdir", str(project_dir), cwd=Path("/"), home=isolated_home)
    doc = json.loads(done.stdout)
    assert doc["files"] == [] and doc["mode"] == "process" and doc["services"] == []
    assert doc["settings"]["execution"] == {"value": "process", "source": "default", "why": "no 'execution' command, and no cluster is selected"}


@pytest.mark.parametrize("profile", [
    "- cluster: hpc\n- persistent: 'yes'\n",        # a wrong type
    "- persistent: true\n",                         # persistence without a cluster
    "- cluster: local\n",                            # a persistent mode without a project
    "- cluster: nowhere\n",                          # an unknown cluster
])
def test_errors_are_those_of_set_stage_with_exit_code_2(profile: str, hpc_project: Path, isolated_home: Path):
    (hpc_project / "seamless.yaml").write_text(profile)
    (hpc_project / "seamless.profile.yaml").unlink()
    with pytest.raises(ConfigurationError) as info:
        seamless_config.set_stage(workdir=hpc_project)
    done = explain(cwd=hpc_project, home=isolated_home)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr == f"seamless-config: {info.value}\n"
    assert str(hpc_project / "seamless.yaml") in done.stderr
    assert not (isolated_home / ".seamless" / "launches").exists()


def test_usage(isolated_home: Path, tmp_path: Path):
    assert explain("--workdir", str(tmp_path / "nope"), cwd=tmp_path, home=isolated_home).returncode == 2
    assert "Nothing is launched" in subprocess.run([CLI, "explain", "--help"], capture_output=True, text=True).stdout
    assert subprocess.run([CLI], capture_output=True, text=True).returncode == 2


def test_state_of_a_running_scheduler_and_a_changed_definition(project_dir: Path, isolated_home: Path, write_yaml):
    write_yaml(project_dir / "seamless.profile.yaml", "- clusters:\n    expl: {type: local, workers: 1}\n- cluster: expl\n- persistent: false\n")
    config = None
    try:
        seamless_config.set_stage(workdir=project_dir)
        config = configure_pure_daskserver()
        pid = launching.server_state(config)["pid"]
        lifecycle.reset()
        before = sorted(p.name for p in (isolated_home / ".seamless" / "launches").iterdir())

        doc = json.loads(explain("--json", cwd=project_dir, home=isolated_home).stdout)
        (service,) = doc["services"]
        assert service["key"] == "pure-daskserver-expl-default" and service["where"] == "this machine"
        assert service["running"] == {"state": "running", "pid": pid, "detail": None}
        text = explain(cwd=project_dir, home=isolated_home).stdout
        assert f"now:               running (pid {pid}); set_stage() would connect to it" in text

        write_yaml(project_dir / "seamless.profile.yaml", "- clusters:\n    expl: {type: local, workers: 2}\n- cluster: expl\n- persistent: false\n")
        doc = json.loads(explain("--json", cwd=project_dir, home=isolated_home).stdout)
        relaunch = doc["services"][0]["running"]["relaunch"]
        assert "file_parameters.maximum_jobs: 1 -> 2" in relaunch
        assert launching.pid_alive(pid)  # explained, not acted on
        assert sorted(p.name for p in (isolated_home / ".seamless" / "launches").iterdir()) == before
    finally:
        lifecycle.reset()
        if config is not None:
            launching.stop(config)


def test_queue_that_only_dask_modes_need(project_dir: Path, isolated_home: Path, write_yaml):
    """A cluster with two queues and no default: fine for a jobserver, an error for pure Dask."""
    write_yaml(isolated_home / ".seamless" / "clusters.yaml", (
        "two:\n  type: local\n  workers: 1\n  frontends:\n    - jobserver: {}\n      daskserver: {}\n"
        "      hashserver: {bufferdir: /tmp/b}\n      database: {database_dir: /tmp/d}\n"
        "  queues:\n    a: {cores: 1}\n    b: {cores: 2}\n"
    ))
    write_yaml(project_dir / "seamless.yaml", "- project: p\n- cluster: two\n- remote: jobserver\n- stage dask:\n    - persistent: false\n    - remote: daskserver\n")
    doc = json.loads(explain("--json", "--no-state", cwd=project_dir, home=isolated_home).stdout)
    assert doc["mode"] == "remote-jobserver" and doc["settings"]["queue"]["value"] is None
    assert "no default queue" in doc["settings"]["queue"]["why"]
    done = explain("--stage", "dask", cwd=project_dir, home=isolated_home)
    assert done.returncode == 2 and "no default queue" in done.stderr
