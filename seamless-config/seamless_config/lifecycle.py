"""``set_stage`` / ``init``: load the command files, decide the mode, activate what it needs.

The state (the selection, the workdir, what is activated) lives in a :class:`Stage`;
``set_stage()`` and the other functions here act on the default one (:func:`default_stage`),
like distributed's default client. Tests make their own ``Stage(activators=...)``.

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
from types import FrameType
from typing import Any, Mapping

from . import activators as activators_module
from . import select
from .errors import ConfigurationError

logger = logging.getLogger(__name__)
_UNSET: Any = object()

# --- workdir --------------------------------------------------------------------------------
def _caller_dir() -> str | None:
    """Directory of the first calling file outside this package (None when interactive).

    The one place that inspects the call stack: ``set_stage()`` without ``workdir`` reads the
    command files next to the script that calls it, also when that script is imported from
    elsewhere (``sys.argv[0]`` / ``__main__`` would name another directory then).
    """
    frame: FrameType | None = sys._getframe(1)
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
                "(e.g. the embedded 'local' cluster) or use 'execution: process'",
                setting="execution",
            )
        if select.persistent_was_set_explicitly() and select.get_persistent():
            raise ConfigurationError(
                "Persistence was explicitly enabled ('persistent: true') but no cluster was defined; "
                "persistence needs a cluster's hashserver and database: add '- cluster: <name>'",
                setting="persistent",
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


def _missing_activator(exc: activators_module.MissingActivator, mode: str) -> ConfigurationError:
    from . import plan

    cluster, execution = select.get_selected_cluster(), select.get_execution()
    services = " and ".join(plan.SERVICES[s][0] for s in plan.MODE_SERVICES[mode])
    hint = _MISSING.get(exc.name, "Mode '{mode}' needs the activator '{name}', which this installation does not provide.")
    message = hint.format(cluster=cluster, execution=execution, services=services, mode=mode, name=exc.name)
    installed = ", ".join(exc.installed) or "none"
    return ConfigurationError(f"{message} Installed activators: {installed}.")


def _start_ssh_masters(mode: str, cluster: str | None) -> None:
    """Begin opening the SSH connection to each frontend that ``mode`` launches on, in the
    background: key exchange and login overlap the rest of the activation (the launch's first
    ``ssh`` waits for it). A launch dict that cannot be built is left to the activator to report.
    A cluster without a frontend host (``type: local``...) costs nothing here."""
    from . import plan
    from .cluster import get_clusters
    from .launching import ssh_host

    definition = get_clusters().get(cluster) if cluster is not None else None
    if definition is None or definition.is_local_cluster or not any(f.hostname for f in definition.frontends):
        return

    try:
        hosts = {host for _, _, config in plan.planned_launches(mode) if (host := ssh_host(config)) is not None}
    except Exception:  # noqa: BLE001 - the activation itself raises it, with its context
        return
    if hosts:
        from .ssh_multiplex import start_master

        for host in sorted(hosts):
            start_master(host)


def _with_location(action) -> None:
    """Run ``action``; a ConfigurationError without a file gets the line of the command behind it."""
    try:
        action()
    except ConfigurationError as exc:
        if exc.file is not None:
            raise
        settings = [exc.setting] if exc.setting else []
        settings.append("cluster")
        file, line, setting = next(
            ((*select.where(s), s) for s in settings if select.where(s)[0] is not None), (None, None, None)
        )
        if file is None:
            raise
        raise ConfigurationError(exc.reason, file=file, line=line, command=setting) from None


# --- the stage ------------------------------------------------------------------------------
class Stage:
    """One selection (:class:`.select.Selection`), its work directory and what is activated for it.

    ``activators``: name -> activator (:mod:`.activators`) to use instead of those installed.
    """

    def __init__(self, activators: Mapping[str, activators_module.Activator] | None = None,
                 selection: select.Selection | None = None):
        self.selection = selection if selection is not None else select.Selection()
        self._activators = activators
        self.workdir: str | None = None
        self.initialized = False
        self.activated_for: tuple | None = None  # the selection the current activation was made for
        self.activated: list[activators_module.Activator] = []

    def activator(self, name: str) -> activators_module.Activator:
        if self._activators is None:
            return activators_module.find(name)
        if name not in self._activators:
            raise activators_module.MissingActivator(name, sorted(self._activators))
        return self._activators[name]

    # --- workdir
    def set_workdir(self, path: str | os.PathLike | None = _UNSET) -> None:
        """Set the directory where the command-file search starts.

        Without an argument: the directory of the calling script. ``None`` clears it (then the
        current directory is used).
        """
        if path is _UNSET:
            path = _caller_dir()
        self.workdir = None if path is None else str(Path(path).resolve())

    def get_workdir(self) -> str:
        return self.workdir or os.getcwd()

    # --- activation
    def _deactivate_all(self) -> None:
        done = []
        while self.activated:
            done.append(self.activated.pop())
            done[-1].deactivate()
        try:
            pure_dask = self.activator(activators_module.PURE_DASK)
        except activators_module.MissingActivator:
            return
        if pure_dask not in done:  # switched off even when activated elsewhere
            pure_dask.deactivate()

    def _activate(self) -> None:
        from . import plan  # the launch-dict builders: imported when something is activated

        self._deactivate_all()
        mode = describe_mode()
        try:
            needed = [self.activator(name) for name in plan.MODE_ACTIVATORS[mode]]
        except activators_module.MissingActivator as exc:
            raise _missing_activator(exc, mode) from None
        cluster = select.get_selected_cluster()
        _start_ssh_masters(mode, cluster)
        for activator in needed:
            self.activated.append(activator)
            activator.activate(mode=mode, cluster=cluster)

    def _fingerprint(self) -> tuple:
        """Everything an activation depends on: reactivate when it changes, even in the same stage."""
        from .cluster import get_clusters

        cluster = select.get_selected_cluster()
        definition = get_clusters().get(cluster) if cluster is not None else None
        return (
            cluster, repr(definition), select.get_execution(), select.get_persistent(), select.get_remote(),
            select.get_queue(), select.get_project(), select.get_subproject(), select.get_stage(),
        )

    def _services_alive(self) -> bool:
        """False when the pure-Dask client lost its scheduler (then the next set_stage relaunches)."""
        module = sys.modules.get("seamless_config.pure_daskserver")
        if module is None or module.get_client() is None:
            return True
        return module.is_healthy()

    # --- public lifecycle
    def set_stage(self, stage: str | None = None, substage: str | None = None, *,
                  workdir: str | os.PathLike | None = None) -> Any:
        """Select a stage, (re)load the command files and (re)activate when needed.

        Activation happens on a stage change, when the loaded selection differs from the one the
        current activation was made for (an edited profile), and when the pure-Dask scheduler is gone.

        Returns the ``distributed.Client`` in pure Dask mode (also the default client), else None.
        """
        if workdir is not None:
            self.set_workdir(workdir)
        elif self.workdir is None:
            self.set_workdir(_caller_dir())
        with select.using(self.selection):
            stage_changed = not self.initialized or stage != select.get_stage()
            select.select_stage(stage)
            select.select_substage(substage)
            from .command_files import load_config_files

            load_config_files(self.get_workdir())
            _with_location(report_execution_requirements)
            if stage_changed or self._fingerprint() != self.activated_for or not self._services_alive():
                if not stage_changed:
                    logger.info("The configuration changed, or its Dask scheduler is gone: activating again")
                self.initialized = False
                _with_location(self._activate)
                self.activated_for = self._fingerprint()
                self.initialized = True
        return self.get_dask_client()

    def set_substage(self, substage: str | None = None) -> Any:
        return self.set_stage(self.selection.get_stage(), substage)

    def init(self, *, workdir: str | os.PathLike | None = None) -> Any:
        """Load the configuration once (``set_stage()`` with no stage); idempotent."""
        seamless = sys.modules.get("seamless")
        if seamless is not None and getattr(seamless, "is_worker", lambda: False)():
            return None
        if self.initialized:
            return self.get_dask_client()
        if workdir is None and self.workdir is None:
            workdir = _caller_dir()
        return self.set_stage(workdir=workdir)

    def get_dask_client(self) -> Any:
        """The pure-Dask ``distributed.Client`` of the stage, or None."""
        module = sys.modules.get("seamless_config.pure_daskserver")
        return module.get_client() if module is not None else None

    def reset(self) -> None:
        """Forget selection, workdir and initialisation; active clients are closed."""
        if "seamless_config.pure_daskserver" in sys.modules or self.activated:
            with select.using(self.selection):
                self._deactivate_all()
        self.selection.clear()
        self.initialized, self.workdir, self.activated_for = False, None, None


_default: Stage | None = None


def default_stage() -> Stage:
    """The stage that ``set_stage()`` and the other functions of this module act on."""
    global _default
    if _default is None:
        _default = Stage(selection=select.current())
    return _default


def set_default(stage: Stage) -> None:
    """Make ``stage`` the default (its selection becomes the current one of :mod:`.select`)."""
    global _default
    _default = stage
    select.make_current(stage.selection)


# --- the default stage's lifecycle -------------------------------------------------------------
def set_workdir(path: str | os.PathLike | None = _UNSET) -> None:
    """:meth:`Stage.set_workdir` of the default stage."""
    default_stage().set_workdir(path)


def get_workdir() -> str:
    return default_stage().get_workdir()


def set_stage(stage: str | None = None, substage: str | None = None, *, workdir: str | os.PathLike | None = None):
    """:meth:`Stage.set_stage` of the default stage."""
    return default_stage().set_stage(stage, substage, workdir=workdir)


def set_substage(substage: str | None = None):
    return default_stage().set_substage(substage)


def init(*, workdir: str | os.PathLike | None = None):
    """Load the configuration once per process (``set_stage()`` with no stage); idempotent."""
    return default_stage().init(workdir=workdir)


def is_initialized() -> bool:
    return default_stage().initialized


def get_dask_client():
    """The pure-Dask ``distributed.Client`` of the current stage, or None."""
    return default_stage().get_dask_client()


def reset() -> None:
    """Forget selection, workdir and initialisation (tests); active clients are closed."""
    default_stage().reset()
