"""Parse the durations that wrapper parameters carry (walltime, lifetime, task durations).

Dask is not imported here (the configuration is computed before Dask), so this is a small parser
of its own for the forms users write: ``HH:MM:SS``, ``MM:SS``, ``D-HH:MM:SS`` (SLURM), a number of
seconds, or a number with a unit (``90s``, ``10m``, ``1.5h``, ``2d``, ``500ms``).
"""

from __future__ import annotations

import re

_UNITS = {
    "ms": 0.001, "s": 1, "sec": 1, "secs": 1, "second": 1, "seconds": 1,
    "m": 60, "min": 60, "mins": 60, "minute": 60, "minutes": 60,
    "h": 3600, "hr": 3600, "hrs": 3600, "hour": 3600, "hours": 3600,
    "d": 86400, "day": 86400, "days": 86400,
}
_WITH_UNIT = re.compile(r"^\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-zA-Z]*)\s*$")
_CLOCK = re.compile(r"^\s*(?:(\d+)-)?(\d+)(?::(\d+))?(?::(\d+))?\s*$")

FORMS = "HH:MM:SS, MM:SS, D-HH[:MM[:SS]], seconds, or a number with a unit such as 90s, 10m, 2h"


def parse_duration(value: object) -> float:
    """Return ``value`` in seconds; ``ValueError`` naming the accepted forms if it is none."""
    if isinstance(value, bool):
        raise ValueError(f"{value!r} is not a duration ({FORMS})")
    if isinstance(value, (int, float)):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(f"{value!r} is not a duration ({FORMS})")
    if ":" in value or "-" in value:
        match = _CLOCK.match(value)
        if match is None:
            raise ValueError(f"{value!r} is not a duration ({FORMS})")
        days, first, second, third = match.groups()
        parts = [int(p) for p in (first, second, third) if p is not None]
        # as SLURM reads them: after "D-" come H, H:M or H:M:S; without days, M:S or H:M:S
        if days is not None:
            parts += [0] * (3 - len(parts))
        elif len(parts) == 2:
            parts = [0] + parts
        hours, minutes, seconds = parts
        return float(int(days or 0) * 86400 + hours * 3600 + minutes * 60 + seconds)
    match = _WITH_UNIT.match(value)
    if match is None or match.group(2).lower() not in _UNITS and match.group(2) != "":
        raise ValueError(f"{value!r} is not a duration ({FORMS})")
    number, unit = match.groups()
    return float(number) * _UNITS.get(unit.lower(), 1)


def format_seconds(seconds: float) -> str:
    """``"<int>s"``, the form the wrapper writes computed durations in."""
    return f"{int(seconds)}s"
