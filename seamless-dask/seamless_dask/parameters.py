"""Validate the ``parameters`` object of the status file into :class:`WrapperParameters`.

:data:`PARAMETERS` is derived from the one table of queue parameters in seamless-service (name,
grammar, default, meaning), which seamless_config checks cluster files with; unknown names are
an error that lists the valid ones. Pure data in, pure data out: nothing is imported or started.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from seamless_service.grammars import GrammarError
from seamless_service.queue_parameters import BY_PARAMETER, QUEUE_PARAMETERS, default

from .errors import WrapperError


@dataclass(frozen=True)
class Parameter:
    """One accepted status-file parameter: its name, how it is checked, what it means."""

    name: str
    check: Callable[[str, Any], Any]
    help: str
    required: bool = False


def _check(name: str, value: Any) -> Any:
    """Read a parameter with its shared grammar; its fault as a :class:`WrapperError`."""
    try:
        parsed = BY_PARAMETER[name].checker.parse(value)
    except GrammarError as exc:
        raise WrapperError(f"Parameter '{name}' {exc}, not {value!r}") from None
    return tuple(parsed) if isinstance(parsed, list) else parsed  # the dataclass holds tuples


#: derived from the one table of queue parameters (seamless_service.queue_parameters); the
#: required ones first
PARAMETERS: tuple[Parameter, ...] = tuple(
    Parameter(p.parameter, _check, p.help, required=p.wrapper_required)
    for p in sorted(QUEUE_PARAMETERS, key=lambda p: not p.wrapper_required)
    if p.parameter is not None
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
    unknown_task_duration: str = default("unknown-task-duration")
    target_duration: str = default("target-duration")
    lifetime: str | None = None
    lifetime_stagger: str | None = None
    dask_resources: dict[str, float] = field(default_factory=dict)
    extra_dask_config: dict[str, Any] = field(default_factory=dict)
    interactive: bool = default("interactive")
    maximum_jobs: int = default("maximum_jobs")
    worker_threads: int | None = None
    processes: int | None = None
    pure_dask: bool = default("pure_dask")
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
    for param in PARAMETERS:
        if param.required and raw.get(param.name) is None:
            raise WrapperError(f"Missing required parameter '{param.name}'")
    values: dict[str, Any] = {}
    for param in PARAMETERS:
        value = raw.get(param.name)
        if value is not None:
            values[param.name.replace("-", "_")] = param.check(param.name, value)
    params = WrapperParameters(**values)
    if params.pure_dask and params.transformation_throttle is not None:
        raise WrapperError(
            "Parameter 'transformation_throttle' applies only to persistent mode; "
            "remove it or set pure_dask: false"
        )
    return params
