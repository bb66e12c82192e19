"""What ``set_stage()`` would do, without doing it: the data of ``seamless-config explain``.

:func:`explain` reads the command files as ``set_stage()`` does (same loader, same checks, same
``ConfigurationError``s) and returns one plain document: the files read, each setting with its
source (from the selection's source tracking), the mode (``lifecycle.describe_mode``), and the
launch dict of each service that mode launches (``plan`` / ``tools.configure_*``) with the
state of whatever runs under its key. Nothing is launched, but the selection of this process is
loaded as by ``set_stage()`` (the CLI runs it in a process of its own). :func:`render` turns it
into text.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Callable, Mapping

from . import lifecycle, plan, select
from .cluster import get_cluster
from .command_files import cluster_file_paths, discover, load_config_files

#: What each mode does, in the words of lifecycle's table.
MODE_SUMMARIES = {
    "process": "transformations run in this process; nothing is launched",
    "spawn": "transformations run in a pool of local worker processes; nothing is launched",
    "pure-dask": "a Dask scheduler and its workers only; set_stage() returns a distributed.Client",
    "process-persistent": "transformations run in this process; results are kept by a hashserver and a database",
    "spawn-persistent": "transformations run in local worker processes; results are kept by a hashserver and a database",
    "remote-jobserver": "transformations run on a jobserver; results are kept by a hashserver and a database",
    "remote-daskserver": "transformations run on a Seamless Dask cluster; results are kept by a hashserver and a database",
}
_WORKERS = {"local": "on the same machine (LocalCluster)", "slurm": "in SLURM batch jobs", "oar": "in OAR batch jobs"}


def explain(stage: str | None = None, substage: str | None = None, *, workdir: str | os.PathLike | None = None,
            with_state: bool = True) -> dict[str, Any]:
    """The document; raises the ``ConfigurationError`` that ``set_stage(stage)`` would raise."""
    directory = str(Path(workdir or os.getcwd()).resolve())
    select.select_stage(stage)
    select.select_substage(substage)
    load_config_files(directory)
    files = [str(p) for p in cluster_file_paths()] + [str(p) for p, _ in discover(directory)]
    lifecycle._with_location(lifecycle.report_execution_requirements)
    mode = _located(lifecycle.describe_mode)
    settings = {name: select.explain_setting(name) for name in select.SETTINGS}
    launches = _located(lambda: plan.planned_launches(mode))
    services = [_service(service, what, config, with_state) for service, what, config in launches]
    return {
        "workdir": directory,
        "stage": stage,
        "substage": substage,
        "files": files,
        "settings": settings,
        "mode": mode,
        "mode_summary": MODE_SUMMARIES[mode],
        "services": services,
    }


def _located(action: Callable[[], Any]) -> Any:
    """``action()``; its ConfigurationError gets the command line behind it (as in set_stage)."""
    result: list[Any] = []
    lifecycle._with_location(lambda: result.append(action()))
    return result[0]


def _service(service: str, what: str, config: Mapping[str, Any], with_state: bool) -> dict[str, Any]:
    host = config.get("hostname")
    entry: dict[str, Any] = {
        "service": service,
        "what": what,
        "key": config["key"],
        "where": "this machine" if host is None else f"{host} over SSH" + (" (tunnelled)" if config.get("tunnel") else ""),
        "network_interface": config.get("network_interface"),
        "port_range": [config.get("port_start"), config.get("port_end")],
        "timeout": config.get("timeout"),
        "command": _command(config),
        "workdir": config.get("workdir"),
        "tls": bool((config.get("meta") or {}).get("tls")),
    }
    if "cluster_string" in config:
        definition = get_cluster(config["meta"]["cluster"])
        entry["workers"] = _WORKERS.get(definition.type or "", f"cluster type {definition.type}")
        entry["cluster_string"] = config["cluster_string"]
    elif "workers" in config:
        entry["workers"] = f"{config['workers']} worker processes next to it"
    if config.get("conda"):
        entry["conda"] = config["conda"]
    entry["parameters"] = dict(config.get("file_parameters") or {})
    late = plan.LAUNCH_TIME_PARAMETERS.get(service, ())
    if late:
        entry["given_at_launch"] = list(late)
    if with_state:
        entry["running"] = _running(config, ignore=late)
    return entry


def _command(config: Mapping[str, Any]) -> str | None:
    """The service's command line with the launch dict's values filled in, as the launcher does
    (``{status_file}``, which it chooses, stays)."""
    command = config.get("command")
    if command is None:
        return None
    return re.sub(r"\{(\w+)\}", lambda m: str(config.get(m.group(1), m.group(0))), command)


def _running(config: Mapping[str, Any], ignore: tuple[str, ...]) -> dict[str, Any]:
    """The state of the service under ``config``'s key, and whether set_stage() would reuse it."""
    from .launching import record_differences
    from .services_cli import probe, state_of

    state = state_of(config, probe(config))
    if state["state"] in ("running", "starting"):
        differences = record_differences(config)
        if differences is not None:
            differences = [d for d in differences if d.split(":", 1)[0].split(".", 1)[0] not in ignore]
        if differences:
            state["relaunch"] = differences
    return state


