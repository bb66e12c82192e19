"""Job scripts dask-jobqueue builds from the wrapper's configuration (SLURM and OAR), and the
job watcher's reading of batch-system output.

OAR is not installable here without a database and a second host, so its job script is checked
as text and ``oarstat`` output is canned (a stand-in runner); SLURM's watcher is exercised for
real in test_slurm_end_to_end.py.
"""

from __future__ import annotations

import dask
import pytest
from dask_jobqueue.oar import OARJob
from dask_jobqueue.slurm import SLURMJob

from seamless_dask.batch_systems import OAR, SLURM
from seamless_dask.configuration import Placement, build_configuration
from seamless_dask.job_watch import JobWatcher, describe, query_states
from seamless_dask.parameters import parse_parameters

WHERE = Placement(host="127.0.0.1", scheduler_port=40001, dashboard_port=40002,
                  internal_port_range=(40010, 40090), log_base="/logs/key-job",
                  default_python="/venv/bin/python", conda_prefix="/opt/conda/envs/x")
PARAMS = {"walltime": "01:30:00", "cores": 4, "memory": "8GB", "pure_dask": True,
          "maximum_jobs": 3, "partition": "short", "project": "p1",
          "memory_per_core_property_name": "memcore", "job_script_prologue": ["module load py"]}


def job_script(job_cls: type, **params) -> str:
    cfg = build_configuration(parse_parameters({**PARAMS, **params}), WHERE)
    # set leaf by leaf: setting "jobqueue" whole would drop dask-jobqueue's defaults
    leaves = {f"jobqueue.{system}.{key}": value
              for system, entry in cfg.jobqueue.items() for key, value in entry.items()}
    with dask.config.set({**leaves, **cfg.dask}):
        return job_cls("tcp://127.0.0.1:40001", name="w").job_script()


def test_slurm_job_script():
    script = job_script(SLURMJob)
    lines = script.splitlines()
    assert "#SBATCH -p short" in lines and "#SBATCH -A p1" in lines
    assert "#SBATCH --cpus-per-task=4" in lines and "#SBATCH --mem=8G" in lines
    assert "#SBATCH -t 01:30:00" in lines
    header_end = max(i for i, line in enumerate(lines) if line.startswith("#SBATCH"))
    assert lines.index("#SBATCH --output=/logs/key-job-%j.out") <= header_end
    assert lines.index("#SBATCH --error=/logs/key-job-%j.err") <= header_end
    assert lines[header_end + 1] == "module load py"  # user prologue right after the header
    assert "export PYTHON_CPU_COUNT=$SLURM_JOB_CPUS_PER_NODE" in lines
    assert "export DASK_DISTRIBUTED__WORKER__LIFETIME__DURATION=5100s" in lines  # 90 - 4 - 1 min
    command = lines[-1]
    assert command.startswith("/venv/bin/python -m distributed.cli.dask_worker tcp://127.0.0.1:40001")
    assert "--nworkers 4" in command  # pure: processes = cores
    assert command.rstrip().endswith("--nthreads 2 --worker-port=40010:40090 --nanny-port=40010:40090")
    assert "SEAMLESS" not in script


def test_persistent_slurm_job_script_exports_the_throttle():
    script = job_script(SLURMJob, pure_dask=False)
    assert "export SEAMLESS_WORKER_TRANSFORMATION_THROTTLE=3" in script.splitlines()
    assert "--nworkers" not in script  # one process per job
    assert "--nthreads 12" in script


def test_oar_job_script():
    script = job_script(OARJob)
    lines = script.splitlines()
    assert "#OAR -q short" in lines and "#OAR --project p1" in lines
    assert "#OAR -l /nodes=1/core=4,walltime=01:30:00" in lines
    assert "#OAR --stdout=/logs/key-job-%jobid%.out" in lines
    assert "#OAR --stderr=/logs/key-job-%jobid%.err" in lines
    assert "#OAR -p memcore>=1908" in lines  # 8e9 bytes over 4 cores, in MiB
    assert "export CONDA_PREFIX=/opt/conda/envs/x" in lines
    assert 'export PATH="$CONDA_PREFIX/bin:$PATH"' in lines
    assert not any("SLURM" in line for line in lines)
    assert lines[-1].startswith("/venv/bin/python -m distributed.cli.dask_worker")


