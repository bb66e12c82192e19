"""tools.yaml and the ``configure_*`` functions that turn the selection into launch dicts.

A launch dict is plain data for ``remote_http_launcher.run``; nothing here launches anything.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from seamless_service.queue_parameters import PURE_DEFAULT_WORKER_THREADS, default

from . import select
from .cluster import CLUSTER_STRINGS, QUEUE_PARAMETERS, Cluster, Frontend, Service, get_cluster
from .errors import ConfigurationError
from .names import escape_key_part

_TOKEN = re.compile(r"\$[A-Za-z_][A-Za-z0-9_]*")
_KEY = re.compile(r"[A-Za-z0-9._-]{1,255}")
_tools: dict[str, dict[str, Any]] | None = None


def define_tools(tools: dict[str, Any]) -> None:
    """Check and install tool entries (normally those of the packaged tools.yaml)."""
    global _tools
    for name, entry in tools.items():
        for part in ("ADDED", "INJECTED"):
            value = entry.get(part)
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigurationError(f"tools.yaml: {name}: {part} must be a list of strings")
    _tools = tools


def get_tools() -> dict[str, dict[str, Any]]:
    if _tools is None:
        import yaml

        text = (Path(__file__).parent / "tools.yaml").read_text()
        define_tools(yaml.load(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))  # libyaml: ~25 ms less
    assert _tools is not None
    return _tools


def _substitute(template: str, injected: dict[str, Any]) -> str:
    return _TOKEN.sub(lambda m: str(injected[m.group(0)[1:]]), template)


def configure_tool(tool: str, added: dict[str, Any], injected: dict[str, Any]) -> dict[str, Any]:
    """Fill a tool entry: check ADDED/INJECTED, substitute templates, drop null values."""
    entry = get_tools()[tool]
    for key in entry["ADDED"]:
        if key not in added:
            raise ValueError(f'"{key}" must be added')
    for key in entry["INJECTED"]:
        if key not in injected:
            raise ValueError(f'"{key}" must be injected')
    result: dict[str, Any] = {}
    for key, value in entry.items():
        if key in ("ADDED", "INJECTED"):
            continue
        if key.endswith("_template"):
            result[key[: -len("_template")]] = _substitute(value, injected)
        else:
            result[key] = value
    result.update(added)
    key = result.get("key")
    if not isinstance(key, str) or not _KEY.fullmatch(key):
        # remote-http-launcher evaluates the key as an f-string: only plain characters may reach it
        raise ConfigurationError(f"{tool}: launcher key {key!r} holds characters other than A-Z a-z 0-9 . _ -")
    if not result.get("tunnel"):
        result.pop("tunnel", None)
    return {k: v for k, v in result.items() if v is not None}


def _pick_frontend(cluster: Cluster, service: str, frontend_name: str | None) -> tuple[Frontend, Service]:
    for frontend in cluster.frontends_with(service):
        if frontend_name is None or frontend_name in (frontend.hostname, frontend.ssh_hostname):
            return frontend, frontend.services[service]
    named = f" with name '{frontend_name}'" if frontend_name else ""
    raise ConfigurationError(f"No frontend of cluster '{cluster.name}'{named} can support a {service}")


def _tls_flag(cluster: Cluster) -> str:
    """The TLSFLAG template value: nothing (TLS, the default) or the services' ``--no-tls``."""
    return "" if cluster.tls else " --no-tls"


def _placement(cluster: Cluster, frontend: Frontend, service: Service) -> dict[str, Any]:
    """Where and how a service runs: host (None = this machine), interface, ports, timeout."""
    local = cluster.is_local_cluster or frontend.hostname is None
    return {
        "hostname": None if local else frontend.hostname,
        "ssh_hostname": None if local else frontend.ssh_hostname,
        "tunnel": False if local else cluster.tunnel,
        "network_interface": service.network_interface,
        "port_start": service.port_start,
        "port_end": service.port_end,
        "timeout": service.timeout,
    }


def _meta(service: str, cluster: str, **extra: Any) -> dict[str, Any]:
    """RHL's ``meta`` of a launch: what it is, and whether its clients must speak TLS (``tls``)."""
    meta: dict[str, Any] = {"service": service, "cluster": cluster, "tls": get_cluster(cluster).tls}
    meta.update({k: v for k, v in extra.items() if v is not None})
    return meta


def dask_file_parameters(cluster: Cluster, queue: str, *, pure: bool) -> dict[str, Any]:
    """The wrapper parameters of ``queue``: its resources, plus the pure-mode markers."""
    values = cluster.queues[queue].values
    params = {param: values[field] for field, param in QUEUE_PARAMETERS.items() if values.get(field) is not None}
    if cluster.memory_per_core_property_name:
        params["memory_per_core_property_name"] = cluster.memory_per_core_property_name
    params.setdefault("interactive", default("interactive"))
    if "maximum_jobs" not in params and cluster.workers:
        params["maximum_jobs"] = cluster.workers
    if pure:
        params["pure_dask"] = True
        params.setdefault("worker_threads", PURE_DEFAULT_WORKER_THREADS)
    return params


def _cluster_string(cluster: Cluster) -> str:
    if cluster.type not in CLUSTER_STRINGS:
        raise ConfigurationError(
            f"Cluster '{cluster.name}' needs a 'type' ({', '.join(CLUSTER_STRINGS)}) to run a Dask server, not {cluster.type!r}"
        )
    return CLUSTER_STRINGS[cluster.type]


