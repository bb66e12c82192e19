"""Cluster definitions: the schema, TEMPLATE queues, the embedded ``local`` cluster, the registry.

Definitions come from ``~/.seamless/clusters.yaml``, ``~/.seamless/clusters/*.yaml`` (sorted)
and inline ``clusters`` commands; :func:`define_clusters` turns the merged mapping into
:class:`Cluster` objects. A ``type: local`` cluster needs no hostname, no queue and no
``local_cluster`` key: it launches on this machine with one worker per core by default.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Mapping, TypeVar

from seamless_service import queue_parameters
from seamless_service.queue_parameters import BATCH_TYPES

from .errors import ConfigurationError
from .located_yaml import where
from .names import validate_name
from .schema import Field, require, validate_section

#: cluster type -> the ``MODULE::SYMBOL`` the Dask wrapper instantiates for it
CLUSTER_STRINGS = {
    "local": "distributed::LocalCluster",
    "slurm": "dask_jobqueue::SLURMCluster",
    "oar": "dask_jobqueue::OARCluster",
    "pbs": "dask_jobqueue::PBSCluster",
    "sge": "dask_jobqueue::SGECluster",
    "lsf": "dask_jobqueue::LSFCluster",
    "htcondor": "dask_jobqueue::HTCondorCluster",
}
CLUSTER_TYPES = ("local", *BATCH_TYPES)
SERVICES = ("hashserver", "database", "jobserver", "daskserver")
LOCAL_CLUSTER_NAME = "local"
DEFAULT_QUEUE_NAME = "default"
DEFAULT_NETWORK_INTERFACE = "127.0.0.1"
DEFAULT_TIMEOUT = 600
#: Port ranges used when a service section gives none.
DEFAULT_PORTS = {
    "hashserver": (60100, 60199),
    "database": (60200, 60299),
    "daskserver": (60300, 60399),
    "jobserver": (60400, 60499),
}

_SERVICE_COMMON = {
    "network_interface": Field("host", "address the service binds to; default 127.0.0.1"),
    "port_start": Field("port", "first port of the range the service may use"),
    "port_end": Field("port", "last port of the range the service may use"),
    "timeout": Field("int", "seconds of inactivity after which the service stops; default 600"),
}
_CONDA = {"conda": Field("str", "conda environment the service runs in (optional)")}
SERVICE_FIELDS: dict[str, dict[str, Field]] = {
    "hashserver": {"bufferdir": Field("path", "directory holding the buffers, on the frontend ('~' is its home)", True), **_CONDA, **_SERVICE_COMMON},
    "database": {"database_dir": Field("path", "directory holding seamless.db, on the frontend ('~' is its home)", True), **_CONDA, **_SERVICE_COMMON},
    "jobserver": {**_CONDA, **_SERVICE_COMMON},
    "daskserver": dict(_SERVICE_COMMON),
}
FRONTEND_FIELDS: dict[str, Field] = {
    "hostname": Field("host", "login node that runs the services, reached over SSH"),
    "ssh_hostname": Field("host", "name to give to ssh when it differs from hostname"),
    **{s: Field("section", f"{s} settings") for s in SERVICES},
}
CLUSTER_FIELDS: dict[str, Field] = {
    "type": Field("str", "one of: " + ", ".join(CLUSTER_TYPES)),
    "tunnel": Field("bool", "forward service ports through an SSH tunnel"),
    "tls": Field("bool", "mutual TLS on every service (default true); false only where the network is otherwise isolated"),
    "frontends": Field("list", "list of frontends (login nodes)"),
    "workers": Field("int", "number of workers (local: default number of cores)"),
    "memory_per_core_property_name": Field(
        queue_parameters.BY_PARAMETER["memory_per_core_property_name"].grammar,
        "OAR property giving memory per core", types=("oar",),
    ),
    "queues": Field("section", "mapping of queue name to queue definition"),
    "default_queue": Field("str", "queue used when no 'queue' command is given"),
}


@dataclass(frozen=True)
class QueueField(Field):
    """A queue key: also the seamless-dask-wrapper parameter it becomes (None = not passed on)
    and the cluster types whose queues must give it."""

    parameter: str | None = None
    #: cluster types whose queues must give it
    required_for: tuple[str, ...] = ()


FieldT = TypeVar("FieldT", bound=Field)
#: derived from the one table of queue parameters (seamless_service.queue_parameters)
QUEUE_FIELDS: dict[str, QueueField] = {
    p.key: QueueField(p.grammar, p.help, types=p.types, parameter=p.parameter, required_for=p.required_for)
    for p in queue_parameters.QUEUE_PARAMETERS
    if p.key is not None
}
#: queue key -> wrapper parameter, for the keys passed on to seamless-dask-wrapper
QUEUE_PARAMETERS = queue_parameters.KEY_TO_PARAMETER


def fields_for(fields: Mapping[str, FieldT], ctype: str | None) -> dict[str, FieldT]:
    """The keys of a section that apply to a cluster type (all of them for a cluster without type)."""
    return {n: f for n, f in fields.items() if ctype is None or f.types is None or ctype in f.types}


def queue_fields(ctype: str | None) -> dict[str, QueueField]:
    """The queue keys of a cluster type."""
    return fields_for(QUEUE_FIELDS, ctype)


@dataclass(frozen=True)
class Service:
    """A service section of a frontend (hashserver, database, jobserver, daskserver)."""

    kind: str
    network_interface: str = DEFAULT_NETWORK_INTERFACE
    port_start: int = 0
    port_end: int = 0
    timeout: int = DEFAULT_TIMEOUT
    conda: str | None = None
    bufferdir: str | None = None
    database_dir: str | None = None


@dataclass(frozen=True)
class Frontend:
    hostname: str | None
    ssh_hostname: str | None
    services: dict[str, Service]


@dataclass(frozen=True)
class Queue:
    """A queue: the resources of one kind of worker job. Unset fields are None."""

    name: str
    values: dict[str, Any]

    def __getattr__(self, item: str) -> Any:
        if item in QUEUE_FIELDS:
            return self.values.get(item)
        raise AttributeError(item)


@dataclass(frozen=True)
class Cluster:
    name: str
    type: str | None
    tunnel: bool
    frontends: list[Frontend]
    workers: int | None
    memory_per_core_property_name: str | None
    queues: dict[str, Queue] = field(default_factory=dict)
    default_queue: str | None = None
    is_local_cluster: bool = False  # launches on this machine whatever its hostname says
    #: mutual TLS with the user's credentials on every service; ``tls: false`` opts out
    tls: bool = True

    def frontends_with(self, service: str) -> list[Frontend]:
        return [f for f in self.frontends if service in f.services]


def _parse_service(kind: str, data: Any, what: str, context: Any) -> Service:
    values = validate_section(data or {}, SERVICE_FIELDS[kind], f"{what} {kind}", context=context)
    require(values, [n for n, f in SERVICE_FIELDS[kind].items() if f.required], f"{what} {kind}", data)
    start, end = values.get("port_start"), values.get("port_end")
    if (start is None) != (end is None):
        file, line = where(data)
        raise ConfigurationError(f"{what} {kind}: give both port_start and port_end, or neither", file=file, line=line)
    if start is None or end is None:  # both None (checked above)
        start, end = DEFAULT_PORTS[kind]
    if start > end:
        file, line = where(data, "port_start")
        raise ConfigurationError(f"{what} {kind}: port_start {start} is above port_end {end}", file=file, line=line)
    return Service(
        kind=kind,
        network_interface=values.get("network_interface") or DEFAULT_NETWORK_INTERFACE,
        port_start=start,
        port_end=end,
        timeout=values.get("timeout") or DEFAULT_TIMEOUT,
        conda=values.get("conda"),
        # '~' stays: remote-http-launcher expands it on the frontend, whose home may differ from ours
        bufferdir=values.get("bufferdir"),
        database_dir=values.get("database_dir"),
    )


def _parse_frontend(data: Any, what: str, is_local_type: bool, context: Any) -> Frontend:
    values = validate_section(data, FRONTEND_FIELDS, what, context=context)
    if not is_local_type:
        require(values, ["hostname"], what, data, "only a 'type: local' cluster may omit it")
    services = {s: _parse_service(s, values[s], what, data) for s in SERVICES if s in values}
    return Frontend(hostname=values.get("hostname"), ssh_hostname=values.get("ssh_hostname"), services=services)


def _refuse_other_types_keys(data: Any, fields: Mapping[str, Field], ctype: str | None, what: str) -> None:
    """A key of other cluster types only: say so, and list the keys this type takes."""
    if not isinstance(data, Mapping):
        return
    own = fields_for(fields, ctype)
    for raw_key in data:
        key = raw_key.replace("-", "_") if isinstance(raw_key, str) else raw_key
        if key in fields and key not in own:
            file, line = where(data, raw_key)
            types = ", ".join(fields[key].types or ())
            raise ConfigurationError(
                f"{what}: key {raw_key!r} does not apply to a '{ctype}' cluster (only to: {types}); "
                f"valid keys for '{ctype}' are: {', '.join(sorted(own))}",
                file=file,
                line=line,
            )


def _parse_queues(cname: str, data: Any, ctype: str | None, workers: int | None) -> dict[str, Queue]:
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        file, line = where(data)
        raise ConfigurationError(f"cluster '{cname}': 'queues' must be a mapping of queue name to definition", file=file, line=line)
    queues: dict[str, Queue] = {}
    for qname, qdata in data.items():
        what = f"cluster '{cname}' queue '{qname}'"
        try:
            validate_name("queue", qname)
        except ConfigurationError as exc:
            file, line = where(data, qname)
            raise ConfigurationError(f"cluster '{cname}': {exc.reason}", file=file, line=line) from None
        _refuse_other_types_keys(qdata, QUEUE_FIELDS, ctype, what)
        written = validate_section(qdata, queue_fields(ctype), what, normalise_hyphens=True, context=data)
        template = written.pop("TEMPLATE", None)
        if template is not None:
            if template not in queues:
                file, line = where(qdata, "TEMPLATE")
                known = ", ".join(queues) or "none yet"
                raise ConfigurationError(
                    f"{what}: cannot use unknown queue '{template}' as TEMPLATE (queues defined above it: {known})",
                    file=file,
                    line=line,
                )
            values = dict(queues[template].values)
            values.update(written)  # only what the child wrote; an explicit null unsets
        else:
            values = written
        values = {k: v for k, v in values.items() if v is not None}
        if ctype == "local":
            values.setdefault("cores", workers or os.cpu_count() or 1)
            values.setdefault("maximum_jobs", workers or os.cpu_count() or 1)
        elif ctype is not None:
            required = [n for n, f in QUEUE_FIELDS.items() if ctype in f.required_for]
            require(values, required, what, qdata, f"a '{ctype}' queue needs them")
        queues[qname] = Queue(qname, values)
    if not queues and ctype == "local":
        n = workers or os.cpu_count() or 1
        queues[DEFAULT_QUEUE_NAME] = Queue(DEFAULT_QUEUE_NAME, {"cores": n, "maximum_jobs": n})
    return queues


def parse_cluster(name: str, data: Any, *, is_local_cluster: bool = False, context: Any = None) -> Cluster:
    """Validate one cluster definition."""
    try:
        validate_name("cluster", name)
    except ConfigurationError as exc:
        file, line = where(context, name) if context is not None else where(data)
        raise ConfigurationError(exc.reason, file=file, line=line) from None
    what = f"cluster '{name}'"
    values = validate_section(data, CLUSTER_FIELDS, what, context=context)
    ctype = values.get("type")
    if ctype is not None and ctype not in CLUSTER_TYPES:
        file, line = where(data, "type")
        raise ConfigurationError(f"{what}: unknown type {ctype!r}; valid types are: {', '.join(CLUSTER_TYPES)}", file=file, line=line)
    _refuse_other_types_keys(data, CLUSTER_FIELDS, ctype, what)
    raw_frontends = values.get("frontends")
    if raw_frontends is None:
        if ctype != "local":
            require(values, ["frontends"], what, data, "only a 'type: local' cluster may omit it")
        raw_frontends = [{"daskserver": None}]
    if not isinstance(raw_frontends, list) or not raw_frontends:
        file, line = where(data, "frontends")
        raise ConfigurationError(f"{what}: 'frontends' must be a non-empty list of frontend mappings", file=file, line=line)
    frontends = [
        _parse_frontend(fd, f"{what} frontend {i + 1}", ctype == "local", raw_frontends)
        for i, fd in enumerate(raw_frontends)
    ]
    workers = values.get("workers")
    queues = _parse_queues(name, values.get("queues"), ctype, workers)
    default_queue = values.get("default_queue")
    if default_queue is not None and default_queue not in queues:
        file, line = where(data, "default_queue")
        raise ConfigurationError(
            f"{what}: default_queue '{default_queue}' is not one of its queues ({', '.join(queues) or 'none'})",
            file=file,
            line=line,
        )
    if default_queue is None and len(queues) == 1:
        default_queue = next(iter(queues))
    elif default_queue is None and DEFAULT_QUEUE_NAME in queues:
        default_queue = DEFAULT_QUEUE_NAME
    return Cluster(
        name=name,
        type=ctype,
        tunnel=bool(values.get("tunnel", False)),
        frontends=frontends,
        workers=workers,
        memory_per_core_property_name=values.get("memory_per_core_property_name"),
        queues=queues,
        default_queue=default_queue,
        is_local_cluster=is_local_cluster,
        tls=bool(values.get("tls", True)),
    )


def embedded_local_definition() -> dict[str, Any]:
    """The cluster ``local`` that is always there unless the user defines one of that name."""
    return {
        "type": "local",
        "frontends": [
            {
                "daskserver": {},
                "hashserver": {"bufferdir": "~/.seamless/buffers"},
                "database": {"database_dir": "~/.seamless/database"},
            }
        ],
    }


_clusters: dict[str, Cluster] = {}
_local_cluster_name: str | None = None


def define_clusters(raw: Mapping[str, Any]) -> dict[str, Cluster]:
    """Replace the registry with the clusters of ``raw`` (plus the embedded ``local``)."""
    global _clusters, _local_cluster_name
    if not isinstance(raw, Mapping):
        file, line = where(raw)
        raise ConfigurationError("cluster definitions must be a mapping of cluster name to definition", file=file, line=line)
    local_name = raw.get("local_cluster")
    if local_name is not None and (not isinstance(local_name, str) or local_name not in raw):
        file, line = where(raw, "local_cluster")
        raise ConfigurationError(f"'local_cluster' names an undefined cluster {local_name!r}", file=file, line=line)
    clusters: dict[str, Cluster] = {}
    for name, data in raw.items():
        if name == "local_cluster":
            continue
        if not isinstance(name, str):
            file, line = where(raw, name)
            raise ConfigurationError(f"cluster names must be strings, not {name!r}", file=file, line=line)
        clusters[name] = parse_cluster(name, data, is_local_cluster=(name == local_name), context=raw)
    if LOCAL_CLUSTER_NAME not in clusters:
        clusters[LOCAL_CLUSTER_NAME] = parse_cluster(LOCAL_CLUSTER_NAME, embedded_local_definition())
    _clusters, _local_cluster_name = clusters, local_name
    return clusters


def get_clusters() -> dict[str, Cluster]:
    if not _clusters:
        define_clusters({})
    return dict(_clusters)


def get_cluster(name: str) -> Cluster:
    clusters = get_clusters()
    if name not in clusters:
        raise ConfigurationError(f"Unknown cluster '{name}'; defined clusters: {', '.join(sorted(clusters))}")
    return clusters[name]


def get_local_cluster_name() -> str | None:
    return _local_cluster_name
