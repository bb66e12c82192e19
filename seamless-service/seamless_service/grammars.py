"""The value grammars of queue parameters, declared once for both sides of a launch.

``seamless_config`` checks a cluster file with them (its messages name the file and the line);
``seamless-dask-wrapper`` checks its status-file parameters with the same ones, before it imports
Dask. Each :class:`Grammar` has a ``parse`` that returns the value to use and raises
:class:`GrammarError` with the wrapper's wording, and a ``description`` for messages that name a
cluster file's key. Stdlib only.

The accepted sets (the union of what either side accepted before, where users' files rely on it):

* durations: a positive number of seconds, ``HH:MM:SS``, ``MM:SS``, ``D-HH[:MM[:SS]]`` (SLURM),
  or a number with a unit (``500ms``, ``90s``, ``10m``, ``1.5h``, ``2d``, ``10 minutes``);
* walltimes: the clock forms only (what batch systems take);
* memory sizes: a positive number of bytes, or a number with a unit in any case (``4GB``,
  ``4gb``, ``1500MB``, ``2GiB``, ``512k``), as :func:`dask.utils.parse_bytes` reads them;
* booleans: true/false, or the strings 1/true/yes/y/on and 0/false/no/n/off;
* integers: positive, also written as a string of digits.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from .errors import SeamlessError


class GrammarError(SeamlessError, ValueError):
    """A value outside a grammar; the text completes "Parameter 'x' ...", e.g. "must be positive"."""


@dataclass(frozen=True)
class Grammar:
    """One kind of value: how to read it and how to describe it."""

    name: str
    #: what a value must be, e.g. 'a memory size such as "4GB"'
    description: str
    #: the value to use; :class:`GrammarError` when it is not accepted
    parse: Callable[[Any], Any]


# --- durations -------------------------------------------------------------------------------
_UNITS = {
    "ms": 0.001, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}
_WITH_UNIT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$")
_CLOCK = re.compile(r"^\s*(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?\s*$")

FORMS = "HH:MM:SS, MM:SS, D-HH[:MM[:SS]], seconds, or a number with a unit such as 90s, 10m, 2h"
WALLTIME_FORMS = "HH:MM:SS, MM:SS or D-HH[:MM[:SS]]"


def _clock_seconds(value: str) -> float | None:
    """Seconds of a clock form, as SLURM reads it; None if ``value`` is no clock form."""
    match = _CLOCK.match(value)
    if match is None:
        return None
    days, first, second, third = match.groups()
    parts = [int(p) for p in (first, second, third) if p is not None]
    # after "D-" come H, H:M or H:M:S; without days, M:S or H:M:S
    if days is not None:
        parts += [0] * (3 - len(parts))
    elif len(parts) == 2:
        parts = [0] + parts
    hours, minutes, seconds = parts
    return float(int(days or 0) * 86400 + hours * 3600 + minutes * 60 + seconds)


def parse_duration(value: object) -> float:
    """Return ``value`` in seconds; ``ValueError`` naming the accepted forms if it is none."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise ValueError(f"{value!r} is not a duration ({FORMS})")
    if not isinstance(value, str):
        return float(value)
    if ":" in value or "-" in value:
        seconds = _clock_seconds(value)
        if seconds is None:
            raise ValueError(f"{value!r} is not a duration ({FORMS})")
        return seconds
    match = _WITH_UNIT.match(value)
    if match is None or match.group(2).lower() not in _UNITS and match.group(2) != "":
        raise ValueError(f"{value!r} is not a duration ({FORMS})")
    number, unit = match.groups()
    return float(number) * _UNITS.get(unit.lower(), 1)


def format_seconds(seconds: float) -> str:
    """``"<int>s"``, the form the wrapper writes computed durations in."""
    return f"{int(seconds)}s"


def _duration(value: Any) -> str:
    try:
        seconds = parse_duration(value)
    except ValueError:
        raise GrammarError(f"must be a duration ({FORMS})") from None
    if seconds <= 0:
        raise GrammarError("must be a positive duration")
    return value if isinstance(value, str) else str(value)


def _walltime(value: Any) -> str:
    seconds = None
    if isinstance(value, str) and (":" in value or "-" in value):
        seconds = _clock_seconds(value)
    if seconds is None:
        raise GrammarError(f"must be a duration of the form {WALLTIME_FORMS}")
    if seconds <= 0:
        raise GrammarError("must be a positive duration")
    return value


# --- memory sizes ----------------------------------------------------------------------------
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtTpP]i?[bB]?|[bB])?\s*$")
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}
SIZE_FORMS = "4GB, 1500MB or 2GiB"


