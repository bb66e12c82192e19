"""``seamless-dask-wrapper``: hold a Dask cluster next to its scheduler for remote-http-launcher.

Sequence: read the status file's ``parameters`` -> validate them -> pick the ports -> compute
the whole configuration (pure, before Dask is imported) -> load it into Dask -> create the
cluster named by ``MODULE::SYMBOL`` -> start adaptive scaling -> write ``port``,
``dashboard_port``, ``health_port`` and ``status: running`` -> serve until idle for ``--timeout`` seconds or until
SIGTERM/SIGINT/SIGHUP -> close the cluster (its batch jobs are cancelled) -> delete the status
file (or mark it failed after an error).

Security: umask 077 and owner-only launcher files; unless ``--no-tls``, scheduler, workers,
nannies and clients speak mutual TLS with the user's credentials (``~/.seamless/tls``, created on
first use) and the dashboard requires a client certificate. ``health_port`` is plain HTTP that
only answers ``OK`` (remote-http-launcher's handshake).
"""

from __future__ import annotations

import argparse
import errno
import logging
import os
import shutil
import signal
import socket
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

from .batch_systems import BATCH_SYSTEMS
from .configuration import ClusterConfiguration, Placement, build_configuration
from .errors import WrapperError
from .parameters import PARAMETERS, parse_parameters
from .ports import pick_free_port
from seamless_service.ports import bind_free_port
from seamless_service.status_file import StatusFile, StatusFileError
from seamless_service.credentials import Credentials, CredentialError
from seamless_service.health import PORT_NAME as HEALTH_PORT_NAME
from seamless_service.health import HealthServer
from seamless_service.service_side import NO_TLS_FLAG, make_private, service_credentials

logger = logging.getLogger(__name__)


def build_parser() -> argparse.ArgumentParser:
    params = ", ".join(p.name for p in PARAMETERS)
    parser = argparse.ArgumentParser(
        prog="seamless-dask-wrapper",
        description="Start a Dask cluster and its scheduler, publish the ports in a "
        "remote-http-launcher status file, and stop after an idle timeout.",
        epilog=f"Parameters read from the status file's 'parameters' object: {params}.",
    )
    parser.add_argument(
        "cluster",
        help="MODULE::SYMBOL naming a Dask Cluster class (e.g. dask_jobqueue::SLURMCluster, "
        "distributed::LocalCluster), a Cluster instance or a function returning one",
    )
    parser.add_argument(
        "--port-range", nargs=2, type=int, required=True, metavar=("START", "END"),
        help="scheduler and dashboard ports are picked from START..END (inclusive); also the "
        "workers' ports unless the 'internal-port-range' parameter says otherwise",
    )
    parser.add_argument(
        "--status-file", required=True,
        help="JSON status file of remote-http-launcher: parameters are read from it, the ports "
        "and status are written into it",
    )
    parser.add_argument(
        "--host", default="127.0.0.1",
        help="interface the scheduler and dashboard bind to (default 127.0.0.1, loopback only; "
        "give the address of an interface the workers can reach when they run on other nodes)",
    )
    parser.add_argument(
        "--timeout", type=float, default=None,
        help="exit after this many seconds with no client connected and no task in the "
        "scheduler (default: never)",
    )
    parser.add_argument(
        NO_TLS_FLAG, dest="tls", action="store_false",
        help="plain TCP for scheduler, workers and clients (only where the network is isolated "
        "otherwise); default: mutual TLS with the user's credentials in ~/.seamless/tls",
    )
    return parser


class _Stop(SystemExit):
    """Raised by the signal handlers: a requested, clean stop."""


def _install_signal_handlers() -> None:
    def handler(signum: int, _frame: Any) -> None:
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)  # one stop is enough; let shutdown finish
        logger.info("received %s: shutting down", signal.Signals(signum).name)
        raise _Stop(0)

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, handler)


def _redirect_output(log_path: Any) -> None:
    """Append all output (ours, Dask's, subprocesses') to the status file's ``log``."""
    if not isinstance(log_path, str) or not log_path:
        return
    path = Path(log_path)
    try:
        if path.exists() and os.path.samestat(os.fstat(2), path.stat()):
            return  # the launcher already sends our stderr there
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    except OSError as exc:
        logger.warning("cannot write the log file %s: %s", path, exc)
        return
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    os.close(fd)


