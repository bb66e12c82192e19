"""Selection state: cluster, project, stage, execution, queue, remote, persistent.

The state lives in a :class:`Selection` (one per :class:`.lifecycle.Stage`); this module's
functions act on the current one. Every selected value (cluster, project, subproject, execution,
queue, remote, persistent) records where it came from: ``"command"`` (a command file, with its file and line) or ``"manual"`` (a
Python call). Before each load of the command files only the command-sourced values are reset,
so Python choices survive ``set_stage`` reloads and a stage block's choices end with the stage.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Iterator

from .cluster import get_cluster, get_clusters
from .errors import ConfigurationError
from .names import validate_name

EXECUTION_MODES = ("process", "spawn", "remote")
REMOTE_TARGETS = (None, "daskserver", "jobserver")
SOURCES = ("command", "manual")
OVERRIDE_FILE = "seamless.profile.yaml"


@dataclass
class _Sourced:
    value: Any = None
    source: str | None = None  # None: never set (the default applies)
    where: tuple[str, int | None] | None = None  # (file, line) of the command that set it


#: The settings that carry a source, in the order ``seamless-config explain`` shows them.
SETTINGS = ("cluster", "queue", "execution", "persistent", "remote", "project", "subproject")


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")


class Selection:
    """The selection of one stage: each value with where it came from. A :class:`.lifecycle.Stage`
    holds one; the functions of this module act on the current one (:func:`current`)."""

    def __init__(self) -> None:
        self.clear()

    def clear(self) -> None:
        """Forget every selection."""
        self._cluster = _Sourced()
        self._project = _Sourced()
        self._subproject = _Sourced()
        self._stage: str | None = None
        self._substage: str | None = None
        self._execution = _Sourced()
        self._remote = _Sourced()
        self._persistent = _Sourced()
        self._queue = _Sourced()
        self._queue_cluster: str | None = None
        self._execution_command_seen = False

    # --- cluster / project / stage -------------------------------------------------------------
    def select_cluster(self, cluster: str | None, source: str = "manual", where: tuple[str, int | None] | None = None) -> None:
        """Select a cluster (None: no cluster). Another cluster than the queue's clears the queue."""
        _check_source(source)
        if cluster is not None:
            validate_name("cluster", cluster)
        if cluster != self._queue_cluster:
            self._queue, self._queue_cluster = _Sourced(), None
        self._cluster = _Sourced(cluster, source, where)

    def get_selected_cluster(self) -> str | None:
        return self._cluster.value

    def select_project(self, project: str, source: str = "manual", where: tuple[str, int | None] | None = None) -> None:
        _check_source(source)
        self._project = _Sourced(validate_name("project", project), source, where)

    def get_project(self) -> str | None:
        return self._project.value

    def select_subproject(self, subproject: str | None, source: str = "manual", where: tuple[str, int | None] | None = None) -> None:
        _check_source(source)
        value = None if subproject is None else validate_name("subproject", subproject, allow_slash=True)
        self._subproject = _Sourced(value, source, where)

    def get_subproject(self) -> str | None:
        return self._subproject.value

    def _sourced(self, setting: str) -> _Sourced:
        return {
            "cluster": self._cluster, "project": self._project, "subproject": self._subproject, "execution": self._execution,
            "remote": self._remote, "persistent": self._persistent, "queue": self._queue,
        }[setting]

    def where(self, setting: str) -> tuple[str | None, int | None]:
        """(file, line) of the command that set ``setting`` ("cluster", "persistent"...), if any."""
        sourced = self._sourced(setting)
        return sourced.where if sourced.where is not None else (None, None)

    def select_stage(self, stage: str | None) -> None:
        self._stage = None if stage is None else validate_name("stage", stage)

    def get_stage(self) -> str | None:
        return self._stage

    def select_substage(self, substage: str | None) -> None:
        self._substage = None if substage is None else validate_name("substage", substage)

    def get_substage(self) -> str | None:
        return self._substage

    # --- execution ------------------------------------------------------------------------------
    def select_execution(self, execution: str, source: str = "manual", where: tuple[str, int | None] | None = None) -> None:
        _check_source(source)
        if not isinstance(execution, str):
            raise ConfigurationError("execution must be a string")
        if execution not in EXECUTION_MODES:
            raise ConfigurationError(f"execution must be one of: {', '.join(EXECUTION_MODES)}, not {execution!r}")
        self._execution = _Sourced(execution, source, where)
        if source == "command":
            self._execution_command_seen = True

    def get_execution(self) -> str:
        """The explicit execution, else ``remote`` when a cluster is selected, else ``process``."""
        if self._execution.source is not None:
            return self._execution.value
        return "remote" if self._cluster.value is not None else "process"

    def execution_was_set_explicitly(self) -> bool:
        return self._execution.source is not None

    def execution_command_seen(self) -> bool:
        return self._execution_command_seen

    # --- persistent -----------------------------------------------------------------------------
    def select_persistent(self, persistent: bool, source: str = "manual", where: tuple[str, int | None] | None = None) -> None:
        _check_source(source)
        if not isinstance(persistent, bool):
            raise ConfigurationError(f"persistent must be a boolean (true or false), not {persistent!r}")
        self._persistent = _Sourced(persistent, source, where)

    def get_persistent(self, cluster: str | None = None) -> bool:
        """The explicit value, else true exactly when a cluster is given or selected."""
        if self._persistent.source is not None:
            return self._persistent.value
        return bool(cluster or self._cluster.value)

    def persistent_was_set_explicitly(self) -> bool:
        return self._persistent.source is not None

    # --- queue ----------------------------------------------------------------------------------
    def select_queue(self, queue: str, source: str = "manual", where: tuple[str, int | None] | None = None) -> None:
        _check_source(source)
        if not isinstance(queue, str):
            raise ConfigurationError("queue must be a string")
        cluster = self._cluster.value
        if cluster is None:
            raise ConfigurationError("Cannot select a queue without selecting a cluster first")
        clusters = get_clusters()
        if cluster not in clusters:
            raise ConfigurationError(f"Unknown cluster '{cluster}'; defined clusters: {', '.join(sorted(clusters))}")
        queues = clusters[cluster].queues
        if not queues:
            raise ConfigurationError(f"Cluster '{cluster}' has no queues")
        if queue not in queues:
            raise ConfigurationError(f"Cluster '{cluster}' has no queue '{queue}'; its queues are: {', '.join(queues)}")
        self._queue, self._queue_cluster = _Sourced(queue, source, where), cluster

    def get_queue(self, cluster: str | None = None) -> str | None:
        """The queue selected for ``cluster`` (default: the selected one), if it still exists."""
        cluster = cluster or self._cluster.value
        if self._queue.source is None or cluster is None or self._queue_cluster != cluster:
            return None
        clusters = get_clusters()
        if cluster not in clusters or self._queue.value not in clusters[cluster].queues:
            return None
        return self._queue.value

    def resolve_queue(self, cluster: str, queue: str | None = None) -> str:
        """``queue``, else the selected queue, else the cluster's default queue."""
        definition = get_cluster(cluster)
        name = queue or self.get_queue(cluster) or definition.default_queue
        if name is None:
            raise ConfigurationError(
                f"No queue selected and cluster '{cluster}' has no default queue; add a 'queue' command "
                f"(one of: {', '.join(definition.queues) or 'none defined'}) or 'default_queue' to the cluster"
            )
        if name not in definition.queues:
            raise ConfigurationError(f"Cluster '{cluster}' has no queue '{name}'; its queues are: {', '.join(definition.queues) or 'none'}")
        return name

    # --- remote ---------------------------------------------------------------------------------
    def select_remote(self, remote: str | None, source: str = "manual", where: tuple[str, int | None] | None = None) -> None:
        _check_source(source)
        if remote is not None and not isinstance(remote, str):
            raise ConfigurationError("remote must be a string or null")
        if remote not in REMOTE_TARGETS:
            raise ConfigurationError(f"remote must be one of: None, daskserver, jobserver, not {remote!r}")
        self._remote = _Sourced(remote, source, where)

    def get_remote(self) -> str | None:
        return self._remote.value

    def check_remote_redundancy(self, cluster: str) -> str | None:
        """The remote target for ``cluster``: the selected one, else the only kind its frontends offer."""
        if self._remote.value is not None:
            return self._remote.value
        definition = get_cluster(cluster)
        kinds: set[str] = set()
        for frontend in definition.frontends:
            here = {k for k in ("jobserver", "daskserver") if k in frontend.services}
            if len(here) == 2:
                raise ConfigurationError(
                    f"Cluster '{cluster}' frontend '{frontend.hostname or 'localhost'}' has both jobserver and "
                    f"daskserver; in your {OVERRIDE_FILE}, specify 'remote: jobserver' or 'remote: daskserver'",
                    setting="remote",
                )
            kinds |= here
        if len(kinds) == 2:
            raise ConfigurationError(
                f"Cluster '{cluster}' exposes both jobserver and daskserver; in your {OVERRIDE_FILE}, "
                "specify 'remote: jobserver' or 'remote: daskserver'",
                setting="remote",
            )
        return kinds.pop() if kinds else None

    # --- reset before a reload ------------------------------------------------------------------
    def _reset_if_command(self, sourced: _Sourced) -> _Sourced:
        return _Sourced() if sourced.source == "command" else sourced

    def reset_execution_before_load(self) -> None:
        self._execution = self._reset_if_command(self._execution)
        self._execution_command_seen = False

    def reset_persistent_before_load(self) -> None:
        self._persistent = self._reset_if_command(self._persistent)

    def reset_queue_before_load(self) -> None:
        self._queue = self._reset_if_command(self._queue)
        if self._queue.source is None:
            self._queue_cluster = None

    def reset_remote_before_load(self) -> None:
        self._remote = self._reset_if_command(self._remote)

    def reset_selection_before_load(self) -> None:
        """Cluster, project and subproject set by commands are re-read at each load too."""
        self._cluster, self._project, self._subproject = (self._reset_if_command(x) for x in (self._cluster, self._project, self._subproject))

    def reset_before_load(self) -> None:
        self.reset_selection_before_load()
        self.reset_execution_before_load()
        self.reset_persistent_before_load()
        self.reset_queue_before_load()
        self.reset_remote_before_load()

    def get_current(
        self,
        cluster: str | None = None,
        project: str | None = None,
        subproject: str | None = None,
        stage: str | None = None,
        substage: str | None = None,
    ) -> tuple[str, str, str | None, str | None, str | None]:
        """Fill missing arguments from the selection; cluster and project are required."""
        cluster = cluster or self._cluster.value
        if cluster is None:
            raise ConfigurationError("No cluster defined")
        project = project or self._project.value
        if project is None:
            raise ConfigurationError("No project defined; add a 'project' command to seamless.yaml")
        return cluster, project, subproject or self._subproject.value, stage or self._stage, substage or self._substage

    # --- explaining the selection ---------------------------------------------------------------
    def explain_setting(self, setting: str) -> dict[str, Any]:
        """The value of ``setting`` and where it comes from, for ``seamless-config explain``.

        ``source`` is ``command`` (with ``file`` and ``line``), ``python`` (a ``select_*`` call) or
        ``default`` (with ``why``: the rule of the getter above that gave the value).
        """
        sourced = self._sourced(setting)
        if sourced.source is not None and not (setting == "queue" and self.get_queue() is None):
            file, line = sourced.where if sourced.where is not None else (None, None)
            source = "command" if sourced.source == "command" else "python"
            return {"value": sourced.value, "source": source, "file": file, "line": line}
        value, why = self._default(setting)
        return {"value": value, "source": "default", "why": why}

    def _default(self, setting: str) -> tuple[Any, str]:
        cluster = self._cluster.value
        because = f"cluster '{cluster}' is selected" if cluster is not None else "no cluster is selected"
        if setting == "cluster":
            return None, "no 'cluster' command: transformations run on this machine, nothing is launched"
        if setting == "execution":
            return self.get_execution(), f"no 'execution' command, and {because}"
        if setting == "persistent":
            return self.get_persistent(), f"no 'persistent' command, and {because}"
        if setting == "queue":
            if cluster is None:
                return None, "no cluster is selected"
            try:
                return self.resolve_queue(cluster), f"no 'queue' command: the default queue of cluster '{cluster}'"
            except ConfigurationError as exc:  # only the Dask modes need a queue: theirs raise it
                return None, exc.reason
        if setting == "remote":
            if cluster is None or self.get_execution() != "remote":
                return None, "execution is not 'remote'"
            remote = self.check_remote_redundancy(cluster)
            offered = "the only kind of remote service" if remote else "no remote service"
            return remote, f"no 'remote' command: {offered} that cluster '{cluster}' offers"
        return None, f"no '{setting}' command"


