"""Validate the ``parameters`` object of the status file into :class:`WrapperParameters`.

Every parameter is declared once in :data:`PARAMETERS` (name, kind, meaning); unknown names are
an error that lists the valid ones. Pure data in, pure data out: nothing is imported or started.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from .durations import FORMS, parse_duration
from .errors import WrapperError
from .sizes import SIZE

_TRUE = {"1", "true", "yes", "y", "on"}
_FALSE = {"0", "false", "no", "n", "off"}


def _bool(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise WrapperError(
        f"Parameter '{name}' must be a boolean (true/false, yes/no, on/off, 1/0), not {value!r}"
    )


def _positive_int(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if isinstance(value, str) and value.strip().isdigit():
            value = int(value)
        else:
            raise WrapperError(f"Parameter '{name}' must be an integer, not {value!r}")
    if value <= 0:
        raise WrapperError(f"Parameter '{name}' must be positive, not {value!r}")
    return value


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise WrapperError(f"Parameter '{name}' must be a non-empty string, not {value!r}")
    return value


def _duration(name: str, value: Any) -> str:
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise WrapperError(f"Parameter '{name}' must be a duration ({FORMS}), not {value!r}") from None
    if seconds <= 0:
        raise WrapperError(f"Parameter '{name}' must be a positive duration, not {value!r}")
    return str(value) if not isinstance(value, str) else value


def _memory(name: str, value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and SIZE.match(value):
        return value.strip()
    raise WrapperError(
        f"Parameter '{name}' must be a memory size such as 4GB, 1500MB or 2GiB, not {value!r}"
    )


def _string_list(name: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return tuple(value)
    raise WrapperError(f"Parameter '{name}' must be a list of strings, not {value!r}")


def _resources(name: str, value: Any) -> dict[str, float]:
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool)
        for k, v in value.items()
    ):
        raise WrapperError(
            f"Parameter '{name}' must be a mapping of resource names to numbers, e.g. {{'S': 1}}, "
            f"not {value!r}"
        )
    return dict(value)


def _dask_config(name: str, value: Any) -> dict[str, Any]:
    scalar = (str, int, float, bool)
    if not isinstance(value, Mapping) or not all(
        isinstance(k, str) and isinstance(v, scalar) for k, v in value.items()
    ):
        raise WrapperError(
            f"Parameter '{name}' must be a mapping of dotted Dask config keys to strings or "
            f"numbers, e.g. {{'distributed.adaptive.interval': '5s'}}, not {value!r}"
        )
    return dict(value)


def _port_range(name: str, value: Any) -> tuple[int, int]:
    pair: Any = value
    if isinstance(value, str) and ":" in value:
        pair = value.split(":", 1)
    try:
        start, end = (int(p) for p in pair)
    except (TypeError, ValueError):
        raise WrapperError(
            f"Parameter '{name}' must be a [start, end] pair or 'start:end', not {value!r}"
        ) from None
    if not 0 < start <= end < 65536:
        raise WrapperError(
            f"Parameter '{name}' must satisfy 0 < start <= end < 65536, not {value!r}"
        )
    return start, end


@dataclass(frozen=True)
class Parameter:
    """One accepted status-file parameter: its name, how it is checked, what it means."""

    name: str
    check: Callable[[str, Any], Any]
    help: str
    required: bool = False


PARAMETERS: tuple[Parameter, ...] = (
    Parameter("cores", _positive_int, "cores per job (local: per worker)", required=True),
    Parameter("walltime", _duration, "walltime of each worker job (job-queue clusters)"),
    Parameter("memory", _memory, "memory per job (local: per worker; default: shared)"),
    Parameter("job_cores", _positive_int, "pure mode: cores requested per job (default cores)"),
    Parameter("tmpdir", _text, "workers' local directory"),
    Parameter("partition", _text, "batch queue / partition"),
    Parameter("project", _text, "account / project charged"),
    Parameter("job_extra_directives", _string_list, "extra batch directives"),
    Parameter("job_script_prologue", _string_list, "shell lines run before the worker"),
    Parameter("memory_per_core_property_name", _text, "OAR memory-per-core property"),
    Parameter("resource_spec", _text, "PBS/SGE resource request (-l), e.g. select=1:ncpus=4"),
    Parameter("ncpus", _positive_int, "LSF: CPUs requested (-n); default cores"),
    Parameter("mem", _memory, "LSF: memory limit (-M); default memory"),
    Parameter("use_stdin", _bool, "LSF: submit the job script on bsub's stdin"),
    Parameter("disk", _memory, "HTCondor: disk per job, e.g. 10GB (required there)"),
    Parameter("submit_command_extra", _string_list, "HTCondor: extra condor_submit arguments"),
    Parameter("unknown-task-duration", _duration, "scheduler guess for new tasks (1m)"),
    Parameter("target-duration", _duration, "adaptive target duration (10m)"),
    Parameter("lifetime", _duration, "worker lifetime (walltime - stagger - 1m)"),
    Parameter("lifetime-stagger", _duration, "worker lifetime stagger (4m)"),
    Parameter("dask-resources", _resources, "worker resources, e.g. {S: 1}"),
    Parameter("extra_dask_config", _dask_config, "extra dotted Dask config items"),
    Parameter("interactive", _bool, "keep one job running (minimum_jobs = 1)"),
    Parameter("maximum_jobs", _positive_int, "maximum jobs (local: workers), default 1"),
    Parameter("worker_threads", _positive_int, "threads per worker process"),
    Parameter("processes", _positive_int, "worker processes per job"),
    Parameter("pure_dask", _bool, "pure Dask mode (no Seamless on the workers)"),
    Parameter("internal-port-range", _port_range, "worker and nanny ports (--port-range)"),
    Parameter("transformation_throttle", _positive_int, "persistent mode: threads per core (3)"),
    Parameter("python", _text, "worker interpreter (default: the wrapper's own)"),
)
_BY_NAME = {p.name: p for p in PARAMETERS}


@dataclass(frozen=True)
class WrapperParameters:
    """The validated parameters; absent optional ones are None (or empty)."""

    cores: int
    walltime: str | None = None
    memory: str | None = None
    job_cores: int | None = None
    tmpdir: str | None = None
    partition: str | None = None
    project: str | None = None
    job_extra_directives: tuple[str, ...] = ()
    job_script_prologue: tuple[str, ...] = ()
    memory_per_core_property_name: str | None = None
    resource_spec: str | None = None
    ncpus: int | None = None
    mem: str | None = None
    use_stdin: bool | None = None
    disk: str | None = None
    submit_command_extra: tuple[str, ...] | None = None
    unknown_task_duration: str = "1m"
    target_duration: str = "10m"
    lifetime: str | None = None
    lifetime_stagger: str | None = None
    dask_resources: dict[str, float] = field(default_factory=dict)
    extra_dask_config: dict[str, Any] = field(default_factory=dict)
    interactive: bool = False
    maximum_jobs: int = 1
    worker_threads: int | None = None
    processes: int | None = None
    pure_dask: bool = False
    internal_port_range: tuple[int, int] | None = None
    transformation_throttle: int | None = None
    python: str | None = None


def parse_parameters(raw: Any) -> WrapperParameters:
    """Check the status file's ``parameters`` object; :class:`WrapperError` on the first fault."""
    if not isinstance(raw, Mapping) or not raw:
        raise WrapperError(
            "The status file has no 'parameters' object; it needs at least 'cores' (and "
            "'walltime' and 'memory' for job-queue clusters)"
        )
    unknown = sorted(set(raw) - set(_BY_NAME))
    if unknown:
        raise WrapperError(
            f"Unknown parameter(s) {', '.join(map(repr, unknown))}; valid parameters are: "
            + ", ".join(p.name for p in PARAMETERS)
        )
    values: dict[str, Any] = {}
    for param in PARAMETERS:
        value = raw.get(param.name)
        if value is None:
            if param.required:
                raise WrapperError(f"Missing required parameter '{param.name}'")
            continue
        values[param.name.replace("-", "_")] = param.check(param.name, value)
    params = WrapperParameters(**values)
    if params.pure_dask and params.transformation_throttle is not None:
        raise WrapperError(
            "Parameter 'transformation_throttle' applies only to persistent mode; "
            "remove it or set pure_dask: false"
        )
    return params
