"""Validation of names, hosts and paths, and the escaping of names into launcher keys.

Names (cluster, queue, project, subproject, stage, substage) end up in remote-http-launcher
keys, which it evaluates as Python f-strings, in directory names and in command lines. So a
name is checked against an allowlist when it is set or loaded: letters, digits, ``_ . -``; it
does not start with ``-`` or ``.``, holds no ``--`` and no ``STAGE-``. Hostnames follow RFC 1123
(or are IP addresses). Directories given to services use the characters remote-http-launcher
accepts for a work directory.
"""

from __future__ import annotations

import ipaddress
import re

from .errors import ConfigurationError

_KEY_SAFE = re.compile(r"[A-Za-z0-9.]")
MAX_NAME_LENGTH = 100
_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*")
_NAME_RULE = (
    "letters, digits and '_', '.', '-', starting with a letter, a digit or '_', "
    f"at most {MAX_NAME_LENGTH} characters"
)
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
#: remote-http-launcher 0.4's own rule for a work directory (DIRNAME_RE), plus: absolute or ~
_PATH = re.compile(r"(~|~/[A-Za-z0-9@_./~-]*|/[A-Za-z0-9@_./~-]*)")


def _check_name_part(kind: str, value: str, whole: str) -> None:
    if value in (".", ".."):
        raise ConfigurationError(f"{kind} name {whole!r} may not be (or hold a path part) '.' or '..'")
    if len(value) > MAX_NAME_LENGTH or not _NAME.fullmatch(value):
        raise ConfigurationError(f"{kind} name {whole!r} is not valid: use {_NAME_RULE}")


def validate_name(kind: str, value: str, *, allow_slash: bool = False) -> str:
    """Check a cluster/queue/project/subproject/stage/substage name; return it unchanged.

    With ``allow_slash`` (subproject) the name may have several '/'-separated parts, each a name.
    """
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{kind} must be a non-empty string, not {value!r}")
    for bad in ("--", "STAGE-"):
        if bad in value:
            raise ConfigurationError(f"{kind} name {value!r} may not contain '{bad}'")
    if not allow_slash and "/" in value:
        raise ConfigurationError(f"{kind} name {value!r} may not contain '/'")
    for part in value.split("/") if allow_slash else [value]:
        _check_name_part(kind, part, value)
    return value


def host_problem(value: object) -> str | None:
    """Why ``value`` is not a host name (RFC 1123) or an IP address; None if it is."""
    wanted = "an RFC 1123 host name (letters, digits, '-' and dots) or an IP address"
    if not isinstance(value, str) or not value:
        return wanted
    if "@" in value:
        # remote-http-launcher 0.4 takes plain host names only
        return wanted + "; give the user name in ~/.ssh/config ('Host NAME' + 'User USER') instead of USER@"
    try:
        ipaddress.ip_address(value)
        return None
    except ValueError:
        pass
    labels = value[:-1].split(".") if value.endswith(".") else value.split(".")
    if len(value) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        return wanted
    return None


def path_problem(value: object) -> str | None:
    """Why ``value`` is not a usable service directory; None if it is.

    Absolute or starting with ``~`` (expanded where the service runs), with the characters
    remote-http-launcher accepts (``A-Z a-z 0-9 @ _ . / ~ -``), and no ``..`` part.
    """
    if not isinstance(value, str) or not _PATH.fullmatch(value) or ".." in value.split("/"):
        return "an absolute directory or one starting with '~/', of the characters A-Z a-z 0-9 @ _ . / ~ -, without '..'"
    return None


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
