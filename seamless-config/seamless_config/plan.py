"""What each mode launches and activates: the one home of the mode -> services decision.

``MODE_SERVICES`` is read by the activators (``seamless_remote.activation`` launches exactly
those services) and by ``seamless-config explain``; ``MODE_ACTIVATORS`` by ``set_stage()``.

Nothing here launches: the launch dicts come from the ``tools.configure_*`` builders, for the
current selection, exactly as the activators pass them to the launcher (the jobserver's
``file_parameters``, the hashserver's and database's URLs, are only known once those run).
"""

from __future__ import annotations

from typing import Any, Callable

from . import tools

#: service -> (what the launcher's messages call it, the builder of its launch dict)
SERVICES: dict[str, tuple[str, Callable[[], dict[str, Any]]]] = {
    "pure-daskserver": ("Dask scheduler", tools.configure_pure_daskserver),
    "hashserver": ("hashserver", lambda: tools.configure_hashserver("rw")),
    "database": ("database", lambda: tools.configure_database("rw")),
    "jobserver": ("jobserver", tools.configure_jobserver),
    "daskserver": ("Seamless Dask server", tools.configure_daskserver),
}
_STORAGE = ("hashserver", "database")

#: mode (``lifecycle.describe_mode()``) -> the services it launches, in launch order
MODE_SERVICES: dict[str, tuple[str, ...]] = {
    "process": (),
    "spawn": (),
    "pure-dask": ("pure-daskserver",),
    "process-persistent": _STORAGE,
    "spawn-persistent": _STORAGE,
    "remote-jobserver": (*_STORAGE, "jobserver"),
    "remote-daskserver": (*_STORAGE, "daskserver"),
}

#: mode -> its activators (:mod:`.activators`), in activation order
MODE_ACTIVATORS: dict[str, tuple[str, ...]] = {
    "process": (),
    "spawn": ("spawn",),
    "pure-dask": ("pure-dask",),
    "process-persistent": ("persistent",),
    "spawn-persistent": ("persistent", "spawn"),
    "remote-jobserver": ("persistent",),
    "remote-daskserver": ("persistent",),
}

#: The parameters that the activator fills in at launch time, per service.
LAUNCH_TIME_PARAMETERS = {"jobserver": ("file_parameters",)}


def planned_launches(mode: str) -> list[tuple[str, str, dict[str, Any]]]:
    """(service, what, launch dict) of every service ``mode`` launches, for the current selection."""
    return [(service, SERVICES[service][0], SERVICES[service][1]()) for service in MODE_SERVICES[mode]]
