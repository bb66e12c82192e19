"""Everything we take from remote-http-launcher (RHL) 0.4.5 beyond its public API.

Its public API is ``run()`` / ``Configuration`` / ``LauncherError`` / the observer protocol and
its ``rhl-*`` helper commands. What we need beyond that, each workaround pinned by
``seamless-config/tests/test_rhl_adapter.py`` (so that a new RHL version that changes it fails
there, not in a user's launch):

1. :func:`execute` calls the private ``_execute`` to pass an observer (log messages, the fast
   start check of :mod:`.launching`, knowing whether a launch happened); pyproject pins RHL to 0.4.x.
2. :func:`client_state_path` / :func:`server_state_path` read RHL's state files directly (a local
   launch needs no helper process; a warm reconnect reads the client record's ``hostname``, ports
   and ``status`` as RHL's own reconnect does, without importing RHL), where its library writes
   them: ``REMOTE_HTTP_LAUNCHER_DIR`` is honoured as RHL's library does
   (:mod:`seamless_service.launcher_state`).
3. :func:`mark_stale` writes RHL's server record (``status: stale``, as ``rhl-stop`` does) without
   signalling the recorded PID, which may be another process's by now.
4. :func:`close_tunnels` finds RHL's tunnel processes by scanning ``/proc`` (its monitor's
   ``--local-port``/``--remote-pid`` arguments, its ``ssh -N -L`` children): RHL does not close a
   tunnel whose service died.
5. :data:`REASONS` matches RHL's message text for a service that died while starting, to say it
   in the user's terms.

Stdlib only at import; ``remote_http_launcher`` and ``seamless_service`` are imported when used.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
from pathlib import Path
from typing import Any, Iterator, Mapping


def execute(parameters: Mapping[str, Any], observer: Any) -> dict[str, Any]:
    """Launch or reconnect through RHL with ``observer``; return RHL's payload (workaround 1)."""
    import remote_http_launcher as rhl

    cfg = rhl.Configuration.from_mapping(dict(parameters))
    return rhl._execute(cfg, None, observer=observer)


# --- RHL's state files (workaround 2) ---------------------------------------------------------


def state_root() -> Path:
    """The directory of all of RHL's state (made owner-only before a launch)."""
    from seamless_service.launcher_state import launcher_root

    return launcher_root()


def client_state_path(key: str) -> Path:
    """RHL's client record of ``key``: the service's address as seen from this machine."""
    from seamless_service.launcher_state import client_dir

    return client_dir() / f"{key}.json"


def server_state_path(key: str) -> Path:
    """RHL's server record of ``key`` (the service's status file) on this machine."""
    from seamless_service.launcher_state import server_dir

    return server_dir() / f"{key}.json"


def mark_stale(key: str, state: dict[str, Any]) -> None:
    """Mark a local server record stale (as ``rhl-stop`` does, without signalling its PID)."""
    from seamless_service.private_files import write_private

    write_private(server_state_path(key), json.dumps({**state, "status": "stale"}))


# --- tunnels (workaround 4) -------------------------------------------------------------------


def own_processes() -> Iterator[tuple[int, list[str]]]:
    uid = os.getuid()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if entry.stat().st_uid != uid:
                continue
            raw = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if raw:
            yield int(entry.name), raw.rstrip(b"\0").decode(errors="replace").split("\0")


def tunnel_processes(local_ports: set[int]) -> list[int]:
    """PIDs of RHL tunnel monitors (``--local-port P``) and their ``ssh -N -L P:...`` children."""
    pids = []
    for pid, argv in own_processes():
        if argv and os.path.basename(argv[0]) == "ssh" and "-N" in argv:
            forwards = [argv[i + 1] for i, a in enumerate(argv[:-1]) if a == "-L"]
            if any(f.split(":", 1)[0].isdigit() and int(f.split(":", 1)[0]) in local_ports for f in forwards):
                pids.append(pid)
        elif "--local-port" in argv and "--remote-pid" in argv:
            i = argv.index("--local-port")
            if i + 1 < len(argv) and argv[i + 1].isdigit() and int(argv[i + 1]) in local_ports:
                pids.append(pid)
    return pids


def close_tunnels(config: Mapping[str, Any]) -> list[int]:
    """Close the SSH tunnels recorded in the client state of ``config``'s key; return their PIDs."""
    try:
        state = json.loads(client_state_path(config["key"]).read_text())
    except (OSError, json.JSONDecodeError):
        return []
    ports = {
        int(v)
        for k, v in state.items()
        if (k == "port" or k.endswith("_port") or k.endswith("-port"))
        and not k.startswith("tunneled-")
        and isinstance(v, int)
    }
    if not state.get("tunneled-host") or not ports:
        return []
    pids = tunnel_processes(ports)
    for pid in pids:
        # SIGKILL: a monitor sleeps 20 s between checks and would only then stop its ssh child
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids


# --- RHL's messages (workaround 5) ------------------------------------------------------------

#: RHL 0.4.5's words for a service that died while starting, in the user's terms.
REASONS = {
    "Remote launch already attempted and failed.": "it stopped while starting",
    "Remote process did not finish starting after relaunch.": "it exited before it was running",
}


def reason(exc: Exception) -> str:
    """The reason of a failed launch, in the user's terms where RHL's words are known."""
    return REASONS.get(str(exc), str(exc))