# --- text -------------------------------------------------------------------------------------


def _value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value).lower()
    return str(value)


def _source(setting: Mapping[str, Any]) -> str:
    if setting["source"] == "command":
        return f"{setting['file']}:{setting['line']}" if setting.get("line") else str(setting["file"])
    if setting["source"] == "python":
        return "set from Python (seamless_config.select)"
    return f"default: {setting['why']}"


def render(doc: Mapping[str, Any]) -> str:
    """The document as the text ``seamless-config explain`` prints."""
    stage = doc["stage"] or "(none)"
    lines = [f"Work directory: {doc['workdir']}", f"Stage: {stage}" + (f", substage {doc['substage']}" if doc["substage"] else "")]
    lines += ["", "Files read, in this order:"]
    lines += [f"  {i}. {f}" for i, f in enumerate(doc["files"], 1)] or ["  (none: every setting has its default)"]
    lines += ["", "Settings:"]
    width = max(len(_value(s["value"])) for s in doc["settings"].values())
    for name, setting in doc["settings"].items():
        lines.append(f"  {name:<11} {_value(setting['value']):<{width}}  {_source(setting)}")
    lines += ["", f"Mode: {doc['mode']}: {doc['mode_summary']}"]
    if not doc["services"]:
        lines += ["", "Services: none"]
    for service in doc["services"]:
        lines += ["", f"{service['what']} '{service['key']}'"]
        start, end = service["port_range"]
        rows = [
            ("runs on", service["where"]),
            ("workers", service.get("workers")),
            ("ports", f"{start}-{end} on {service['network_interface']}"),
            ("idle timeout", f"{service['timeout']} s"),
            ("security", "mutual TLS, the user's credentials" if service["tls"] else "none (the cluster says 'tls: false')"),
            ("command", service["command"]),
            ("directory", service["workdir"]),
            ("cluster class", service.get("cluster_string")),
            ("conda", service.get("conda")),
        ]
        params = service["parameters"]
        if params:
            rows.append(("parameters", ", ".join(f"{k}={_value(v)}" for k, v in params.items())))
        if service.get("given_at_launch"):
            rows.append(("at launch", "+ " + ", ".join(service["given_at_launch"]) + " (the hashserver's and database's URLs)"))
        if "running" in service:
            rows.append(("now", _running_text(service["running"])))
        lines += [f"  {label + ':':<18} {text}" for label, text in rows if text is not None]
    return "\n".join(lines) + "\n"


def _running_text(state: Mapping[str, Any]) -> str:
    text = state["state"]
    if state.get("pid") is not None:
        text += f" (pid {state['pid']})"
    if state.get("detail"):
        text += f": {state['detail']}"
    if state["state"] == "not running":
        text += "; set_stage() would start it"
    elif state.get("relaunch"):
        text += "; launched with other parameters, set_stage() would stop and relaunch it (" + "; ".join(state["relaunch"]) + ")"
    elif state["state"] in ("running", "starting"):
        text += "; set_stage() would connect to it"
    elif state["state"] in ("dead", "failed"):
        text += "; set_stage() would start it anew"
    return text
