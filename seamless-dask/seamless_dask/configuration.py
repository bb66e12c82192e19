"""Parameters -> Dask configuration: one pure function, :func:`build_configuration`.

Plain data in (validated parameters, chosen ports, paths), plain data out: the dask-jobqueue
config of every batch system (each built fresh, nothing shared), the Dask config of the wrapper
process, the workers' environment and its ``export`` lines, the LocalCluster keyword arguments
and the adaptive-scaling bounds. Nothing is imported or started here: the wrapper calls this
before it imports Dask (reference D.3).

Worker threads and processes (issue, point 4):

============================  =================================  ==========================
                              persistent (``pure_dask`` false)   pure (``pure_dask`` true)
============================  =================================  ==========================
threads per worker process    ``worker_threads`` or               ``worker_threads`` or 2
                              cores x ``transformation_throttle``
                              (3), throttle exported
processes per job             ``processes`` or 1                  ``processes`` or cores
jobqueue ``cores``            ``cores``                           ``job_cores`` or cores
============================  =================================  ==========================
"""

from __future__ import annotations

import ast
import json
import shlex
from dataclasses import dataclass, field
from typing import Any

from seamless_service.grammars import format_seconds, memory_bytes, parse_duration
from seamless_service.queue_parameters import DEFAULT_TRANSFORMATION_THROTTLE as DEFAULT_THROTTLE
from seamless_service.queue_parameters import PURE_DEFAULT_WORKER_THREADS, default

from .batch_systems import BATCH_SYSTEMS, SYSTEM_SPECIFIC_PARAMETERS, BatchSystem
from .errors import WrapperError
from .parameters import WrapperParameters

DEFAULT_LIFETIME_STAGGER: str = default("lifetime-stagger")
LIFETIME_MARGIN_SECONDS = 60
#: Adaptive asks for jobs within 1 s of new work (at 5 s, that interval was most of the time to
#: the first SLURM worker); it releases a job after 300 checks (5 min) without work for it, since
#: a batch job may have waited long in the queue. Both can be changed via extra_dask_config.
DEFAULT_ADAPTIVE = {"distributed.adaptive.interval": "1s", "distributed.adaptive.wait-count": 300}
THROTTLE_ENV = "SEAMLESS_WORKER_TRANSFORMATION_THROTTLE"
#: cores of one worker process, for the transformation throttle (persistent mode)
CORES_ENV = "SEAMLESS_WORKER_CORES"
EXPORTED_PREFIXES = ("distributed.worker.", "distributed.scheduler.", "distributed.nanny.", "distributed.comm.")
#: A job's private scratch directory (mktemp -d: 0700, unique), when the queue names no tmpdir.
PRIVATE_SCRATCH = 'export DASK_TEMPORARY_DIRECTORY="$(mktemp -d "${TMPDIR:-/tmp}/dask-scratch-XXXXXX")"'
#: Worker HTTP servers serve only a bare health answer when TLS is on (no metrics, no data).
TLS_WORKER_HTTP_ROUTES = ["distributed.http.health"]


def tls_dask_items(ca: str, cert: str, key: str) -> dict[str, Any]:
    """Dask settings for mutual TLS with the service certificate (file paths only).

    ``distributed.Security()`` reads these, in the wrapper and in every worker; the dashboard
    uses them too (the wrapper then requires client certificates there, see cluster_factory).
    """
    items: dict[str, Any] = {"distributed.comm.require-encryption": True, "distributed.comm.tls.ca-file": ca}
    for role in ("scheduler", "worker", "client"):
        items[f"distributed.comm.tls.{role}.cert"] = cert
        items[f"distributed.comm.tls.{role}.key"] = key
    items.update({
        "distributed.scheduler.dashboard.tls.ca-file": ca,
        "distributed.scheduler.dashboard.tls.cert": cert,
        "distributed.scheduler.dashboard.tls.key": key,
        "distributed.worker.http.routes": list(TLS_WORKER_HTTP_ROUTES),
    })
    return items


@dataclass(frozen=True)
class Placement:
    """Where the scheduler and the workers live: the inputs that are not parameters."""

    host: str
    scheduler_port: int
    dashboard_port: int
    #: worker and nanny ports (the ``internal-port-range`` parameter, else ``--port-range``)
    internal_port_range: tuple[int, int]
    #: worker job logs go to ``<log_base>-<job id>.out/.err``
    log_base: str
    #: the worker interpreter unless the ``python`` parameter names another
    default_python: str
    #: the wrapper's conda environment, exported to batch systems that pass no environment
    conda_prefix: str | None = None
    #: (CA certificate, service certificate, service key) paths; None: TLS off
    tls: tuple[str, str, str] | None = None
    #: a private (0700) directory for LocalCluster workers when the queue names no ``tmpdir``
    scratch: str | None = None


