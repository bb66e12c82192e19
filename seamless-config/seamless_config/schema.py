"""Declared fields and their validation, shared by every section of a cluster definition.

Each section (cluster, frontend, service, queue) declares its fields once in a table; one
function checks a user mapping against such a table and gives errors that name the file, the
line, the section, the field and what would be valid. Values are read with the grammars that
seamless-dask-wrapper uses too (:mod:`seamless_service.grammars`); only the keys no wrapper
parameter has (ports, hosts, paths, sections) have checks of their own here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping

from seamless_service.grammars import GRAMMARS, GrammarError

from .errors import ConfigurationError
from .located_yaml import where
from .names import host_problem, path_problem


def _port(v: Any) -> str | None:
    if isinstance(v, bool) or not isinstance(v, int) or not 1 <= v <= 65535:
        return "a port number between 1 and 65535"
    return None


def _mapping_or_null(v: Any) -> str | None:
    return None if v is None or isinstance(v, Mapping) else "a mapping (or empty)"


def _list(v: Any) -> str | None:
    return None if isinstance(v, list) and v else "a non-empty list"


#: checks of the keys that only cluster files have; the others use the grammars shared with
#: seamless-dask-wrapper (:data:`seamless_service.grammars.GRAMMARS`)
CHECKS: dict[str, Callable[[Any], str | None]] = {
    "port": _port,
    "host": host_problem,
    "path": path_problem,
    "section": _mapping_or_null,
    "list": _list,
}


@dataclass(frozen=True)
class Field:
    """One declared field: its check (a key of CHECKS or of the shared GRAMMARS) and what it means."""

    check: str
    help: str
    required: bool = False
    #: the cluster types this key means something for (None: all)
    types: tuple[str, ...] | None = None


def check_value(check: str, value: Any) -> tuple[Any, str | None]:
    """``(value to keep, None)``, or ``(value, what it must be)`` when ``check`` refuses it."""
    grammar = GRAMMARS.get(check)
    if grammar is None:
        return value, CHECKS[check](value)
    try:
        return grammar.parse(value), None
    except GrammarError:
        return value, grammar.description


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
            value, problem = check_value(fields[key].check, value)
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
