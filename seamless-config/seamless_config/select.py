"""Selection state: cluster, project, stage, execution, queue, remote, persistent.

Every selected value (cluster, project, subproject, execution, queue, remote, persistent) records
where it came from: ``"command"`` (a command file, with its file and line) or ``"manual"`` (a
Python call). Before each load of the command files only the command-sourced values are reset,
so Python choices survive ``set_stage`` reloads and a stage block's choices end with the stage.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

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


_cluster = _Sourced()
_project = _Sourced()
_subproject = _Sourced()
_stage: str | None = None
_substage: str | None = None
_execution = _Sourced()
_remote = _Sourced()
_persistent = _Sourced()
_queue = _Sourced()
_queue_cluster: str | None = None
_execution_command_seen = False


def _check_source(source: str) -> None:
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, not {source!r}")


def reset_all() -> None:
    """Forget every selection (used by tests and by a fresh process state)."""
    global _cluster, _project, _subproject, _stage, _substage, _queue_cluster, _execution_command_seen
    global _execution, _remote, _persistent, _queue
    _stage = _substage = _queue_cluster = None
    _cluster, _project, _subproject = _Sourced(), _Sourced(), _Sourced()
    _execution, _remote, _persistent, _queue = _Sourced(), _Sourced(), _Sourced(), _Sourced()
    _execution_command_seen = False


# --- cluster / project / stage -------------------------------------------------------------
def select_cluster(cluster: str | None, source: str = "manual", where: tuple[str, int | None] | None = None) -> None:
    """Select a cluster (None: no cluster). Another cluster than the queue's clears the queue."""
    global _cluster, _queue, _queue_cluster
    _check_source(source)
    if cluster is not None:
        validate_name("cluster", cluster)
    if cluster != _queue_cluster:
        _queue, _queue_cluster = _Sourced(), None
    _cluster = _Sourced(cluster, source, where)


def get_selected_cluster() -> str | None:
    return _cluster.value


def select_project(project: str, source: str = "manual", where: tuple[str, int | None] | None = None) -> None:
    global _project
    _check_source(source)
    _project = _Sourced(validate_name("project", project), source, where)


def get_project() -> str | None:
    return _project.value


def select_subproject(subproject: str | None, source: str = "manual", where: tuple[str, int | None] | None = None) -> None:
    global _subproject
    _check_source(source)
    value = None if subproject is None else validate_name("subproject", subproject, allow_slash=True)
    _subproject = _Sourced(value, source, where)


def get_subproject() -> str | None:
    return _subproject.value


#: The settings that carry a source, in the order ``seamless-config explain`` shows them.
SETTINGS = ("cluster", "queue", "execution", "persistent", "remote", "project", "subproject")


def _sourced(setting: str) -> _Sourced:
    return {
        "cluster": _cluster, "project": _project, "subproject": _subproject, "execution": _execution,
        "remote": _remote, "persistent": _persistent, "queue": _queue,
    }[setting]


def where(setting: str) -> tuple[str | None, int | None]:
    """(file, line) of the command that set ``setting`` ("cluster", "persistent"...), if any."""
    sourced = _sourced(setting)
    return sourced.where if sourced.where is not None else (None, None)


def select_stage(stage: str | None) -> None:
    global _stage
    _stage = None if stage is None else validate_name("stage", stage)


def get_stage() -> str | None:
    return _stage


def select_substage(substage: str | None) -> None:
    global _substage
    _substage = None if substage is None else validate_name("substage", substage)


def get_substage() -> str | None:
    return _substage


# --- execution ------------------------------------------------------------------------------
def select_execution(execution: str, source: str = "manual", where: tuple[str, int | None] | None = None) -> None:
    global _execution, _execution_command_seen
    _check_source(source)
    if not isinstance(execution, str):
        raise ConfigurationError("execution must be a string")
    if execution not in EXECUTION_MODES:
        raise ConfigurationError(f"execution must be one of: {', '.join(EXECUTION_MODES)}, not {execution!r}")
    _execution = _Sourced(execution, source, where)
    if source == "command":
        _execution_command_seen = True


def get_execution() -> str:
    """The explicit execution, else ``remote`` when a cluster is selected, else ``process``."""
    if _execution.source is not None:
        return _execution.value
    return "remote" if _cluster.value is not None else "process"


def execution_was_set_explicitly() -> bool:
    return _execution.source is not None


def execution_command_seen() -> bool:
    return _execution_command_seen


# --- persistent -----------------------------------------------------------------------------
def select_persistent(persistent: bool, source: str = "manual", where: tuple[str, int | None] | None = None) -> None:
    global _persistent
    _check_source(source)
    if not isinstance(persistent, bool):
        raise ConfigurationError(f"persistent must be a boolean (true or false), not {persistent!r}")
    _persistent = _Sourced(persistent, source, where)


def get_persistent(cluster: str | None = None) -> bool:
    """The explicit value, else true exactly when a cluster is given or selected."""
    if _persistent.source is not None:
        return _persistent.value
    return bool(cluster or _cluster.value)


def persistent_was_set_explicitly() -> bool:
    return _persistent.source is not None


# --- queue ----------------------------------------------------------------------------------
def select_queue(queue: str, source: str = "manual", where: tuple[str, int | None] | None = None) -> None:
    global _queue, _queue_cluster
    _check_source(source)
    if not isinstance(queue, str):
        raise ConfigurationError("queue must be a string")
    cluster = _cluster.value
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
    _queue, _queue_cluster = _Sourced(queue, source, where), cluster