class CannedRunner:
    """Stand-in for the batch-system commands: canned output per command name."""

    def __init__(self, outputs: dict[str, str]):
        self.outputs = outputs
        self.calls: list[list[str]] = []

    def __call__(self, cmd: list[str]) -> str:
        self.calls.append(cmd)
        return self.outputs.get(cmd[0], "")


def test_slurm_states_fall_back_to_sacct():
    runner = CannedRunner({"squeue": "11|RUNNING|None\n", "sacct": "12|FAILED\n12.batch|FAILED\n"})
    states = query_states(SLURM, ["11", "12"], runner)
    assert {j: s.state for j, s in states.items()} == {"11": "RUNNING", "12": "FAILED"}
    assert runner.calls[1][0] == "sacct" and "--jobs=12" in runner.calls[1]


def test_oar_failure_and_pending_events(tmp_path):
    (tmp_path / "key-job-7.err").write_text("line 1\nModuleNotFoundError: No module named 'distributed'\n")
    runner = CannedRunner({"oarstat": ""})
    clock = iter(range(0, 1000, 3)).__next__
    watcher = JobWatcher(OAR, str(tmp_path / "key-job"), run=lambda cmd: runner.outputs[cmd[-1]],
                         clock=lambda: float(clock()))
    runner.outputs.update({"7": "7: Error\n", "8": "8: Waiting\n"})
    events = watcher.poll({"7": "w-0", "8": "w-1"}, set())
    failed = [e for e in events if e["kind"] == "worker-failed"]
    assert failed == [{"kind": "worker-failed", "job_id": "7", "state": "Error", "reason": "", "exit_status": None,
                       "stderr_tail": "line 1\nModuleNotFoundError: No module named 'distributed'"}]
    pending = [e for e in events if e["kind"] == "jobs-pending"]
    assert pending == [{"kind": "jobs-pending", "pending": 1, "waited_seconds": 0, "reasons": []}]
    assert "worker job 7 Error" in describe(failed[0])
    # reported once; pending again only after ~5 s
    assert watcher.poll({"7": "w-0", "8": "w-1"}, set()) == []
    later = watcher.poll({"7": "w-0", "8": "w-1"}, set())
    assert later[0]["kind"] == "jobs-pending" and later[0]["waited_seconds"] == 6
    # a connected worker ends the waiting
    assert watcher.poll({"8": "w-1"}, {"w-1"}) == []


@pytest.mark.parametrize("state, connected, failed", [
    ("COMPLETED", True, False),   # a worker that ran and retired (lifetime)
    ("COMPLETED", False, True),   # ended without ever connecting
    ("TIMEOUT", True, True),
    ("RUNNING", False, False),
])
def test_which_ended_jobs_count_as_failures(tmp_path, state, connected, failed):
    watcher = JobWatcher(SLURM, str(tmp_path / "k"), run=lambda cmd: f"5|{state}|None\n")
    events = watcher.poll({"5": "SLURMCluster-0"}, {"SLURMCluster-0-1"} if connected else set())
    assert any(e["kind"] == "worker-failed" for e in events) is failed
    if failed:
        assert "no stderr file" in events[0]["stderr_tail"]
        assert events[0]["reason"] == ""  # squeue's literal "None" is no reason


@pytest.mark.parametrize("state, connected, failed", [
    ("Terminated", True, False),  # OAR's normal end of a worker that ran
    ("Terminated", False, True),
    ("Error", True, True),
])
def test_which_ended_oar_jobs_count_as_failures(tmp_path, state, connected, failed):
    """OAR is not installed here: canned oarstat output (the SLURM twin runs for real too)."""
    watcher = JobWatcher(OAR, str(tmp_path / "k"), run=lambda cmd: f"{cmd[-1]}: {state}\n")
    events = watcher.poll({"5": "OARCluster-0"}, {"OARCluster-0-1"} if connected else set())
    assert any(e["kind"] == "worker-failed" for e in events) is failed


def test_leftover_jobs_are_cancelled():
    calls: list[list[str]] = []

    def run(cmd: list[str]) -> str:
        calls.append(cmd)
        return "1|RUNNING|None\n2|CANCELLED|None\n3|PENDING|Priority\n" if cmd[0] == "squeue" else ""

    watcher = JobWatcher(SLURM, "/x", run=run)
    watcher.submitted.update({"1", "2", "3"})
    assert watcher.cancel_leftovers() == ["1", "3"]
    assert calls[-1] == ["scancel", "1", "3"]
