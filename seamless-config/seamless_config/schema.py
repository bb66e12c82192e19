"""Declared fields and their validation, shared by every section of a cluster definition.

Each section (cluster, frontend, service, queue) declares its fields once in a table; one
function checks a user mapping against such a table and gives errors that name the file, the
line, the section, the field and what would be valid.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .errors import ConfigurationError
from .located_yaml import where
from .names import host_problem, path_problem

#: The forms seamless-dask-wrapper accepts (seamless_dask.durations), checked here already so that
#: a wrong value is reported with its file and line instead of at launch.
_DURATION = re.compile(
    r"^(\d+(\.\d*)?|\.\d+)\s*(ms|s|secs?|seconds?|m|mins?|minutes?|h|hrs?|hours?|d|days?)?$"
    r"|^(\d+-)?\d+(:\d{2}){0,2}$",
    re.IGNORECASE,
)
_WALLTIME = re.compile(r"^(\d+-)?\d+:\d{2}(:\d{2})?$")
_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.,:+=@-]*")
_MEMORY = re.compile(r"^\d+(\.\d+)?\s*([kKMGTP]i?B|[kKMGTP]|B)?$")


def _positive_int(v: Any) -> str | None:
    if isinstance(v, bool) or not isinstance(v, int) or v <= 0:
        return "a positive integer, e.g. 4"
    return None


def _port(v: Any) -> str | None:
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65535:
        return "a port number between 1 and 65535"
    return None


def _string(v: Any) -> str | None:
    return None if isinstance(v, str) and v else "a non-empty string"


def _boolean(v: Any) -> str | None:
    return None if isinstance(v, bool) else "true or false"


def _walltime(v: Any) -> str | None:
    return None if isinstance(v, str) and _WALLTIME.match(v) else 'a walltime such as "02:00:00"'


def _duration(v: Any) -> str | None:
    return None if isinstance(v, str) and _DURATION.match(v.strip()) else 'a duration such as "10m" or "30s"'


def _memory(v: Any) -> str | None:
    return None if isinstance(v, str) and _MEMORY.match(v.strip()) else 'a memory size such as "4GB"'


def _string_list(v: Any) -> str | None:
    if isinstance(v, list) and all(isinstance(x, str) for x in v):
        return None
    return 'a list of strings, e.g. ["module load python"]'


def _directives(v: Any) -> str | None:
    """Batch directives without their prefix: dask-jobqueue writes '#SBATCH ' (or '#OAR '...) itself;
    one line each (a line break would put the rest outside the directive, into the script)."""
    if _string_list(v) is None and not any("\n" in x or x.lstrip().startswith("#") for x in v):
        return None
    return 'a list of strings (one line each) without the "#SBATCH"/"#OAR" prefix, which dask-jobqueue adds, e.g. ["--qos=short"]'


def _word(v: Any) -> str | None:
    """A value of a job-script directive (partition, account): nothing a shell or sbatch would split."""
    if isinstance(v, str) and _WORD.fullmatch(v):
        return None
    return "letters, digits and _ . , : + = @ -, not starting with '-' (e.g. normal or gpu,normal)"


def _string_map(v: Any) -> str | None:
    if isinstance(v, Mapping) and all(isinstance(k, str) and isinstance(x, str) for k, x in v.items()):
        return None
    return 'a mapping of strings to strings, e.g. {"distributed.worker.memory.target": "0.8"}'


def _resource_map(v: Any) -> str | None:
    if isinstance(v, Mapping) and all(
        isinstance(k, str) and isinstance(x, (int, float)) and not isinstance(x, bool) for k, x in v.items()
    ):
        return None
    return "a mapping of resource names to numbers, e.g. {GPU: 1}"


def _mapping_or_null(v: Any) -> str | None:
    return None if v is None or isinstance(v, Mapping) else "a mapping (or empty)"


def _list(v: Any) -> str | None:
    return None if isinstance(v, list) and v else "a non-empty list"


CHECKS: dict[str, Callable[[Any], str | None]] = {
    "int": _positive_int,
    "port": _port,
    "str": _string,
    "bool": _boolean,
    "walltime": _walltime,
    "duration": _duration,
    "memory": _memory,
    "strlist": _string_list,
    "directives": _directives,
    "word": _word,
    "host": host_problem,
    "path": path_problem,
    "strmap": _string_map,
    "resources": _resource_map,
    "section": _mapping_or_null,
    "list": _list,
}


@dataclass(frozen=True)
class Field:
    """One declared field: its check (a key of CHECKS) and what it means."""

    check: str
    help: str
    required: bool = False
    #: the cluster types this key means something for (None: all)
    types: tuple[str, ...] | None = None


def validate_section(
    data: Any,
    fields: Mapping[str, Field],
    what: str,
    *,
    normalise_hyphens: bool = False,
    context: Any = None,
) -> dict[str, Any]:
    """Check ``data`` against ``fields``; return a plain dict of the keys that were written.

    ``what`` names the section in messages ("cluster 'hpc' queue 'bigmem'"). With
    ``normalise_hyphens``, ``unknown-task-duration`` is read as ``unknown_task_duration``.
    Explicit nulls are kept (they mean "unset" for template inheritance).
    """
    file, line = where(data if data is not None else context)
    if not isinstance(data, Mapping):
        raise ConfigurationError(f"{what} must be a mapping, not {type(data).__name__}", file=file, line=line)
    result: dict[str, Any] = {}
    for raw_key, value in data.items():
        key = raw_key.replace("-", "_") if normalise_hyphens and isinstance(raw_key, str) else raw_key
        kfile, kline = where(data, raw_key)
        if key not in fields:
            valid = ", ".join(sorted(fields))
            raise ConfigurationError(
                f"{what}: unknown key {raw_key!r}; valid keys are: {valid}", file=kfile, line=kline
            )
        if value is not None:
            problem = CHECKS[fields[key].check](value)
            if problem is not None:
                raise ConfigurationError(
                    f"{what}: {raw_key!r} must be {problem} ({fields[key].help}), not {value!r}",
                    file=kfile,
                    line=kline,
                )
        result[key] = value
    return result


def require(values: Mapping[str, Any], names: list[str], what: str, data: Any, why: str = "") -> None:
    """Raise when one of ``names`` is missing or null in ``values``."""
    missing = [n for n in names if values.get(n) is None]
    if missing:
        file, line = where(data)
        suffix = f" ({why})" if why else ""
        raise ConfigurationError(
            f"{what}: missing required key(s) {', '.join(missing)}{suffix}", file=file, line=line
        )