def memory_bytes(value: str | int) -> int:
    """``"8GB"`` -> 8_000_000_000, ``"2GiB"`` -> 2 * 1024**3; plain numbers are bytes."""
    if isinstance(value, int):
        return value
    match = _SIZE.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a memory size such as {SIZE_FORMS}")
    number, unit = match.group(1), (match.group(2) or "").lower().rstrip("b")
    base = 1024 if unit.endswith("i") else 1000
    return int(float(number) * base ** _POWERS[unit.rstrip("i")])


def _memory(value: Any) -> str:
    if isinstance(value, int) and not isinstance(value, bool) and value > 0:
        return str(value)
    if isinstance(value, str) and _SIZE.match(value) and memory_bytes(value) > 0:
        return value.strip()
    raise GrammarError(f"must be a memory size such as {SIZE_FORMS}")


# --- scalars ---------------------------------------------------------------------------------
_TRUE = frozenset({"1", "true", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "no", "n", "off"})


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise GrammarError("must be a boolean (true/false, yes/no, on/off, 1/0)")


def _positive_int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        if not (isinstance(value, str) and value.strip().isdigit()):
            raise GrammarError("must be an integer")
        value = int(value)
    if value <= 0:
        raise GrammarError("must be positive")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise GrammarError("must be a non-empty string")
    return value


_WORD = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.,:+=@-]*")
_WORD_FORM = "letters, digits and _ . , : + = @ -, not starting with '-' (e.g. normal or gpu,normal)"


def _word(value: Any) -> str:
    """A value of a job-script directive (partition, account): nothing a shell or sbatch would split."""
    if isinstance(value, str) and _WORD.fullmatch(value):
        return value
    raise GrammarError(f"must be {_WORD_FORM}")


# --- collections -----------------------------------------------------------------------------
def _string_list(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        return list(value)
    raise GrammarError('must be a list of strings, e.g. ["module load python"]')


_DIRECTIVES_FORM = ('a list of strings (one line each) without the "#SBATCH"/"#OAR" prefix, which '
                    'dask-jobqueue adds, e.g. ["--qos=short"]')


def _directives(value: Any) -> list[str]:
    """Batch directives without their prefix: dask-jobqueue writes '#SBATCH ' (or '#OAR '...) itself;
    one line each (a line break would put the rest outside the directive, into the script)."""
    lines = _string_list(value)
    if any("\n" in x or x.lstrip().startswith("#") for x in lines):
        raise GrammarError(f"must be {_DIRECTIVES_FORM}")
    return lines


_STRMAP_FORM = 'a mapping of strings to strings, e.g. {"distributed.worker.memory.target": "0.8"}'


def _string_map(value: Any) -> dict[str, str]:
    if isinstance(value, Mapping) and all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        return dict(value)
    raise GrammarError(f"must be {_STRMAP_FORM}")


_RESOURCES_FORM = "a mapping of resource names to numbers, e.g. {GPU: 1}"


def _resources(value: Any) -> dict[str, float]:
    if isinstance(value, Mapping) and all(
        isinstance(k, str) and isinstance(v, (int, float)) and not isinstance(v, bool) for k, v in value.items()
    ):
        return dict(value)
    raise GrammarError(f"must be {_RESOURCES_FORM}")


def _port_range(value: Any) -> tuple[int, int]:
    pair: Any = value.split(":", 1) if isinstance(value, str) and ":" in value else value
    try:
        start, end = (int(p) for p in pair)
    except (TypeError, ValueError):
        raise GrammarError("must be a [start, end] pair or 'start:end'") from None
    if not 0 < start <= end < 65536:
        raise GrammarError("must satisfy 0 < start <= end < 65536")
    return start, end


GRAMMARS: dict[str, Grammar] = {
    g.name: g
    for g in (
        Grammar("int", "a positive integer, e.g. 4", _positive_int),
        Grammar("bool", "true or false", _bool),
        Grammar("str", "a non-empty string", _text),
        Grammar("word", _WORD_FORM, _word),
        Grammar("walltime", 'a walltime such as "02:00:00"', _walltime),
        Grammar("duration", 'a duration such as "10m" or "30s"', _duration),
        Grammar("memory", 'a memory size such as "4GB"', _memory),
        Grammar("strlist", 'a list of strings, e.g. ["module load python"]', _string_list),
        Grammar("directives", _DIRECTIVES_FORM, _directives),
        Grammar("strmap", _STRMAP_FORM, _string_map),
        Grammar("resources", _RESOURCES_FORM, _resources),
        Grammar("port_range", "a [start, end] pair or 'start:end' with 0 < start <= end < 65536", _port_range),
    )
}