@dataclass(frozen=True)
class ClusterConfiguration:
    """Everything derived from the parameters; plain data."""

    pure_dask: bool
    #: mutual TLS between scheduler, workers and clients (``tls://`` addresses)
    tls: bool
    threads: int
    processes: int
    job_cores: int
    lifetime: str | None
    lifetime_stagger: str | None
    #: dotted Dask config keys for the wrapper process (scheduler, LocalCluster workers)
    dask: dict[str, Any]
    #: non-Dask environment variables for the workers (Seamless ones, persistent mode only)
    worker_env: dict[str, str]
    #: ``export`` lines for job scripts: the Dask settings the workers need, then worker_env
    env_exports: tuple[str, ...]
    #: dask-jobqueue config, one fresh dict per batch system name
    jobqueue: dict[str, dict[str, Any]]
    local_cluster_kwargs: dict[str, Any]
    #: ``minimum_jobs``, ``maximum_jobs``, ``target_duration`` for ``JobQueueCluster.adapt``
    adapt: dict[str, Any] = field(default_factory=dict)
    #: per batch system whose jobs the parameters do not fit: why (a LocalCluster needs none)
    job_problems: dict[str, str] = field(default_factory=dict)


def _clock(seconds: float) -> str:
    seconds = int(seconds)
    return f"{seconds // 3600:02d}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


def _config_value(value: Any) -> Any:
    """Read a string config value the way Dask reads ``DASK_*`` variables (``'3'`` -> 3)."""
    if not isinstance(value, str):
        return value
    try:
        return ast.literal_eval(value)
    except (ValueError, SyntaxError):
        return value


def _env_name(key: str) -> str:
    return "DASK_" + key.replace("-", "_").replace(".", "__").upper()


def _env_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    return str(value)


def env_exports(dask_items: dict[str, Any], worker_env: dict[str, str]) -> tuple[str, ...]:
    """``export`` lines: the worker/scheduler/nanny Dask items as ``DASK_*``, then worker_env."""
    lines = [
        f"export {_env_name(key)}={shlex.quote(_env_value(value))}"
        for key, value in dask_items.items()
        if key.startswith(EXPORTED_PREFIXES)
    ]
    lines += [f"export {name}={shlex.quote(value)}" for name, value in worker_env.items()]
    return tuple(lines)


def nested(dotted: dict[str, Any]) -> dict[str, Any]:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}`` (for ``dask.config.update``)."""
    result: dict[str, Any] = {}
    for key, value in dotted.items():
        node = result
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return result


def _threads_processes(p: WrapperParameters) -> tuple[int, int, int, dict[str, str]]:
    """threads, processes, jobqueue cores and worker env, per the table in the module doc."""
    if p.pure_dask:
        threads = p.worker_threads or PURE_DEFAULT_WORKER_THREADS
        return threads, p.processes or p.cores, p.job_cores or p.cores, {}
    throttle = p.transformation_throttle or DEFAULT_THROTTLE
    threads = p.worker_threads or p.cores * throttle
    processes = p.processes or 1
    cores_per_process = max(1, p.cores // processes)
    return threads, processes, p.cores, {THROTTLE_ENV: str(throttle), CORES_ENV: str(cores_per_process)}


def _lifetime(p: WrapperParameters) -> tuple[str | None, str | None]:
    """Lifetime and stagger; none with a single job (no rotation to stagger)."""
    if p.maximum_jobs == 1:
        return None, None
    if p.walltime is None and p.lifetime is None:
        return None, None  # no walltime to rotate before
    stagger = p.lifetime_stagger or DEFAULT_LIFETIME_STAGGER
    if p.lifetime is not None:
        return p.lifetime, stagger
    seconds = parse_duration(p.walltime or 0) - parse_duration(stagger) - LIFETIME_MARGIN_SECONDS
    if seconds <= 0:
        raise WrapperError(
            f"walltime {p.walltime!r} is too short for worker rotation: walltime minus "
            f"lifetime-stagger ({stagger}) minus 1m must be positive; give a longer walltime, "
            "or set 'lifetime' and 'lifetime-stagger' explicitly"
        )
    return format_seconds(seconds), stagger


def _target_duration(p: WrapperParameters) -> str:
    """Pure mode: as given. Persistent: scaled by the worker's S resource, else its cores."""
    if p.pure_dask:
        return p.target_duration
    factor = p.dask_resources.get("S", p.cores)
    return format_seconds(parse_duration(p.target_duration) * factor)


