"""Job scripts dask-jobqueue builds from the wrapper's configuration (SLURM, OAR, Grid Engine,
PBS, LSF, HTCondor), and the job watcher's reading of batch-system output.

OAR is not installable here without a database and a second host, so its job script is checked
as text and ``oarstat`` output is canned (a stand-in runner); SLURM's watcher is exercised for
real in test_slurm_end_to_end.py.
"""

from __future__ import annotations

import dataclasses
import subprocess
import warnings

import dask
import pytest
from dask_jobqueue.htcondor import HTCondorJob
from dask_jobqueue.lsf import LSFJob
from dask_jobqueue.oar import OARJob
from dask_jobqueue.pbs import PBSJob
from dask_jobqueue.sge import SGEJob
from dask_jobqueue.slurm import SLURMJob

from seamless_dask.batch_systems import HTCONDOR, LSF, OAR, PBS, SLURM
from seamless_dask.errors import WrapperError
from seamless_dask.configuration import PRIVATE_SCRATCH, Placement, build_configuration
from seamless_dask.job_watch import JobWatcher, describe, query_states
from seamless_dask.parameters import parse_parameters

WHERE = Placement(host="127.0.0.1", scheduler_port=40001, dashboard_port=40002,
                  internal_port_range=(40010, 40090), log_base="/logs/key-job",
                  default_python="/venv/bin/python", conda_prefix="/opt/conda/envs/x")
PARAMS = {"walltime": "01:30:00", "cores": 4, "memory": "8GB", "pure_dask": True,
          "maximum_jobs": 3, "partition": "short", "project": "p1",
          "memory_per_core_property_name": "memcore", "job_script_prologue": ["module load py"]}


def job_script(job_cls: type, *, unchecked: dict | None = None, **params) -> str:
    """The job script of ``params``; ``unchecked`` values bypass the parameter grammars."""
    parsed = dataclasses.replace(parse_parameters({**PARAMS, **params}), **(unchecked or {}))
    cfg = build_configuration(parsed, WHERE)
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
    # right after the header: owner-only files, a private scratch directory, then the user's prologue
    assert lines[header_end + 1:header_end + 5] == [
        "umask 077", PRIVATE_SCRATCH, """trap 'rm -rf "$DASK_TEMPORARY_DIRECTORY"' EXIT""", "module load py"]
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


def test_job_script_values_are_shell_quoted(tmp_path):
    """A hostile tmpdir and an interpreter path with a space: the script, run by bash, passes them
    as single arguments and runs nothing else (the worker interpreter is a stand-in that records
    its arguments)."""
    marker = tmp_path / "injected"
    args_file = tmp_path / "args"
    env = tmp_path / "my env"
    env.mkdir()
    python = env / "python"
    python.write_text(f'#!/bin/bash\nprintf "%s\\n" "$@" > {args_file}\n')
    python.chmod(0o755)
    tmpdir = f"/tmp/x; touch {marker}"
    script = job_script(SLURMJob, tmpdir=tmpdir, python=str(python))
    assert f"--local-directory '{tmpdir}'" in script
    subprocess.run(["bash", "-c", script], check=True, timeout=30, cwd=tmp_path)
    args = args_file.read_text().splitlines()
    assert args[args.index("--local-directory") + 1] == tmpdir
    assert not marker.exists()


def test_directive_values_are_quoted():
    """The parameter grammar refuses such values already; the quoting is the second line of defence."""
    for name, value in (("partition", "a b"), ("project", "x;y")):
        with pytest.raises(WrapperError, match=f"Parameter '{name}' must be letters"):
            parse_parameters({**PARAMS, name: value})
    script = job_script(SLURMJob, unchecked={"partition": "a b", "project": "x;y"})
    lines = script.splitlines()
    assert "#SBATCH -p 'a b'" in lines and "#SBATCH -A 'x;y'" in lines


# --- Grid Engine, PBS, LSF, HTCondor ---------------------------------------------------------
# Grid Engine also runs for real (test_sge_end_to_end.py). PBS, LSF and HTCondor cannot be
# installed here: their job scripts are checked as text, and their status commands are stand-ins
# that print output in the formats their documentation gives (PBS Pro / Torque `qstat -f`, LSF
# `bjobs -o`, HTCondor `condor_q -af:j` / `condor_history -af:j`).