def _log_base(status: StatusFile, content: dict[str, Any]) -> str:
    """Prefix of the worker jobs' log files, next to the wrapper's log (or status file)."""
    log = content.get("log")
    base = Path(log) if isinstance(log, str) and log else status.path
    return str(base.with_suffix("")) + "-job"


def _check_cli(args: argparse.Namespace) -> None:
    start, end = args.port_range
    if not 0 < start <= end < 65536:
        raise WrapperError(f"--port-range must satisfy 0 < START <= END < 65536, not {start} {end}")
    if args.timeout is not None and args.timeout <= 0:
        raise WrapperError(f"--timeout must be a positive number of seconds, not {args.timeout:g}")


def configure(
    args: argparse.Namespace, status: StatusFile, content: dict[str, Any], creds: Credentials | None = None,
    exclude: frozenset[int] = frozenset(), scratch: str | None = None,
) -> tuple[ClusterConfiguration, Placement]:
    """CLI + status-file parameters -> configuration (Dask not imported yet).

    The scheduler and dashboard ports are picked from ``--port-range`` but not in ``exclude``
    (ports lost to another process in an earlier attempt).
    """
    _check_cli(args)
    params = parse_parameters(content.get("parameters"))
    start, end = args.port_range
    scheduler_port = pick_free_port(args.host, start, end, exclude=set(exclude))
    dashboard_port = pick_free_port(args.host, start, end, exclude={scheduler_port, *exclude})
    tls = tuple(str(p) for p in creds.files("service")) if creds is not None else None
    placement = Placement(
        host=args.host,
        scheduler_port=scheduler_port,
        dashboard_port=dashboard_port,
        internal_port_range=params.internal_port_range or (start, end),
        log_base=_log_base(status, content),
        default_python=sys.executable,
        conda_prefix=os.environ.get("CONDA_PREFIX"),
        tls=tls,  # type: ignore[arg-type]
        scratch=scratch,
    )
    cfg = build_configuration(params, placement)
    logger.info(
        "%s mode: %d worker process(es) per job x %d thread(s), at most %d job(s); "
        "scheduler %s:%d, dashboard %d",
        "pure Dask" if params.pure_dask else "persistent", cfg.processes, cfg.threads,
        params.maximum_jobs, args.host, scheduler_port, dashboard_port,
    )
    return cfg, placement


#: Cluster starts with other ports when another process bound a picked port first.
PORT_ATTEMPTS = 20


