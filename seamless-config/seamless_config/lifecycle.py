"""``set_stage`` / ``init``: load the command files, decide the mode, activate what it needs.

Modes, for a selected cluster:

=========  ==========  ===========================================================
execution  persistent  what is activated
=========  ==========  ===========================================================
remote     false       pure Dask: only a Dask scheduler; a plain distributed.Client
remote     true        hashserver + database + jobserver or daskserver (seamless_remote)
process    true        hashserver + database (seamless_remote)
spawn      true        same, plus a pool of local Seamless workers
process    false       nothing
=========  ==========  ===========================================================
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path
from typing import Any

from . import activators, plan, select
from .errors import ConfigurationError

logger = logging.getLogger("seamless_config")
_UNSET: Any = object()

_initialized = False
_workdir: str | None = None
_activated_for: tuple | None = None  # the selection the current activation was made for


# --- workdir --------------------------------------------------------------------------------
def _caller_dir() -> str | None:
    """Directory of the first calling file outside this package (None when interactive)."""
    frame = sys._getframe(1)
    try:
        while frame is not None:
            name = frame.f_globals.get("__name__", "")
            if not (name == "seamless_config" or name.startswith("seamless_config.") or name == "seamless.config"):
                file = frame.f_globals.get("__file__")
                return str(Path(file).resolve().parent) if file else None
            frame = frame.f_back
        return None
    finally:
        del frame


def set_workdir(path: str | os.PathLike | None = _UNSET) -> None:
    """Set the directory where the command-file search starts.

    Without an argument: the directory of the calling script. ``None`` clears it (then the
    current directory is used).
    """
    global _workdir
    if path is _UNSET:
        path = _caller_dir()
    _workdir = None if path is None else str(Path(path).resolve())


def get_workdir() -> str:
    return _workdir or os.getcwd()


# --- report ---------------------------------------------------------------------------------
def report_execution_requirements() -> None:
    """Check the selection after a load: errors for impossible combinations, notes for defaults."""
    cluster = select.get_selected_cluster()
    execution = select.get_execution()
    if not select.execution_was_set_explicitly():
        if cluster is not None:
            logger.info("No 'execution' command found; defaulting to 'remote' because cluster '%s' is selected", cluster)
        else:
            logger.info("No 'execution' command found; falling back to 'process'")
    if cluster is None:
        if execution == "remote":
            raise ConfigurationError(
                "Execution is 'remote' but no cluster was defined; add '- cluster: <name>' "
                "(e.g. the embedded 'local' cluster) or use 'execution: process'"
            )
        if select.persistent_was_set_explicitly() and select.get_persistent():
            raise ConfigurationError(
                "Persistence was explicitly enabled ('persistent: true') but no cluster was defined; "
                "persistence needs a cluster's hashserver and database: add '- cluster: <name>'"
            )
        if not select.persistent_was_set_explicitly():
            logger.info("No cluster defined; running without persistence (define a cluster to use 'execution: remote')")


# --- activation -----------------------------------------------------------------------------
def describe_mode() -> str:
    """The mode the current selection asks for (the rows of this module's table).

    One of ``process``, ``spawn``, ``pure-dask``, ``process-persistent``, ``spawn-persistent``,
    ``remote-jobserver``, ``remote-daskserver``; raises ConfigurationError for impossible ones.
    """
    cluster = select.get_selected_cluster()
    execution = select.get_execution()
    if cluster is None or not select.get_persistent():
        if cluster is None or execution != "remote":
            return execution
        remote = select.check_remote_redundancy(cluster)
        if remote != "daskserver":
            offered = f"only a {remote}" if remote else "no remote service"
            raise ConfigurationError(
                f"Pure Dask mode (execution: remote, persistent: false) needs a daskserver, but cluster "
                f"'{cluster}' offers {offered}. Add a 'daskserver' section to one of its frontends, "
                "or use 'persistent: true' for Seamless remote execution"
            )
        return "pure-dask"
    if execution != "remote":
        return f"{execution}-persistent"
    remote = select.check_remote_redundancy(cluster)
    if remote is None:
        raise ConfigurationError(
            f"Execution is 'remote' but cluster '{cluster}' has no frontend with a jobserver or daskserver"
        )
    return f"remote-{remote}"


#: What a missing activator means for the user, by activator name ({cluster}, {execution}, {services}).
_MISSING = {
    "persistent": (
        "Cluster '{cluster}' with execution '{execution}' and persistence (the default when a cluster "
        "is selected) needs the {services} clients of seamless_remote (module seamless_remote.activation), "
        "which this installation does not provide. For a plain Dask cluster add '- persistent: false' "
        "(pure Dask mode); for local work without a cluster remove the 'cluster' command."
    ),
    "spawn": (
        "Execution 'spawn' needs the local worker pool of seamless_transformer, which this installation "
        "does not provide; install seamless-transformer or use 'execution: process'."
    ),
}
_activated: list[activators.Activator] = []


def _deactivate_all() -> None:
    done = []
    while _activated:
        done.append(_activated.pop())
        done[-1].deactivate()
    for activator in activators.built_in():  # switched off even when activated elsewhere
        if activator not in done:
            activator.deactivate()


def _missing_activator(exc: activators.MissingActivator, mode: str) -> ConfigurationError:
    cluster, execution = select.get_selected_cluster(), select.get_execution()
    what = {"jobserver": "jobserver", "daskserver": "Seamless Dask server"}
    services = " and ".join(
        ["hashserver and database"] + [what[s] for s in plan.MODE_SERVICES.get(mode, ()) if s in what]
    )
    hint = _MISSING.get(exc.name, "Mode '{mode}' needs the activator '{name}', which this installation does not provide.")
    message = hint.format(cluster=cluster, execution=execution, services=services, mode=mode, name=exc.name)
    installed = ", ".join(exc.installed) or "none"
    return ConfigurationError(f"{message} Installed activators: {installed}.")


def _activate() -> None:
    _deactivate_all()
    mode = describe_mode()
    try:
        needed = [activators.find(name) for name in plan.MODE_ACTIVATORS[mode]]
    except activators.MissingActivator as exc:
        raise _missing_activator(exc, mode) from None
    cluster = select.get_selected_cluster()
    for activator in needed:
        _activated.append(activator)
        activator.activate(mode=mode, cluster=cluster)


# --- public lifecycle ---------------------------------------------------------------------
def set_stage(stage: str | None = None, substage: str | None = None, *, workdir: str | os.PathLike | None = None):
    """Select a stage, (re)load the command files and (re)activate when needed.

    Activation happens on a stage change, when the loaded selection differs from the one the
    current activation was made for (an edited profile), and when the pure-Dask scheduler is gone.

    Returns the ``distributed.Client`` in pure Dask mode (also the default client), else None.
    """
    global _initialized, _activated_for
    if workdir is not None:
        set_workdir(workdir)
    elif _workdir is None:
        set_workdir(_caller_dir())
    stage_changed = not _initialized or stage != select.get_stage()
    select.select_stage(stage)
    select.select_substage(substage)
    from .command_files import load_config_files

    load_config_files(get_workdir())
    _with_location(report_execution_requirements)
    if stage_changed or _selection() != _activated_for or not _services_alive():
        if not stage_changed:
            logger.info("The configuration changed, or its Dask scheduler is gone: activating again")
        _initialized = False
        _with_location(_activate)
        _activated_for = _selection()
        _initialized = True
    return get_dask_client()


def _selection() -> tuple:
    """Everything an activation depends on: reactivate when it changes, even in the same stage."""
    from .cluster import get_clusters

    cluster = select.get_selected_cluster()
    definition = get_clusters().get(cluster) if cluster is not None else None
    return (
        cluster, repr(definition), select.get_execution(), select.get_persistent(), select.get_remote(),
        select.get_queue(), select.get_project(), select.get_subproject(), select.get_stage(),
    )


def _services_alive() -> bool:
    """False when the pure-Dask client lost its scheduler (then the next set_stage relaunches)."""
    module = sys.modules.get("seamless_config.pure_daskserver")
    if module is None or module.get_client() is None:
        return True
    return module.is_healthy()


#: For errors raised after loading: the command whose line they concern.
_ERROR_SETTING = (
    ("Persistence was explicitly enabled", "persistent"),
    ("Execution is 'remote' but no cluster", "execution"),
    ("'remote: ", "remote"),
)


def _with_location(action) -> None:
    """Run ``action``; a ConfigurationError without a file gets the line of the command behind it."""
    try:
        action()
    except ConfigurationError as exc:
        if exc.file is not None:
            raise
        settings = [s for text, s in _ERROR_SETTING if text in exc.reason] + ["cluster"]
        file, line, setting = next(
            ((*select.where(s), s) for s in settings if select.where(s)[0] is not None), (None, None, None)
        )
        if file is None:
            raise
        raise ConfigurationError(exc.reason, file=file, line=line, command=setting) from None


def set_substage(substage: str | None = None):
    return set_stage(select.get_stage(), substage)


def init(*, workdir: str | os.PathLike | None = None):
    """Load the configuration once per process (``set_stage()`` with no stage); idempotent."""
    seamless = sys.modules.get("seamless")
    if seamless is not None and getattr(seamless, "is_worker", lambda: False)():
        return None
    if _initialized:
        return get_dask_client()
    if workdir is None and _workdir is None:
        workdir = _caller_dir()
    return set_stage(workdir=workdir)


def is_initialized() -> bool:
    return _initialized


def get_dask_client():
    """The pure-Dask ``distributed.Client`` of the current stage, or None."""
    module = sys.modules.get("seamless_config.pure_daskserver")
    return module.get_client() if module is not None else None


def reset() -> None:
    """Forget selection, workdir and initialisation (tests); active clients are closed."""
    global _initialized, _workdir, _activated_for
    if "seamless_config.pure_daskserver" in sys.modules:
        _deactivate_all()
    select.reset_all()
    _initialized, _workdir, _activated_for = False, None, None