def test_sge_job_script():
    script = job_script(SGEJob, resource_spec="h_vmem=8G")
    lines = script.splitlines()
    assert "#$ -q short" in lines and "#$ -P p1" in lines
    assert "#$ -l h_vmem=8G" in lines and "#$ -l h_rt=01:30:00" in lines
    assert "#$ -o /logs/key-job-$JOB_ID.out" in lines and "#$ -e /logs/key-job-$JOB_ID.err" in lines
    assert "#$ -j y" not in lines  # stderr kept apart, for the watcher's tail
    assert "export CONDA_PREFIX=/opt/conda/envs/x" in lines  # qsub passes no environment
    assert lines[-1].startswith("/venv/bin/python -m distributed.cli.dask_worker")


def test_pbs_job_script():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # project goes to 'account' (no FutureWarning)
        script = job_script(PBSJob, resource_spec="select=1:ncpus=4:mem=8GB")
    lines = script.splitlines()
    assert "#PBS -q short" in lines and "#PBS -A p1" in lines
    assert "#PBS -l select=1:ncpus=4:mem=8GB" in lines and "#PBS -l walltime=01:30:00" in lines
    header_end = max(i for i, line in enumerate(lines) if line.startswith("#PBS"))
    # no -o/-e path can hold the job id: the script sends its own output to the wrapper's logs
    assert lines[header_end + 1] == (
        'exec >>"/logs/key-job-${PBS_JOBID%%.*}.out" 2>>"/logs/key-job-${PBS_JOBID%%.*}.err"')
    assert lines[header_end + 2] == "umask 077" and lines[header_end + 5] == "module load py"
    assert "export CONDA_PREFIX=/opt/conda/envs/x" in lines
    default = job_script(PBSJob).splitlines()  # dask-jobqueue's own request from cores and memory
    assert "#PBS -l select=1:ncpus=4:mem=7630MB" in default  # 8 GB in MiB


def test_lsf_job_script():
    script = job_script(LSFJob, ncpus=8, mem="2GB", walltime="01:29:10")
    lines = script.splitlines()
    assert "#BSUB -q short" in lines and '#BSUB -P "p1"' in lines
    assert "#BSUB -n 8" in lines
    assert "#BSUB -M 2000000" in lines  # 2 GB in LSF's default unit (KB)
    assert "#BSUB -W 01:30" in lines  # [HH:]MM, rounded up
    assert "#BSUB -o /logs/key-job-%J.out" in lines and "#BSUB -e /logs/key-job-%J.err" in lines
    assert not any("CONDA_PREFIX" in line for line in lines)  # bsub passes the environment


def test_htcondor_submit_description():
    params = {k: v for k, v in PARAMS.items()
              if k not in ("walltime", "partition", "project", "memory_per_core_property_name")}
    cfg = build_configuration(parse_parameters(
        {**params, "disk": "10GB", "job_extra_directives": ["+AccountingGroup = \"g.alice\""]}), WHERE)
    assert "htcondor" not in cfg.job_problems
    leaves = {f"jobqueue.htcondor.{key}": value for key, value in cfg.jobqueue["htcondor"].items()}
    with dask.config.set({**leaves, **cfg.dask}):
        script = HTCondorJob("tcp://127.0.0.1:40001", name="w").job_script()
    lines = script.splitlines()
    assert "Output = /logs/key-job-$(ClusterId).$(ProcId).out" in lines
    assert "Error = /logs/key-job-$(ClusterId).$(ProcId).err" in lines
    assert "Stream_Error = True" in lines
    assert '+AccountingGroup = "g.alice"' in lines
    assert "MY.DaskWorkerDisk = 10000000000" in lines and "MY.DaskWorkerCores = 4" in lines
    assert not any("walltime" in line.lower() for line in lines)
    arguments = next(line for line in lines if line.startswith("Arguments = "))
    assert "module load py; " in arguments and "export CONDA_PREFIX=/opt/conda/envs/x" in arguments