# --- the current selection, and this module's functions over it ----------------------------------
_current = Selection()


def current() -> Selection:
    """The selection that the functions below read and change (the default stage's, or that of
    the stage that is loading or activating: :func:`using`)."""
    return _current


@contextlib.contextmanager
def using(selection: Selection) -> Iterator[Selection]:
    """Make ``selection`` the current one for the duration (a :class:`.lifecycle.Stage` at work)."""
    global _current
    previous, _current = _current, selection
    try:
        yield selection
    finally:
        _current = previous


def make_current(selection: Selection) -> None:
    """Make ``selection`` the current one from now on (``lifecycle.set_default``)."""
    global _current
    _current = selection


Where = tuple[str, int | None] | None


def select_cluster(cluster: str | None, source: str = "manual", where: Where = None) -> None:
    _current.select_cluster(cluster, source, where)


def get_selected_cluster() -> str | None:
    return _current.get_selected_cluster()


def select_project(project: str, source: str = "manual", where: Where = None) -> None:
    _current.select_project(project, source, where)


def get_project() -> str | None:
    return _current.get_project()


def select_subproject(subproject: str | None, source: str = "manual", where: Where = None) -> None:
    _current.select_subproject(subproject, source, where)


def get_subproject() -> str | None:
    return _current.get_subproject()