def _address_in_use(exc: BaseException | None) -> bool:
    """Whether ``exc`` or one of its causes is EADDRINUSE (Dask wraps it in RuntimeErrors)."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE:
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def _root_cause(exc: BaseException, clear: bool = False) -> str:
    """``Type: message`` of ``exc`` (just the message when ``clear``), plus its innermost cause."""
    text = str(exc) if clear else f"{type(exc).__name__}: {exc}"
    inner, seen = exc, {id(exc)}
    while (nxt := inner.__cause__ or inner.__context__) is not None and id(nxt) not in seen:
        seen.add(id(nxt))
        inner = nxt
    return text if inner is exc else f"{text} (cause: {type(inner).__name__}: {inner})"


def _ports_now_taken(host: str, ports: tuple[int, ...]) -> list[int]:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    taken = []
    for port in ports:
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            try:
                sock.bind((host, port))
            except OSError:
                taken.append(port)
    return taken


def create_on_free_ports(
    args: argparse.Namespace, status: StatusFile, content: dict[str, Any],
    cfg: ClusterConfiguration, placement: Placement, creds: Credentials | None = None,
) -> tuple[Any, ClusterConfiguration, Placement]:
    """Create the cluster; when another process took a picked port first, pick others and retry.

    Dask binds the scheduler and dashboard ports itself, some time after they were picked: on a
    shared login node another service may bind one in between. A taken scheduler port fails the
    start with EADDRINUSE; a taken dashboard port makes Dask listen on a random port, outside
    the range: both count as a lost race, at most :data:`PORT_ATTEMPTS` times.
    """
    from .cluster_factory import create_cluster, reload_jobqueue_config, resolve_cluster_string
    from .distributed_adapter import dashboard_port

    spec = resolve_cluster_string(args.cluster)
    lost: list[int] = []
    reason = ""
    for attempt in range(1, PORT_ATTEMPTS + 1):
        if attempt > 1:
            # not the ports just lost, even if free again; a port still taken fails the test bind
            cfg, placement = configure(args, status, content, creds, exclude=frozenset(lost), scratch=placement.scratch)
            reload_jobqueue_config(cfg)
        wanted = (placement.scheduler_port, placement.dashboard_port)
        try:
            cluster = create_cluster(spec, cfg)
        except Exception as exc:
            if not _address_in_use(exc):
                raise
            lost = _ports_now_taken(placement.host, wanted) or list(wanted)
        else:
            actual = dashboard_port(cluster)
            if actual is None or actual == placement.dashboard_port:
                return cluster, cfg, placement
            cluster.close(timeout=30)
            lost = [placement.dashboard_port]
        reason = "Address already in use on " + " and ".join(f"{placement.host}:{p}" for p in lost)
        logger.warning("%s (attempt %d of %d); trying other ports of the range", reason, attempt, PORT_ATTEMPTS)
    start, end = args.port_range
    raise WrapperError(f"{reason}: {PORT_ATTEMPTS} attempts with ports of {start}-{end} lost the race to other processes")


def _shutdown(cluster: Any, watcher: Any) -> None:
    if cluster is not None:
        try:
            cluster.close(timeout=30)
        except Exception:  # noqa: BLE001 - keep going: the jobs must still be cancelled
            logger.exception("closing the cluster failed")
    if watcher is not None:
        watcher.cancel_leftovers()


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s: %(message)s"
    )
    status = StatusFile(args.status_file)
    try:
        content = status.wait_and_read()
    except StatusFileError as exc:
        logger.error("%s", exc)
        return 1
    make_private(args.status_file, content.get("log"))
    _redirect_output(content.get("log"))
    _install_signal_handlers()

    cluster = watcher = health = health_socket = None
    error: str | None = None
    # LocalCluster workers' scratch space (spilled data): private, not the shared /tmp/dask-scratch-space
    scratch = tempfile.mkdtemp(prefix="seamless-dask-")
    try:
        try:
            creds = service_credentials(args.tls, "seamless-dask-wrapper")
            cfg, placement = configure(args, status, content, creds, scratch=scratch)
            port_start, port_end = args.port_range
            health_socket = bind_free_port(
                args.host, port_start, port_end, exclude={placement.scheduler_port, placement.dashboard_port}
            )
            from .cluster_factory import apply_dask_config, batch_system_of, start_scaling

            apply_dask_config(cfg)
            # no thread before the cluster: a LocalCluster's forkserver is a fork of this process
            cluster, cfg, placement = create_on_free_ports(args, status, content, cfg, placement, creds)
            system = batch_system_of(cluster)
            if system in BATCH_SYSTEMS and BATCH_SYSTEMS[system].status_queries:
                from .job_watch import JobWatcher

                watcher = JobWatcher(BATCH_SYSTEMS[system], placement.log_base)
            start_scaling(cluster, cfg)
            health = HealthServer(health_socket)
        except _Stop:
            raise
        except Exception as exc:
            clear = isinstance(exc, (WrapperError, CredentialError))
            error = _root_cause(exc, clear)
            logger.error("startup failed: %s", error, exc_info=not clear)
            return 1
        status.write_running(
            placement.scheduler_port, dashboard_port=placement.dashboard_port, **{HEALTH_PORT_NAME: health.port}
        )
        logger.info("running: scheduler %s", cluster.scheduler_address)
        from .service_loop import serve_until_idle

        serve_until_idle(cluster, args.timeout, watcher, status.write_idle_since)
        return 0
    except _Stop:
        return 0
    except Exception as exc:  # noqa: BLE001 - reported in the status file and the log
        error = f"{type(exc).__name__}: {exc}"
        logger.exception("seamless-dask-wrapper failed")
        return 1
    finally:
        _shutdown(cluster, watcher)
        shutil.rmtree(scratch, ignore_errors=True)
        if health is not None:
            health.close()
        elif health_socket is not None:
            health_socket.close()
        status.finish(error, service="seamless-dask-wrapper")


if __name__ == "__main__":
    sys.exit(main())