def test_parameters_of_other_systems_are_refused():
    params = {k: v for k, v in PARAMS.items() if k != "memory_per_core_property_name"}
    cfg = build_configuration(parse_parameters({**params, "disk": "1GB", "ncpus": 2}), WHERE)
    assert cfg.job_problems["slurm"] == (
        "Parameter(s) 'disk', 'ncpus' do not apply to slurm clusters; its batch-specific "
        "parameters are: partition, project, walltime")
    assert "'walltime'" in cfg.job_problems["htcondor"] and "'ncpus'" in cfg.job_problems["htcondor"]
    assert "'disk'" in cfg.job_problems["lsf"] and "'ncpus'" not in cfg.job_problems["lsf"]
    bad = build_configuration(parse_parameters(
        {"cores": 1, "memory": "1GB", "disk": "1GB", "job_extra_directives": ["--exclusive"]}), WHERE)
    assert "'key = value' lines of a submit description, not '--exclusive'" in bad.job_problems["htcondor"]


PBS_QSTAT_F = {
    # PBS Pro, queued, with the scheduler's comment
    "4001": """Job Id: 4001.pbs-server
    Job_Name = dask-worker
    Job_Owner = alice@login1
    job_state = Q
    queue = workq
    server = pbs-server
    ctime = Wed Dec  2 10:00:00 2026
    comment = Not Running: Insufficient amount of resource: ncpus
    Submit_arguments = /tmp/tmpjob.sh
""",
    # Torque keeps completed jobs for a while: state C, lower-case exit_status
    "4002": """Job Id: 4002.torque-server
    Job_Name = dask-worker
    job_state = C
    queue = batch
    exit_status = 0
""",
}
PBS_QSTAT_FX = {
    # PBS Pro: finished jobs only with -x, state F
    "4003": """Job Id: 4003.pbs-server
    Job_Name = dask-worker
    job_state = F
    queue = workq
    comment = Job run at Wed Dec 02 at 10:01 on (node1:ncpus=1) and finished
    Exit_status = 127
""",
}


def pbs_runner(cmd: list[str]) -> str:
    table = PBS_QSTAT_FX if "-x" in cmd else PBS_QSTAT_F
    return table.get(cmd[-1], "")


def test_pbs_states_from_qstat_f_records():
    states = query_states(PBS, ["4001", "4002", "4003"], pbs_runner)
    assert states["4001"].state == "Q" and "Insufficient amount of resource" in states["4001"].reason
    assert (states["4002"].state, states["4002"].exit_status) == ("C", "0")
    assert (states["4003"].state, states["4003"].exit_status) == ("F", "127")


def test_pbs_failure_and_pending_events(tmp_path):
    (tmp_path / "k-4003.err").write_text("/bin/sh: /nonexistent/python: No such file or directory\n")
    watcher = JobWatcher(PBS, str(tmp_path / "k"), run=pbs_runner)
    events = watcher.poll({"4001": "w-0", "4002": "w-1", "4003": "w-2"}, {"w-1"})
    failed = [e for e in events if e["kind"] == "worker-failed"]
    assert [(e["job_id"], e["exit_status"]) for e in failed] == [("4003", "127")]
    assert "No such file or directory" in failed[0]["stderr_tail"]
    assert "worker job 4003 F (exit status 127)" in describe(failed[0])
    # 4002 completed after its worker connected: not a failure; a worker is connected: no pending
    assert not [e for e in events if e["kind"] == "jobs-pending"]
    pending = JobWatcher(PBS, str(tmp_path / "k"), run=pbs_runner).poll({"4001": "w-0"}, set())
    assert pending[0]["reasons"] == ["Not Running: Insufficient amount of resource: ncpus"]


LSF_BJOBS = (
    "2001|PEND|-|Job's requirements for reserving resource (mem) not satisfied: 1 host;\n"
    "2002|RUN|-|-\n"
    "2003|EXIT|127|-\n"
    "2004|DONE|-|-\n"
)