def where(setting: str) -> tuple[str | None, int | None]:
    return _current.where(setting)


def select_stage(stage: str | None) -> None:
    _current.select_stage(stage)


def get_stage() -> str | None:
    return _current.get_stage()


def select_substage(substage: str | None) -> None:
    _current.select_substage(substage)


def get_substage() -> str | None:
    return _current.get_substage()


def select_execution(execution: str, source: str = "manual", where: Where = None) -> None:
    _current.select_execution(execution, source, where)


def get_execution() -> str:
    return _current.get_execution()


def execution_was_set_explicitly() -> bool:
    return _current.execution_was_set_explicitly()


def execution_command_seen() -> bool:
    return _current.execution_command_seen()


def select_persistent(persistent: bool, source: str = "manual", where: Where = None) -> None:
    _current.select_persistent(persistent, source, where)


def get_persistent(cluster: str | None = None) -> bool:
    return _current.get_persistent(cluster)


def persistent_was_set_explicitly() -> bool:
    return _current.persistent_was_set_explicitly()


def select_queue(queue: str, source: str = "manual", where: Where = None) -> None:
    _current.select_queue(queue, source, where)


def get_queue(cluster: str | None = None) -> str | None:
    return _current.get_queue(cluster)


def resolve_queue(cluster: str, queue: str | None = None) -> str:
    return _current.resolve_queue(cluster, queue)


def select_remote(remote: str | None, source: str = "manual", where: Where = None) -> None:
    _current.select_remote(remote, source, where)


def get_remote() -> str | None:
    return _current.get_remote()


def check_remote_redundancy(cluster: str) -> str | None:
    return _current.check_remote_redundancy(cluster)


def reset_before_load() -> None:
    _current.reset_before_load()


def get_current(**given: str | None) -> tuple[str, str, str | None, str | None, str | None]:
    """:meth:`Selection.get_current` (cluster, project, subproject, stage, substage)."""
    return _current.get_current(**given)


def explain_setting(setting: str) -> dict[str, Any]:
    return _current.explain_setting(setting)


def reset_all() -> None:
    """Forget every selection of the current stage (tests, a fresh process state)."""
    _current.clear()
