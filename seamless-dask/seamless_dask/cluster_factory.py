"""Load the Dask configuration, resolve the cluster string and start the cluster.

Only this module imports Dask, and only inside :func:`apply_dask_config`, after the
configuration was computed: ``import dask`` -> merge the jobqueue then the Dask config ->
check ``distributed`` is not imported yet -> import it (reference D.3), so the wrapper's
settings win over site and user Dask config.
"""

from __future__ import annotations

import importlib
import inspect
import logging
import sys
from dataclasses import dataclass
from typing import Any

from .configuration import ClusterConfiguration, nested
from .distributed_adapter import protect_dashboard, require_client_certificates_over_https
from .errors import WrapperError

logger = logging.getLogger(__name__)


def apply_dask_config(cfg: ClusterConfiguration) -> None:
    """Import Dask and load ``cfg`` into its global config, before ``distributed`` is imported."""
    if "distributed" in sys.modules:
        raise AssertionError("distributed was imported before the wrapper configured Dask")
    from seamless_service.c_yaml import c_safe_load

    with c_safe_load():  # their default configuration files parsed by libyaml: ~40 ms sooner up
        import dask.config

        dask.config.update(dask.config.config, {"jobqueue": cfg.jobqueue}, priority="new")
        dask.config.update(dask.config.config, nested(cfg.dask), priority="new")
        assert "distributed" not in sys.modules, "distributed imported while configuring Dask"
        import distributed  # noqa: F401  (reads the config at import)


def reload_jobqueue_config(cfg: ClusterConfiguration) -> None:
    """Load a new jobqueue config (other scheduler/dashboard ports) after Dask was imported."""
    import dask.config

    dask.config.update(dask.config.config, {"jobqueue": cfg.jobqueue}, priority="new")


@dataclass
class ClusterSpec:
    """What the cluster string names, split and looked up."""

    module: str
    symbol: str
    target: Any


def resolve_cluster_string(cluster_string: str) -> ClusterSpec:
    """``MODULE::SYMBOL`` -> the object; clear errors for a bad form, module or symbol."""
    module_name, sep, symbol = cluster_string.partition("::")
    if not sep or not module_name or not symbol:
        raise WrapperError(
            f"Cluster string must be of the form 'MODULE::SYMBOL' "
            f"(e.g. dask_jobqueue::SLURMCluster), not {cluster_string!r}"
        )
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise WrapperError(f"Cluster string {cluster_string!r}: cannot import {module_name!r}: {exc}") from None
    try:
        target = getattr(module, symbol)
    except AttributeError:
        raise WrapperError(f"Cluster string {cluster_string!r}: module {module_name!r} has no {symbol!r}") from None
    return ClusterSpec(module_name, symbol, target)


def _is_local(cls: type) -> bool:
    from distributed import LocalCluster

    return issubclass(cls, LocalCluster)


def create_cluster(spec: ClusterSpec, cfg: ClusterConfiguration) -> Any:
    """Instantiate (or call, or take) what the cluster string names; it must be a Cluster."""
    from distributed.deploy import Cluster

    target = spec.target
    name = f"{spec.module}::{spec.symbol}"
    if inspect.isclass(target) and issubclass(target, Cluster):
        if _is_local(target):
            import dask.config

            from .local_workers import START_METHOD, start_forkserver

            start_forkserver()  # a fork of the wrapper: it runs no thread yet (see wrapper.main)
            dask.config.set({"distributed.worker.multiprocessing-method": START_METHOD})
            # workers are added by start_scaling, in the background (see there)
            return protect_dashboard(target(**cfg.local_cluster_kwargs, **_tls_kwargs(cfg)))
        _check_job_parameters(cfg, getattr(getattr(target, "job_cls", None), "config_name", None))
        _check_oar(target)
        return protect_dashboard(target(**_tls_kwargs(cfg)))
    if isinstance(target, Cluster):
        cluster = target
    elif callable(target) and not inspect.isclass(target):
        cluster = target()
        if not isinstance(cluster, Cluster):
            raise WrapperError(f"{name}() returned {type(cluster).__name__}, not a Dask Cluster")
    else:
        raise WrapperError(
            f"Cluster symbol {name} must be a Cluster instance, class or function, "
            f"not {type(target).__name__}"
        )
    if _is_local(type(cluster)):
        raise WrapperError(
            f"{name} is a ready-made LocalCluster; name the class (distributed::LocalCluster) so "
            "the wrapper can give it the ports and workers from the parameters"
        )
    return cluster


def _tls_kwargs(cfg: ClusterConfiguration) -> dict[str, Any]:
    """``tls://`` and the Security of the service certificate (read from the Dask config)."""
    if not cfg.tls:
        return {}
    from distributed import Security

    require_client_certificates_over_https()
    # a plain Security (paths from the Dask config): the nannies send it to their workers
    return {"protocol": "tls://", "security": Security()}


def _check_job_parameters(cfg: ClusterConfiguration, system: str | None) -> None:
    """The parameters fit the batch system: its required ones given, none of another's."""
    problem = cfg.job_problems.get(system or "")
    if problem:
        raise WrapperError(problem)


def _check_oar(cls: type) -> None:
    import dask.config

    if getattr(getattr(cls, "job_cls", None), "config_name", None) == "oar" and not (
        dask.config.get("jobqueue.oar.memory-per-core-property-name", None)
    ):
        raise WrapperError(
            "An OAR cluster needs the parameter 'memory_per_core_property_name' (e.g. memcore, "
            "or not_applicable when the cluster has no such property)"
        )


def batch_system_of(cluster: Any) -> str | None:
    """The jobqueue config name of a job-queue cluster (``slurm``, ``oar``...), else None."""
    job_cls = getattr(cluster, "job_cls", None)
    return getattr(job_cls, "config_name", None)


def start_scaling(cluster: Any, cfg: ClusterConfiguration) -> None:
    """Job-queue clusters: optional minimum first, then adaptive scaling. Local: fixed workers.

    A LocalCluster is created without workers and asked for them here without waiting: the
    scheduler can be announced while its worker processes start, and a client that connects
    meanwhile simply waits for them (its first result comes ~0.25 s sooner on a cold start).
    """
    if batch_system_of(cluster) is None:
        if _is_local(type(cluster)):
            cluster.scale(cfg.adapt["maximum_jobs"])
        return
    adapt = cfg.adapt
    if adapt["minimum_jobs"] > 0:
        cluster.scale(jobs=adapt["minimum_jobs"])
    logger.info("adaptive scaling (stock Adaptive): %s", adapt)
    cluster.adapt(**adapt)
