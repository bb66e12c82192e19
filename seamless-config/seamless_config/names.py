"""Validation of names (cluster, project, stage...) and their escaping into launcher keys."""

from __future__ import annotations

import re

from .errors import ConfigurationError

_KEY_SAFE = re.compile(r"[A-Za-z0-9.]")


def validate_name(kind: str, value: str, *, allow_slash: bool = False) -> str:
    """Check a cluster/project/subproject/stage/substage name; return it unchanged."""
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{kind} must be a non-empty string, not {value!r}")
    for bad in ("--", "STAGE-"):
        if bad in value:
            raise ConfigurationError(f"{kind} name {value!r} may not contain '{bad}'")
    if not allow_slash and "/" in value:
        raise ConfigurationError(f"{kind} name {value!r} may not contain '/'")
    return value


def escape_key_part(name: str) -> str:
    """Map a name injectively onto ``[A-Za-z0-9._]`` (no '-'), so parts joined with '-' never collide.

    '_' becomes '__', '-' becomes '_h', any other character outside [A-Za-z0-9.] becomes
    '_xHHHHHH'. Plain names such as ``hpc`` or ``bigmem`` stay as they are.
    """
    out = []
    for ch in name:
        if _KEY_SAFE.fullmatch(ch):
            out.append(ch)
        elif ch == "_":
            out.append("__")
        elif ch == "-":
            out.append("_h")
        else:
            out.append(f"_x{ord(ch):06x}")
    return "".join(out)