def _walltime(system: BatchSystem, walltime: str) -> str:
    """``walltime`` as the batch system writes it: HH:MM:SS, or [HH:]MM for LSF (rounded up)."""
    seconds = parse_duration(walltime)
    if system.walltime_format == "minutes":
        minutes = -(-int(seconds) // 60)
        return f"{minutes // 60:02d}:{minutes % 60:02d}"
    return _clock(seconds)


#: options written into job-script directives as they are: shell-quoted (a no-op for the plain
#: words that seamless-config admits; sbatch reads quoted values too)
QUOTED_OPTIONS = frozenset({"partition", "project"})


def _option_value(name: str, value: Any) -> Any:
    """A parameter as dask-jobqueue wants it: LSF's ``mem`` in bytes, lists as lists, names quoted."""
    if name == "mem":
        return memory_bytes(value)
    if name in QUOTED_OPTIONS and isinstance(value, str):
        return shlex.quote(value)
    if isinstance(value, tuple):
        return list(value)
    return value


def _directive_mapping(lines: list[str]) -> dict[str, str]:
    """``key = value`` lines as a submit-description mapping (lines without ``=`` are left out:
    :func:`job_problems` reports them)."""
    mapping: dict[str, str] = {}
    for line in lines:
        key, sep, value = line.partition("=")
        if sep and key.strip():
            mapping[key.strip()] = value.strip()
    return mapping


def _directives(system: BatchSystem, p: WrapperParameters, log_base: str) -> Any:
    """The user's extra directives, then the log ones; a ``key = value`` mapping for HTCondor."""
    lines = [*p.job_extra_directives, *(d.format(log_base=log_base) for d in system.log_directives)]
    return _directive_mapping(lines) if system.directives_as_mapping else lines


def _jobqueue_entry(
    system: BatchSystem,
    p: WrapperParameters,
    where: Placement,
    threads: int,
    processes: int,
    job_cores: int,
    exports: tuple[str, ...],
) -> dict[str, Any]:
    """One batch system's dask-jobqueue config, built from scratch (no shared lists).

    The user's values in the worker command (interpreter, local directory), the exports and the
    partition/account directives are shell-quoted (``shlex.quote`` leaves plain values as they
    are; sbatch reads quoted directive values too). ``job_extra_directives`` and
    ``job_script_prologue`` are written verbatim, by design: they are the user's own lines.
    """
    start, end = where.internal_port_range
    # what the job writes is owner-only, and without a tmpdir its Dask scratch space (spilled
    # data) is a private directory of its own, not the shared /tmp/dask-scratch-space
    prologue = [line.format(log_base=where.log_base) for line in system.log_redirects]
    prologue += ["umask 077"]
    if not p.tmpdir:
        prologue += [PRIVATE_SCRATCH, """trap 'rm -rf "$DASK_TEMPORARY_DIRECTORY"' EXIT"""]
    prologue += [*p.job_script_prologue, *system.prologue]
    if system.exports_conda and where.conda_prefix:
        prologue += [
            f"export CONDA_PREFIX={shlex.quote(where.conda_prefix)}",
            'export PATH="$CONDA_PREFIX/bin:$PATH"',
        ]
    prologue += exports
    entry: dict[str, Any] = {
        "processes": processes,
        "cores": job_cores,
        "python": shlex.quote(p.python or where.default_python),
        "scheduler-options": {
            "host": where.host,
            "port": where.scheduler_port,
            "dashboard_address": f"{where.host}:{where.dashboard_port}",
        },
        "worker-extra-args": [
            "--nthreads", str(threads),
            f"--worker-port={start}:{end}",
            f"--nanny-port={start}:{end}",
            # batch workers' own dashboards would listen on every address without asking for a
            # client certificate; with TLS they serve none (the scheduler's dashboard stays)
            *(["--no-dashboard"] if where.tls is not None else []),
        ],
        "job-extra-directives": _directives(system, p, where.log_base),
        "job-script-prologue": prologue,
        "log-directory": None,
    }
    if system.directives_skip:
        entry["job-directives-skip"] = list(system.directives_skip)
    if p.memory is not None:
        entry["memory"] = p.memory
    if p.walltime is not None and system.walltime_format is not None:
        entry["walltime"] = _walltime(system, p.walltime)
    if p.tmpdir:
        entry["local-directory"] = shlex.quote(p.tmpdir)
    for name, key in system.options.items():
        value = getattr(p, name)
        if value is not None:
            entry[key] = _option_value(name, value)
    return entry


def job_problems(system: BatchSystem, p: WrapperParameters) -> str | None:
    """Why the parameters do not fit ``system``'s jobs (missing, or another system's), or None."""
    missing = [n for n in system.required if getattr(p, n) is None]
    if missing:
        names = " and ".join(f"'{n}'" for n in missing)
        return (f"Missing required parameter {names}: job-queue clusters need "
                f"{' and '.join(system.required)} per job (only a LocalCluster works without)")
    accepted = set(system.options) | ({"walltime"} if system.walltime_format else set())
    refused = [n for n in sorted(SYSTEM_SPECIFIC_PARAMETERS - accepted) if getattr(p, n) is not None]
    if refused:
        return (f"Parameter(s) {', '.join(map(repr, refused))} do not apply to {system.name} "
                f"clusters; its batch-specific parameters are: {', '.join(sorted(accepted))}")
    if system.directives_as_mapping:
        bad = [d for d in p.job_extra_directives if "=" not in d or not d.partition("=")[0].strip()]
        if bad:
            return (f"job_extra_directives of {system.name} clusters are 'key = value' lines of a "
                    f"submit description, not {', '.join(map(repr, bad))}")
    return None


def build_configuration(p: WrapperParameters, where: Placement) -> ClusterConfiguration:
    """Compute the whole cluster configuration from validated parameters; no side effects."""
    threads, processes, job_cores, worker_env = _threads_processes(p)
    lifetime, stagger = _lifetime(p)
    start, end = where.internal_port_range
    ports = f"{start}:{end}"

    dask_items: dict[str, Any] = {
        "distributed.worker.daemon": False,
        "distributed.scheduler.unknown-task-duration": p.unknown_task_duration,
        "distributed.adaptive.target-duration": _target_duration(p),
        "distributed.worker.port": ports,
        "distributed.nanny.port": ports,
        **DEFAULT_ADAPTIVE,
    }
    if p.dask_resources:
        dask_items["distributed.worker.resources"] = dict(p.dask_resources)
    if where.tls is not None:
        dask_items.update(tls_dask_items(*where.tls))
    dask_items.update({k: _config_value(v) for k, v in p.extra_dask_config.items()})

    # Lifetime only for job-queue workers (via their environment): it rotates batch jobs before
    # their walltime ends; a LocalCluster has no walltime and would not replace retired workers.
    job_items = dict(dask_items)
    if lifetime is not None:
        job_items["distributed.worker.lifetime.duration"] = lifetime
        job_items["distributed.worker.lifetime.stagger"] = stagger
    exports = env_exports(job_items, worker_env)

    jobqueue = {
        name: _jobqueue_entry(system, p, where, threads, processes, job_cores, exports)
        for name, system in BATCH_SYSTEMS.items()
    }
    local_kwargs: dict[str, Any] = {
        "n_workers": 0,  # started by start_scaling, after the scheduler is announced: adapt["maximum_jobs"]
        "threads_per_worker": threads,
        "processes": True,
        "memory_limit": p.memory or "auto",
        "host": where.host,
        "scheduler_port": where.scheduler_port,
        "dashboard_address": f"{where.host}:{where.dashboard_port}",
        "worker_port": ports,
        "port": ports,  # the nannies' own ports
    }
    if p.dask_resources:
        local_kwargs["resources"] = dict(p.dask_resources)
    if worker_env:
        local_kwargs["env"] = dict(worker_env)
    if p.tmpdir or where.scratch:
        local_kwargs["local_directory"] = p.tmpdir or where.scratch
    return ClusterConfiguration(
        pure_dask=p.pure_dask,
        tls=where.tls is not None,
        threads=threads,
        processes=processes,
        job_cores=job_cores,
        lifetime=lifetime,
        lifetime_stagger=stagger,
        dask=dask_items,
        worker_env=worker_env,
        env_exports=exports,
        jobqueue=jobqueue,
        local_cluster_kwargs=local_kwargs,
        adapt={
            "minimum_jobs": int(p.interactive),
            "maximum_jobs": p.maximum_jobs,
            "target_duration": dask_items["distributed.adaptive.target-duration"],
        },
        job_problems={name: problem for name, system in BATCH_SYSTEMS.items()
                      if (problem := job_problems(system, p)) is not None},
    )