def _dask_added(cluster: str, queue: str, frontend_name: str | None, *, pure: bool, meta: dict[str, Any]) -> dict[str, Any]:
    """The ADDED values of both Dask tools: placement, cluster string, queue resources."""
    definition = get_cluster(cluster)
    frontend, service = _pick_frontend(definition, "daskserver", frontend_name)
    added = _placement(definition, frontend, service)
    added.update(
        cluster_string=_cluster_string(definition),
        conda=definition.queues[queue].conda,
        file_parameters=dask_file_parameters(definition, queue, pure=pure),
        meta=meta,
    )
    return added


def configure_pure_daskserver(
    *, cluster: str | None = None, queue: str | None = None, frontend_name: str | None = None
) -> dict[str, Any]:
    """Launch dict of the pure-Dask scheduler for (cluster, queue); needs no project or stage."""
    cluster = cluster or select.get_selected_cluster()
    if cluster is None:
        raise ConfigurationError("No cluster defined; add '- cluster: <name>' to seamless.profile.yaml")
    queue = select.resolve_queue(cluster, queue)
    added = _dask_added(cluster, queue, frontend_name, pure=True, meta=_meta("pure-daskserver", cluster, queue=queue))
    return configure_tool(
        "pure_daskserver", added,
        {"CLUSTER": escape_key_part(cluster), "QUEUE": escape_key_part(queue), "TLSFLAG": _tls_flag(get_cluster(cluster))},
    )


# --- persistent-mode tools (project/stage-scoped) ------------------------------------------
def _scope() -> tuple[str, dict[str, Any]]:
    """Key suffix and path parts for the current project/stage."""
    cluster, project, subproject, stage, substage = select.get_current()
    projectsubdir = f"/{project}" + (f"/{subproject}" if subproject else "")
    stagedir = f"/STAGE-{stage}" if stage else ""
    stagesubdir = stagedir + (f"SUBSTAGE-{substage}" if substage else "")
    keysuffix = (projectsubdir + stagesubdir).strip("/").replace("/", "--")
    meta = dict(project=project, subproject=subproject, stage=stage, substage=substage)
    return cluster, {"PROJECTSUBDIR": projectsubdir, "STAGEDIR": stagedir, "KEYSUFFIX": keysuffix, "meta": meta}


def _check_mode(mode: str) -> str:
    if mode not in ("ro", "rw"):
        raise ConfigurationError(f"mode must be 'ro' or 'rw', not {mode!r}")
    return mode


def _configure_storage(tool: str, dirfield: str, inject_name: str, mode: str, frontend_name: str | None) -> dict[str, Any]:
    cluster, scope = _scope()
    definition = get_cluster(cluster)
    frontend, service = _pick_frontend(definition, tool, frontend_name)
    added = _placement(definition, frontend, service)
    added.update(conda=service.conda, meta=_meta(tool, cluster, mode=_check_mode(mode), **scope["meta"]))
    injected = {
        "CLUSTER": escape_key_part(cluster),
        "MODE": mode,
        inject_name: getattr(service, dirfield),
        "PROJECTSUBDIR": scope["PROJECTSUBDIR"],
        "STAGEDIR": scope["STAGEDIR"],
        "KEYSUFFIX": scope["KEYSUFFIX"],
        "WRITABLE": " --writable" if mode == "rw" else "",
        "TLSFLAG": _tls_flag(definition),
    }
    return configure_tool(tool, added, injected)


def configure_hashserver(mode: str = "rw", *, frontend_name: str | None = None) -> dict[str, Any]:
    return _configure_storage("hashserver", "bufferdir", "BUFFERDIR", mode, frontend_name)


def configure_database(mode: str = "rw", *, frontend_name: str | None = None) -> dict[str, Any]:
    return _configure_storage("database", "database_dir", "DATABASE_DIR", mode, frontend_name)


def configure_jobserver(*, file_parameters: dict[str, Any] | None = None, frontend_name: str | None = None) -> dict[str, Any]:
    """Launch dict of the jobserver; ``file_parameters`` are the remote clients it should use."""
    cluster, scope = _scope()
    definition = get_cluster(cluster)
    if not definition.workers:
        raise ConfigurationError(f"Cluster '{cluster}' needs 'workers' to run a jobserver")
    frontend, service = _pick_frontend(definition, "jobserver", frontend_name)
    added = _placement(definition, frontend, service)
    added.update(
        workers=definition.workers,
        conda=service.conda,
        file_parameters=file_parameters or {},
        meta=_meta("jobserver", cluster, **scope["meta"]),
    )
    return configure_tool(
        "jobserver", added,
        {"CLUSTER": escape_key_part(cluster), "KEYSUFFIX": scope["KEYSUFFIX"], "TLSFLAG": _tls_flag(definition)},
    )


def configure_daskserver(*, queue: str | None = None, frontend_name: str | None = None) -> dict[str, Any]:
    """Launch dict of the persistent-mode (Seamless) Dask server of the current project/stage."""
    cluster, scope = _scope()
    queue = select.resolve_queue(cluster, queue)
    meta = _meta("daskserver", cluster, queue=queue, **scope["meta"])
    added = _dask_added(cluster, queue, frontend_name, pure=False, meta=meta)
    return configure_tool(
        "daskserver", added,
        {"CLUSTER": escape_key_part(cluster), "KEYSUFFIX": scope["KEYSUFFIX"], "TLSFLAG": _tls_flag(get_cluster(cluster))},
    )