def test_lsf_states_failure_and_pending(tmp_path):
    runner = CannedRunner({"bjobs": LSF_BJOBS})
    states = query_states(LSF, ["2001", "2002", "2003", "2004"], runner)
    assert {j: s.state for j, s in states.items()} == {
        "2001": "PEND", "2002": "RUN", "2003": "EXIT", "2004": "DONE"}
    assert states["2002"].reason == "" and states["2004"].exit_status is None
    assert len(runner.calls) == 1 and runner.calls[0][:3] == ["bjobs", "-a", "-noheader"]
    watcher = JobWatcher(LSF, str(tmp_path / "k"), run=runner)
    events = watcher.poll({j: f"w-{j}" for j in states}, set())
    failed = sorted(e["job_id"] for e in events if e["kind"] == "worker-failed")
    assert failed == ["2003", "2004"]  # DONE without ever connecting is a failure too
    pending = [e for e in events if e["kind"] == "jobs-pending"][0]
    assert pending["pending"] == 1 and "not satisfied" in pending["reasons"][0]
    assert JobWatcher(LSF, "/k", run=runner).poll({"2004": "w"}, {"w"}) == []


CONDOR_Q = (
    "301.0 1 undefined\n"
    "302.0 5 Error from slot1@node7: Failed to execute '/bin/sh': Permission denied\n"
    "303.0 2 undefined\n"
)
CONDOR_HISTORY = {"304.0": "304.0 4 1\n", "305.0": "305.0 4 0\n", "306.0": "306.0 3 undefined\n"}


def condor_runner(cmd: list[str]) -> str:
    if cmd[0] == "condor_q":
        return CONDOR_Q
    return CONDOR_HISTORY.get(cmd[1], "") if cmd[0] == "condor_history" else ""


def test_htcondor_states_failure_and_pending(tmp_path):
    ids = ["301.0", "302.0", "303.0", "304.0", "305.0", "306.0"]
    states = query_states(HTCONDOR, ids, condor_runner)
    assert {j: s.state for j, s in states.items()} == {
        "301.0": "Idle", "302.0": "Held", "303.0": "Running",
        "304.0": "Completed", "305.0": "Completed", "306.0": "Removed"}
    assert states["301.0"].reason == "" and "Permission denied" in states["302.0"].reason
    assert states["306.0"].exit_status is None
    (tmp_path / "k-304.0.err").write_text("Traceback ...\nSystemExit: 1\n")
    watcher = JobWatcher(HTCONDOR, str(tmp_path / "k"), run=condor_runner)
    events = watcher.poll({j: f"w-{j}" for j in ids}, {"w-304.0", "w-305.0"})
    failed = {e["job_id"]: e for e in events if e["kind"] == "worker-failed"}
    # exit code 1 fails even after connecting; exit 0 after connecting is a normal end
    assert sorted(failed) == ["304.0", "306.0"]
    assert failed["304.0"]["exit_status"] == "1" and "SystemExit: 1" in failed["304.0"]["stderr_tail"]
    held = JobWatcher(HTCONDOR, "/k", run=condor_runner).poll({"302.0": "w"}, set())
    assert held[0]["kind"] == "jobs-pending" and "Permission denied" in held[0]["reasons"][0]


@pytest.mark.parametrize("system, output, cancel", [
    (PBS, None, ["qdel", "4001"]),
    (LSF, LSF_BJOBS, ["bkill", "2001", "2002"]),
    (HTCONDOR, None, ["condor_rm", "301.0", "302.0", "303.0"]),
])
def test_leftover_jobs_of_other_systems_are_cancelled(system, output, cancel):
    calls: list[list[str]] = []

    def run(cmd: list[str]) -> str:
        calls.append(cmd)
        if output is not None:
            return output
        return pbs_runner(cmd) if system is PBS else condor_runner(cmd)

    watcher = JobWatcher(system, "/x", run=run)
    watcher.submitted.update(cancel[1:] + (["4003"] if system is PBS else ["2003"] if system is LSF else ["304.0"]))
    assert watcher.cancel_leftovers() == cancel[1:]
    assert calls[-1] == cancel