def get_queue(cluster: str | None = None) -> str | None:
    """The queue selected for ``cluster`` (default: the selected one), if it still exists."""
    cluster = cluster or _cluster.value
    if _queue.source is None or cluster is None or _queue_cluster != cluster:
        return None
    clusters = get_clusters()
    if cluster not in clusters or _queue.value not in clusters[cluster].queues:
        return None
    return _queue.value


def resolve_queue(cluster: str, queue: str | None = None) -> str:
    """``queue``, else the selected queue, else the cluster's default queue."""
    definition = get_cluster(cluster)
    name = queue or get_queue(cluster) or definition.default_queue
    if name is None:
        raise ConfigurationError(
            f"No queue selected and cluster '{cluster}' has no default queue; add a 'queue' command "
            f"(one of: {', '.join(definition.queues) or 'none defined'}) or 'default_queue' to the cluster"
        )
    if name not in definition.queues:
        raise ConfigurationError(f"Cluster '{cluster}' has no queue '{name}'; its queues are: {', '.join(definition.queues) or 'none'}")
    return name


# --- remote ---------------------------------------------------------------------------------
def select_remote(remote: str | None, source: str = "manual", where: tuple[str, int | None] | None = None) -> None:
    global _remote
    _check_source(source)
    if remote is not None and not isinstance(remote, str):
        raise ConfigurationError("remote must be a string or null")
    if remote not in REMOTE_TARGETS:
        raise ConfigurationError(f"remote must be one of: None, daskserver, jobserver, not {remote!r}")
    _remote = _Sourced(remote, source, where)


def get_remote() -> str | None:
    return _remote.value


def check_remote_redundancy(cluster: str) -> str | None:
    """The remote target for ``cluster``: the selected one, else the only kind its frontends offer."""
    if _remote.value is not None:
        return _remote.value
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
def _reset_if_command(sourced: _Sourced) -> _Sourced:
    return _Sourced() if sourced.source == "command" else sourced


def reset_execution_before_load() -> None:
    global _execution, _execution_command_seen
    _execution = _reset_if_command(_execution)
    _execution_command_seen = False


def reset_persistent_before_load() -> None:
    global _persistent
    _persistent = _reset_if_command(_persistent)


def reset_queue_before_load() -> None:
    global _queue, _queue_cluster
    _queue = _reset_if_command(_queue)
    if _queue.source is None:
        _queue_cluster = None


def reset_remote_before_load() -> None:
    global _remote
    _remote = _reset_if_command(_remote)


def reset_selection_before_load() -> None:
    """Cluster, project and subproject set by commands are re-read at each load too."""
    global _cluster, _project, _subproject
    _cluster, _project, _subproject = (_reset_if_command(x) for x in (_cluster, _project, _subproject))


def reset_before_load() -> None:
    reset_selection_before_load()
    reset_execution_before_load()
    reset_persistent_before_load()
    reset_queue_before_load()
    reset_remote_before_load()


def get_current(
    cluster: str | None = None,
    project: str | None = None,
    subproject: str | None = None,
    stage: str | None = None,
    substage: str | None = None,
) -> tuple[str, str, str | None, str | None, str | None]:
    """Fill missing arguments from the selection; cluster and project are required."""
    cluster = cluster or _cluster.value
    if cluster is None:
        raise ConfigurationError("No cluster defined")
    project = project or _project.value
    if project is None:
        raise ConfigurationError("No project defined; add a 'project' command to seamless.yaml")
    return cluster, project, subproject or _subproject.value, stage or _stage, substage or _substage


# --- explaining the selection ---------------------------------------------------------------
def explain_setting(setting: str) -> dict[str, Any]:
    """The value of ``setting`` and where it comes from, for ``seamless-config explain``.

    ``source`` is ``command`` (with ``file`` and ``line``), ``python`` (a ``select_*`` call) or
    ``default`` (with ``why``: the rule of the getter above that gave the value).
    """
    sourced = _sourced(setting)
    if sourced.source is not None and not (setting == "queue" and get_queue() is None):
        file, line = sourced.where if sourced.where is not None else (None, None)
        source = "command" if sourced.source == "command" else "python"
        return {"value": sourced.value, "source": source, "file": file, "line": line}
    value, why = _default(setting)
    return {"value": value, "source": "default", "why": why}


def _default(setting: str) -> tuple[Any, str]:
    cluster = _cluster.value
    because = f"cluster '{cluster}' is selected" if cluster is not None else "no cluster is selected"
    if setting == "cluster":
        return None, "no 'cluster' command: transformations run on this machine, nothing is launched"
    if setting == "execution":
        return get_execution(), f"no 'execution' command, and {because}"
    if setting == "persistent":
        return get_persistent(), f"no 'persistent' command, and {because}"
    if setting == "queue":
        if cluster is None:
            return None, "no cluster is selected"
        try:
            return resolve_queue(cluster), f"no 'queue' command: the default queue of cluster '{cluster}'"
        except ConfigurationError as exc:  # only the Dask modes need a queue: theirs raise it
            return None, exc.reason
    if setting == "remote":
        if cluster is None or get_execution() != "remote":
            return None, "execution is not 'remote'"
        remote = check_remote_redundancy(cluster)
        offered = "the only kind of remote service" if remote else "no remote service"
        return remote, f"no 'remote' command: {offered} that cluster '{cluster}' offers"
    return None, f"no '{setting}' command"
