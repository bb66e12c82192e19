"""The pure parameter -> configuration step, for both modes (nothing is started here)."""

from __future__ import annotations

import json

import pytest

from seamless_dask.batch_systems import BATCH_SYSTEMS
from seamless_dask.configuration import (
    PRIVATE_SCRATCH,
    CORES_ENV, THROTTLE_ENV, ClusterConfiguration, Placement, build_configuration, nested,
)
from seamless_dask.errors import WrapperError
from seamless_dask.parameters import parse_parameters

WHERE = Placement(
    host="127.0.0.1", scheduler_port=40001, dashboard_port=40002,
    internal_port_range=(40010, 40090), log_base="/logs/key-job",
    default_python="/venv/bin/python", conda_prefix="/opt/conda/envs/x",
)
BASE = {"walltime": "01:00:00", "cores": 4, "memory": "8GB"}


def build(**params) -> ClusterConfiguration:
    return build_configuration(parse_parameters({**BASE, **params}), WHERE)


def nthreads_arg(cfg: ClusterConfiguration, system: str = "slurm") -> int:
    args = cfg.jobqueue[system]["worker-extra-args"]
    return int(args[args.index("--nthreads") + 1])


# (parameters, threads, processes, jobqueue cores, throttle exported)
TABLE = [
    pytest.param({}, 12, 1, 4, "3", id="persistent-defaults"),
    pytest.param({"transformation_throttle": 2}, 8, 1, 4, "2", id="persistent-throttle"),
    pytest.param({"worker_threads": 5}, 5, 1, 4, "3", id="persistent-threads"),
    pytest.param({"processes": 2}, 12, 2, 4, "3", id="persistent-processes"),
    pytest.param({"job_cores": 8}, 12, 1, 4, "3", id="persistent-ignores-job_cores"),
    pytest.param({"pure_dask": True}, 2, 4, 4, None, id="pure-defaults"),
    pytest.param({"pure_dask": True, "worker_threads": 3}, 3, 4, 4, None, id="pure-threads"),
    pytest.param({"pure_dask": True, "processes": 1}, 2, 1, 4, None, id="pure-processes"),
    pytest.param({"pure_dask": True, "job_cores": 8}, 2, 4, 8, None, id="pure-job_cores"),
    pytest.param({"pure_dask": True, "worker_threads": 1, "processes": 3, "job_cores": 6},
                 1, 3, 6, None, id="pure-all-explicit"),
]


