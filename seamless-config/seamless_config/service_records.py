"""Is the process behind a recorded PID still our service? And which service runs under a key?

A PID from a state file may have been reused by an unrelated process. Before a PID is signalled
or reported as running, :func:`is_service_process` checks that the process is the service of
its key: its command line names the key's status file, and it started before the record that
names it was written (start time from ``/proc/PID/stat``). Otherwise the record is stale.

Services that speak the status-file protocol through ``seamless_service.status_file`` (the Dask
wrapper, the jobserver) also write their own record, owner-only, once running:
``~/.seamless/services/<key>.json`` = ``{"pid", "key", "status_file"}``, removed when they stop.
It survives garbage in remote-http-launcher's state, so a live service is always found.
Stdlib only at import (seamless_service when used); Linux ``/proc``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

#: Seconds of clock skew tolerated between a process start and the record naming it.
_SLACK_SECONDS = 1.0


def services_dir() -> Path:
    """Where running services record themselves (:func:`seamless_service.status_file.services_dir`)."""
    from seamless_service.status_file import services_dir as where

    return where()


def launcher_status_file(key: str) -> Path:
    """remote-http-launcher's server record of ``key``: the service's ``--status-file``."""
    from seamless_service.launcher_state import server_dir

    return server_dir() / f"{key}.json"


def _boot_time() -> float:
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError("no btime in /proc/stat")


def proc_stat(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` from field 3 (state) on: ``[0]`` state, ``[1]`` parent PID,
    ``[11:15]`` CPU ticks (user, system, children's), ``[19]`` start in ticks since boot; None
    when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        # the command name (field 2) may hold spaces and ')': fields resume after the last ')'
        return stat[stat.rindex(")") + 2:].split()
    except (OSError, ValueError):
        return None


def process_start_time(pid: int) -> float | None:
    """Start of process ``pid`` (seconds since the epoch), or None when it does not exist."""
    fields = proc_stat(pid)
    if fields is None or fields[0] == "Z":
        return None  # gone (a zombie is gone)
    try:
        return _boot_time() + int(fields[19]) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError):
        return None


def process_command_line(pid: int) -> str | None:
    """The command line of ``pid``, arguments joined by spaces, or None."""
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return None
    return raw.rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")


def _mtime(path: Path) -> float | None:
    try:
        return path.stat().st_mtime
    except OSError:
        return None


def is_service_process(pid: Any, key: str) -> bool:
    """Whether ``pid`` is a live process of this machine that is the service of ``key``."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return False
    started = process_start_time(pid)
    command = process_command_line(pid)
    if started is None or command is None:
        return False
    if str(launcher_status_file(key)) not in command:
        return False
    written = [t for t in (_mtime(services_dir() / f"{key}.json"), _mtime(launcher_status_file(key))) if t is not None]
    return not written or started <= max(written) + _SLACK_SECONDS


def read_service_record(key: str) -> dict[str, Any] | None:
    """The record a service wrote about itself, when it is readable and names ``key``."""
    try:
        data = json.loads((services_dir() / f"{key}.json").read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) and data.get("key") == key else None


def live_service_pid(key: str) -> int | None:
    """The PID of the live service of ``key`` according to its own record, or None."""
    record = read_service_record(key)
    if record is not None and is_service_process(record.get("pid"), key):
        return record["pid"]
    return None


def recorded_keys() -> list[str]:
    """Keys of every service record (live or not)."""
    directory = services_dir()
    return sorted(p.stem for p in directory.glob("*.json")) if directory.is_dir() else []


def forget_service_record(key: str) -> None:
    try:
        (services_dir() / f"{key}.json").unlink()
    except FileNotFoundError:
        pass
