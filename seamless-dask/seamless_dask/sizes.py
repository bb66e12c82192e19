"""Memory sizes as users write them (``4GB``, ``1500MB``, ``2GiB``, ``1024``), read without Dask.

The wrapper computes its configuration before Dask is imported; dask-jobqueue wants LSF's
``mem`` in bytes, so the wrapper converts it itself, as :func:`dask.utils.parse_bytes` would.
"""

from __future__ import annotations

import re

SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kKmMgGtTpP]i?[bB]?|[bB])?\s*$")
_POWERS = {"": 0, "k": 1, "m": 2, "g": 3, "t": 4, "p": 5}


def memory_bytes(value: str | int) -> int:
    """``"8GB"`` -> 8_000_000_000, ``"2GiB"`` -> 2 * 1024**3; plain numbers are bytes."""
    if isinstance(value, int):
        return value
    match = SIZE.match(value)
    if match is None:
        raise ValueError(f"{value!r} is not a memory size such as 4GB, 1500MB or 2GiB")
    number, unit = match.group(1), (match.group(2) or "").lower().rstrip("b")
    base = 1024 if unit.endswith("i") else 1000
    return int(float(number) * base ** _POWERS[unit.rstrip("i")])