@pytest.mark.parametrize("params, threads, processes, job_cores, throttle", TABLE)
def test_threads_processes_table(params, threads, processes, job_cores, throttle):
    cfg = build(**params)
    assert (cfg.threads, cfg.processes, cfg.job_cores) == (threads, processes, job_cores)
    for system in BATCH_SYSTEMS:
        entry = cfg.jobqueue[system]
        assert (entry["processes"], entry["cores"]) == (processes, job_cores)
        assert nthreads_arg(cfg, system) == threads
    assert cfg.local_cluster_kwargs["threads_per_worker"] == threads
    if throttle is None:
        assert cfg.worker_env == {}
        assert "env" not in cfg.local_cluster_kwargs
        assert not any("SEAMLESS" in line for line in cfg.env_exports)
    else:
        cores_per_process = str(4 // processes)  # BASE has cores 4
        assert cfg.worker_env == {THROTTLE_ENV: throttle, CORES_ENV: cores_per_process}
        assert cfg.local_cluster_kwargs["env"] == cfg.worker_env
        assert f"export {THROTTLE_ENV}={throttle}" in cfg.env_exports
        assert f"export {CORES_ENV}={cores_per_process}" in cfg.env_exports
        for system in BATCH_SYSTEMS:
            assert f"export {THROTTLE_ENV}={throttle}" in cfg.jobqueue[system]["job-script-prologue"]


def test_pure_mode_configuration_mentions_no_seamless_at_all():
    text = json.dumps(build(pure_dask=True, maximum_jobs=3).__dict__, default=str)
    assert "SEAMLESS" not in text.upper().replace("SEAMLESS_DASK", "")


def test_persistent_then_pure_builds_do_not_leak_into_each_other():
    persistent = build()
    pure = build(pure_dask=True)
    assert THROTTLE_ENV in persistent.worker_env
    assert pure.worker_env == {} and nthreads_arg(pure) == 2
    assert nthreads_arg(build()) == 12  # unchanged after a pure build


def test_no_spillover_between_batch_systems():
    cfg = build(pure_dask=True, job_extra_directives=["--exclusive"], job_script_prologue=["module load x"])
    slurm, oar, pbs = cfg.jobqueue["slurm"], cfg.jobqueue["oar"], cfg.jobqueue["pbs"]
    # nothing mutable is shared between the per-system copies
    for key in ("worker-extra-args", "job-extra-directives", "job-script-prologue", "scheduler-options"):
        ids = {id(cfg.jobqueue[s][key]) for s in cfg.jobqueue}
        assert len(ids) == len(cfg.jobqueue), key
    slurm["job-script-prologue"].append("echo only-slurm")
    slurm["worker-extra-args"].append("--only-slurm")
    assert "echo only-slurm" not in oar["job-script-prologue"]
    assert "--only-slurm" not in pbs["worker-extra-args"]
    # system-specific lines stay in their own system
    assert "export PYTHON_CPU_COUNT=$SLURM_JOB_CPUS_PER_NODE" in slurm["job-script-prologue"]
    assert not any("SLURM" in line for line in oar["job-script-prologue"] + pbs["job-script-prologue"])
    assert slurm["job-extra-directives"] == [
        "--exclusive", "--output=/logs/key-job-%j.out", "--error=/logs/key-job-%j.err"]
    assert oar["job-extra-directives"] == [
        "--exclusive", "--stdout=/logs/key-job-%jobid%.out", "--stderr=/logs/key-job-%jobid%.err"]
    assert pbs["job-extra-directives"] == ["--exclusive"]
    # OAR passes no environment to the job: the conda environment is exported there only
    assert "export CONDA_PREFIX=/opt/conda/envs/x" in oar["job-script-prologue"]
    assert not any("CONDA_PREFIX" in line for line in slurm["job-script-prologue"])
    # first the umask and the private scratch directory, then the user's prologue (PBS: all after
    # the job's log redirection)
    assert pbs["job-script-prologue"][0].startswith("exec >>")
    for name, entry in cfg.jobqueue.items():
        lines = entry["job-script-prologue"][int(name == "pbs"):]
        assert lines[:4] == ["umask 077", PRIVATE_SCRATCH, """trap 'rm -rf "$DASK_TEMPORARY_DIRECTORY"' EXIT""", "module load x"], name


def test_tmpdir_replaces_the_private_scratch_directory():
    cfg = build(pure_dask=True, tmpdir="/scratch/me")
    assert all(PRIVATE_SCRATCH not in e["job-script-prologue"] for e in cfg.jobqueue.values())
    assert cfg.local_cluster_kwargs["local_directory"] == "/scratch/me"


def test_tls_turns_off_the_batch_workers_dashboards():
    import dataclasses

    plain = build(pure_dask=True)
    secure = build_configuration(parse_parameters({"cores": 1, "pure_dask": True}),
                                 dataclasses.replace(WHERE, tls=("/t/ca.pem", "/t/s.pem", "/t/s.key"), scratch="/tmp/x"))
    assert all("--no-dashboard" in e["worker-extra-args"] for e in secure.jobqueue.values())
    assert not any("--no-dashboard" in e["worker-extra-args"] for e in plain.jobqueue.values())
    assert secure.local_cluster_kwargs["local_directory"] == "/tmp/x"
    assert secure.dask["distributed.comm.require-encryption"] is True


def test_jobqueue_entry_fields():
    cfg = build(walltime="2:00:00", partition="short", project="proj42", tmpdir="/scratch",
                memory_per_core_property_name="memcore", pure_dask=True)
    slurm, oar = cfg.jobqueue["slurm"], cfg.jobqueue["oar"]
    assert slurm["walltime"] == "02:00:00"
    assert slurm["memory"] == "8GB" and slurm["queue"] == "short"
    assert slurm["account"] == "proj42" and "project" not in slurm
    assert oar["project"] == "proj42"
    assert oar["memory-per-core-property-name"] == "memcore"
    assert "memory-per-core-property-name" not in slurm
    assert slurm["local-directory"] == "/scratch"
    assert slurm["scheduler-options"] == {
        "host": "127.0.0.1", "port": 40001, "dashboard_address": "127.0.0.1:40002"}
    assert "--worker-port=40010:40090" in slurm["worker-extra-args"]
    assert "--nanny-port=40010:40090" in slurm["worker-extra-args"]


def test_workers_run_the_wrappers_interpreter_unless_told_otherwise():
    assert build().jobqueue["slurm"]["python"] == "/venv/bin/python"
    assert build(python="/opt/py/bin/python3").jobqueue["oar"]["python"] == "/opt/py/bin/python3"


def test_dask_config_and_its_export_to_workers():
    assert build().dask["distributed.adaptive.interval"] == "1s"  # the default
    assert build().dask["distributed.adaptive.wait-count"] == 300
    cfg = build(pure_dask=True, **{"dask-resources": {"S": 2}, "unknown-task-duration": "30s",
                                  "extra_dask_config": {"distributed.adaptive.interval": "2s",
                                                        "distributed.scheduler.work-stealing": "False",
                                                        "distributed.adaptive.wait-count": "4"}})
    assert cfg.dask["distributed.worker.daemon"] is False
    assert cfg.dask["distributed.scheduler.unknown-task-duration"] == "30s"
    assert cfg.dask["distributed.worker.resources"] == {"S": 2}
    assert cfg.dask["distributed.worker.port"] == "40010:40090"
    # extra items win over the defaults and are read like DASK_* variables
    assert cfg.dask["distributed.adaptive.interval"] == "2s"
    assert cfg.dask["distributed.adaptive.wait-count"] == 4
    assert cfg.dask["distributed.scheduler.work-stealing"] is False
    exports = cfg.env_exports
    assert "export DASK_DISTRIBUTED__WORKER__DAEMON=False" in exports
    assert "export DASK_DISTRIBUTED__SCHEDULER__UNKNOWN_TASK_DURATION=30s" in exports
    assert """export DASK_DISTRIBUTED__WORKER__RESOURCES='{"S": 2}'""" in exports
    assert "export DASK_DISTRIBUTED__NANNY__PORT=40010:40090" in exports
    assert not any("ADAPTIVE" in line for line in exports)  # only worker/scheduler/nanny keys
    assert nested({"a.b.c": 1, "a.d": 2}) == {"a": {"b": {"c": 1}, "d": 2}}


def test_lifetime_defaults_from_walltime_and_only_for_job_workers():
    cfg = build(maximum_jobs=3, pure_dask=True)
    assert (cfg.lifetime, cfg.lifetime_stagger) == ("3300s", "4m")  # 60m - 4m - 1m
    assert "export DASK_DISTRIBUTED__WORKER__LIFETIME__DURATION=3300s" in cfg.env_exports
    assert "export DASK_DISTRIBUTED__WORKER__LIFETIME__STAGGER=4m" in cfg.env_exports
    assert not any("lifetime" in key for key in cfg.dask)
    assert "lifetime" not in cfg.local_cluster_kwargs
    explicit = build(maximum_jobs=2, lifetime="20m", **{"lifetime-stagger": "2m"})
    assert (explicit.lifetime, explicit.lifetime_stagger) == ("20m", "2m")


def test_no_lifetime_with_a_single_job():
    cfg = build(maximum_jobs=1, lifetime="20m")
    assert cfg.lifetime is None and cfg.lifetime_stagger is None
    assert not any("LIFETIME" in line for line in cfg.env_exports)


def test_walltime_too_short_for_rotation():
    with pytest.raises(WrapperError, match="too short for worker rotation"):
        build(walltime="00:05:00", maximum_jobs=2)


def test_adaptive_bounds_and_target_duration():
    pure = build(pure_dask=True, interactive=True, maximum_jobs=5)
    assert pure.adapt == {"minimum_jobs": 1, "maximum_jobs": 5, "target_duration": "10m"}
    # persistent: target scaled by the S resource, else by cores
    assert build(**{"dask-resources": {"S": 2}}).adapt["target_duration"] == "1200s"
    assert build().adapt["target_duration"] == "2400s"
    assert build(interactive="no").adapt["minimum_jobs"] == 0


def test_local_cluster_gets_workers_threads_memory_and_ports():
    cfg = build(pure_dask=True, maximum_jobs=3, memory="1GB")
    kwargs = cfg.local_cluster_kwargs
    assert kwargs["n_workers"] == 0 and cfg.adapt["maximum_jobs"] == 3  # scaled to 3 once announced
    assert kwargs["threads_per_worker"] == 2
    assert kwargs["memory_limit"] == "1GB"
    assert kwargs["host"] == "127.0.0.1" and kwargs["scheduler_port"] == 40001
    assert kwargs["dashboard_address"] == "127.0.0.1:40002"
    assert kwargs["worker_port"] == kwargs["port"] == "40010:40090"


def test_local_only_parameters_leave_job_settings_unset():
    cfg = build_configuration(parse_parameters({"cores": 3, "maximum_jobs": 3, "pure_dask": True}), WHERE)
    assert cfg.job_problems["slurm"].startswith("Missing required parameter 'walltime' and 'memory'")
    assert "'memory' and 'disk'" in cfg.job_problems["htcondor"]
    assert cfg.local_cluster_kwargs["memory_limit"] == "auto"  # memory shared by the workers
    assert cfg.adapt["maximum_jobs"] == 3
    assert cfg.lifetime is None and not any("LIFETIME" in line for line in cfg.env_exports)
    assert "walltime" not in cfg.jobqueue["slurm"] and "memory" not in cfg.jobqueue["slurm"]
    assert "slurm" not in build().job_problems


def test_cluster_schema_and_wrapper_agree_on_batch_parameters():
    """Both sides read one parameter table (seamless_service.queue_parameters); what can still
    disagree is the batch systems' table of the wrapper: every system-specific parameter a
    cluster type may be given is one its batch system takes, and what it requires is given."""
    from seamless_config.cluster import BATCH_TYPES, CLUSTER_STRINGS, QUEUE_FIELDS, QUEUE_PARAMETERS

    from seamless_dask.batch_systems import BATCH_SYSTEMS, SYSTEM_SPECIFIC_PARAMETERS

    for ctype in BATCH_TYPES:
        system = BATCH_SYSTEMS[ctype]
        assert CLUSTER_STRINGS[ctype].lower().endswith(f"::{ctype}cluster")
        accepted = set(system.options) | ({"walltime"} if system.walltime_format else set())
        given = {QUEUE_PARAMETERS[k] for k, f in QUEUE_FIELDS.items()
                 if k in QUEUE_PARAMETERS and (f.types is None or ctype in f.types)}
        assert given & SYSTEM_SPECIFIC_PARAMETERS <= accepted, ctype
        required = {QUEUE_PARAMETERS[k] for k, f in QUEUE_FIELDS.items() if ctype in f.required_for}
        assert set(system.required) <= required, ctype
