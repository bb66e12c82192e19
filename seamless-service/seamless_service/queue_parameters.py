"""The one table of queue parameters: cluster-file key, wrapper parameter, grammar, default, help.

``seamless_config`` derives its queue schema and the launch dicts' ``file_parameters`` from
:data:`QUEUE_PARAMETERS`; ``seamless-dask-wrapper`` derives its status-file parsing from it. Both
check values with the same :mod:`seamless_service.grammars`, so a value is accepted on one side
exactly when it is accepted on the other. Stdlib only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .grammars import GRAMMARS, Grammar

#: batch-system cluster types (the other type is ``local``)
BATCH_TYPES = ("slurm", "oar", "pbs", "sge", "lsf", "htcondor")
_WALLTIME_TYPES = ("local", *(t for t in BATCH_TYPES if t != "htcondor"))

#: worker threads per process in pure Dask mode when the queue gives none
PURE_DEFAULT_WORKER_THREADS = 2
#: persistent mode: threads per core when the queue gives no worker_threads
DEFAULT_TRANSFORMATION_THROTTLE = 3


@dataclass(frozen=True)
class QueueParameter:
    """One parameter: where it is written, how it is read, what it means."""

    #: key in a cluster file's queue (hyphens there read as underscores); None: not a queue key
    key: str | None
    #: name in the wrapper's status file; None: not passed to the wrapper
    parameter: str | None
    #: a key of :data:`seamless_service.grammars.GRAMMARS`
    grammar: str
    help: str
    #: the value in force when none is given (documentation and the wrapper's defaults)
    default: Any = None
    #: cluster types the queue key applies to (None: all)
    types: tuple[str, ...] | None = None
    #: cluster types whose queues must give it
    required_for: tuple[str, ...] = ()
    #: the wrapper refuses a status file without it
    wrapper_required: bool = False

    @property
    def checker(self) -> Grammar:
        return GRAMMARS[self.grammar]


def _q(key: str, grammar: str, help: str, parameter: str | None = "", **kw: Any) -> QueueParameter:
    """A queue key, passed to the wrapper under ``parameter`` ("" = the same name)."""
    return QueueParameter(key, key if parameter == "" else parameter, grammar, help, **kw)


QUEUE_PARAMETERS: tuple[QueueParameter, ...] = (
    _q("TEMPLATE", "str", "name of an earlier queue of the same cluster to copy", parameter=None),
    _q("conda", "str", "conda environment of the Dask scheduler and workers", parameter=None),
    _q("walltime", "walltime", "maximum job run time", types=_WALLTIME_TYPES,
       required_for=tuple(t for t in _WALLTIME_TYPES if t != "local")),
    _q("cores", "int", "cores per worker job (local: per worker)", required_for=BATCH_TYPES, wrapper_required=True),
    _q("job_cores", "int", "cores requested from the batch system per job; default cores"),
    _q("memory", "memory", "memory per worker job", required_for=BATCH_TYPES),
    _q("python", "str", "worker interpreter; default: the one that runs the wrapper"),
    _q("unknown_task_duration", "duration", "Dask's guess for tasks never seen; default 1m",
       parameter="unknown-task-duration", default="1m"),
    _q("target_duration", "duration", "Dask adaptive target duration; default 10m",
       parameter="target-duration", default="10m"),
    _q("maximum_jobs", "int", "maximum number of worker jobs (local: workers); default 1", default=1),
    _q("lifetime", "duration", "worker lifetime; default walltime - stagger - 1m"),
    _q("lifetime_stagger", "duration", "spread of worker lifetimes; default 4m",
       parameter="lifetime-stagger", default="4m"),
    _q("interactive", "bool", "keep one job running at all times", default=False),
    _q("project", "word", "batch system account/project", types=("local", "slurm", "oar", "pbs", "sge", "lsf")),
    _q("partition", "word", "SLURM partition / OAR queue", types=("local", "slurm", "oar")),
    _q("queue", "word", "batch queue (-q)", types=("pbs", "sge", "lsf"), parameter="partition"),
    _q("resource_spec", "str", "resource request (-l), e.g. select=1:ncpus=4:mem=8GB (PBS)", types=("pbs", "sge")),
    _q("ncpus", "int", "CPUs requested (bsub -n); default cores", types=("lsf",)),
    _q("mem", "memory", "memory limit (bsub -M); default memory", types=("lsf",)),
    _q("use_stdin", "bool", "submit the job script on bsub's stdin", types=("lsf",)),
    _q("disk", "memory", "disk per job, e.g. 10GB", types=("htcondor",), required_for=("htcondor",)),
    _q("submit_command_extra", "strlist", "extra condor_submit arguments", types=("htcondor",)),
    _q("tmpdir", "str", "local scratch directory of the workers; default a private one under /tmp"),
    _q("worker_threads", "int", "threads per worker process; default 2 in pure mode, cores x throttle otherwise"),
    _q("processes", "int", "worker processes per job; default cores in pure mode, 1 otherwise"),
    _q("extra_dask_config", "strmap", "extra Dask configuration for the workers"),
    _q("job_extra_directives", "directives",
       "extra batch directives without the prefix, written verbatim (HTCondor: 'key = value')"),
    _q("job_script_prologue", "strlist", "shell lines run before the worker starts, written verbatim"),
    _q("dask_resources", "resources", "Dask worker resources", parameter="dask-resources"),
    # wrapper parameters that no queue key gives
    QueueParameter(None, "memory_per_core_property_name", "str", "OAR memory-per-core property (from the cluster)"),
    QueueParameter(None, "pure_dask", "bool", "pure Dask mode (no Seamless on the workers)", default=False),
    QueueParameter(None, "internal-port-range", "port_range", "worker and nanny ports (default --port-range)"),
    QueueParameter(None, "transformation_throttle", "int", "persistent mode: threads per core",
                   default=DEFAULT_TRANSFORMATION_THROTTLE),
)

#: wrapper parameter -> its entry
BY_PARAMETER = {p.parameter: p for p in QUEUE_PARAMETERS if p.parameter is not None}
#: queue key -> wrapper parameter, for the keys passed on to seamless-dask-wrapper
KEY_TO_PARAMETER = {p.key: p.parameter for p in QUEUE_PARAMETERS if p.key is not None and p.parameter is not None}


def default(parameter: str) -> Any:
    """The default of a wrapper parameter."""
    return BY_PARAMETER[parameter].default
