"""``seamless-jobserver``: run Seamless transformations sent over HTTP on N local workers.

Launched by remote-http-launcher (``--status-file``, whose ``parameters`` name the hashserver
and database to use) or by hand (``--hashserver URL --database URL``). Exit codes: 0 after an
idle timeout or a stop signal, 1 on a startup failure, 2 on bad usage.

It serves HTTPS that requires a client certificate of the user's CA (``--no-tls``: plain HTTP),
plus a plain ``health_port`` that only answers ``OK``. ``seamless-jobserver serve-hashserver``
and ``serve-database`` run the hashserver and database apps over TLS instead
(:mod:`seamless_jobserver.store_server`): remote-http-launcher 0.4.5 launches only whitelisted
command names, and this is ours.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys

from seamless_service.status_file import StatusFile, StatusFileError
from seamless_service.credentials import CredentialError
from seamless_service.health import PORT_NAME as HEALTH_PORT_NAME
from seamless_service.service_side import NO_TLS_FLAG

logger = logging.getLogger(__name__)
DEFAULT_PORT = 5533


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="seamless-jobserver",
        description="HTTP server that runs Seamless transformations on N local worker processes, "
        "reading inputs from a hashserver and recording results in it and a seamless-database.",
    )
    parser.add_argument("--workers", type=int, default=1, help="number of worker processes (default 1)")
    ports = parser.add_mutually_exclusive_group()
    ports.add_argument("--port", type=int, help=f"port to listen on (default {DEFAULT_PORT})")
    ports.add_argument("--port-range", type=int, nargs=2, metavar=("START", "END"),
                       help="listen on a free port of this inclusive range")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1, loopback only)")
    parser.add_argument("--status-file", help="remote-http-launcher status file: read 'parameters' "
                        "(the remote clients), write 'port' and 'status'")
    parser.add_argument("--timeout", type=float, help="stop after this many seconds without requests")
    parser.add_argument("--hashserver", action="append", default=[], metavar="URL",
                        help="hashserver to read buffers from and write results to (repeatable)")
    parser.add_argument("--database", action="append", default=[], metavar="URL",
                        help="seamless-database to look up and record results in (repeatable)")
    parser.add_argument("--max-request-bytes", type=int, default=None, metavar="N",
                        help="largest request body accepted, in bytes; larger ones get 413 (default 64 MiB)")
    parser.add_argument(NO_TLS_FLAG, dest="tls", action="store_false",
                        help="serve plain HTTP (only where the network is isolated otherwise); default: "
                        "HTTPS requiring a client certificate signed by the user's CA (~/.seamless/tls)")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="logging level of the server's output (default INFO)")
    return parser


def _usage_errors(args: argparse.Namespace) -> str | None:
    if args.max_request_bytes is not None and args.max_request_bytes < 1:
        return f"--max-request-bytes must be a positive number of bytes, not {args.max_request_bytes}"
    if args.workers < 1:
        return f"--workers must be a positive integer, not {args.workers}"
    if args.timeout is not None and args.timeout <= 0:
        return f"--timeout must be a positive number of seconds, not {args.timeout:g}"
    if args.port_range and not 0 < args.port_range[0] <= args.port_range[1] < 65536:
        return f"--port-range START END needs 0 < START <= END < 65536, not {args.port_range}"
    if not args.status_file and not (args.hashserver and args.database):
        return "give --status-file (launched by remote-http-launcher) or both --hashserver URL and --database URL"
    return None


def _remote_parameters(args: argparse.Namespace, content: dict | None) -> dict:
    """The remote clients: the status file's ``parameters`` first, then --hashserver/--database."""
    parameters: dict = {}
    if content is not None:
        parameters = content.get("parameters") or {}
        if not isinstance(parameters, dict):
            raise ValueError(f"status file 'parameters' must be an object, not {json.dumps(parameters)}")
    merged = dict(parameters)
    merged["buffer"] = list(parameters.get("buffer", [])) + [{"url": u} for u in args.hashserver]
    merged["database"] = list(parameters.get("database", [])) + [{"url": u} for u in args.database]
    return merged


def _start(args: argparse.Namespace, content: dict | None):
    from seamless_remote import clients_from_parameters
    from seamless_service.service_side import service_credentials

    from .runner import Runner
    from .listening import bind_socket

    creds = service_credentials(args.tls, "seamless-jobserver")
    clients = clients_from_parameters(
        _remote_parameters(args, content), tls=(creds, "service") if creds is not None else None
    )
    try:
        Runner.check_clients(clients)
    except ValueError:
        clients.close()
        raise
    for client in (*clients.hashservers, *clients.databases):
        if not client.healthcheck():
            clients.close()
            raise RuntimeError(f"the {client.service} at {client.url} does not answer its healthcheck")
    start, end = args.port_range or (args.port or DEFAULT_PORT,) * 2
    sock = bind_socket(args.host, range(start, end + 1))
    try:
        health_sock = bind_socket(args.host, range(start, end + 1)) if args.port_range else None
        runner = Runner(clients, args.workers)
    except BaseException:
        sock.close()
        clients.close()
        raise
    return runner, sock, health_sock, creds


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] in (["serve-hashserver"], ["serve-database"]):
        from .store_server import main as store_main

        return store_main(argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    problem = _usage_errors(args)
    if problem:
        parser.print_usage(sys.stderr)
        print(f"seamless-jobserver: error: {problem}", file=sys.stderr)
        return 2
    logging.basicConfig(level=args.log_level, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    status = StatusFile(args.status_file) if args.status_file else None
    health = None
    try:
        from seamless_service.service_side import make_private

        content = status.wait_and_read() if status is not None else None
        make_private(args.status_file, content.get("log") if content else None)
        runner, sock, health_sock, creds = _start(args, content)
    except (StatusFileError, ValueError, RuntimeError, OSError, CredentialError) as exc:
        logger.error("Startup failed: %s", exc)
        if status is not None:
            status.finish(f"seamless-jobserver: {exc}")
        return 1
    from seamless_service.health import HealthServer
    from seamless_service.tls import server_context

    if health_sock is not None:
        health = HealthServer(health_sock)
    scheme = "https" if creds is not None else "http"

    def on_running(port: int) -> None:
        logger.info("Serving on %s://%s:%d with %d worker(s)", scheme, args.host, port, args.workers)
        if status is not None:
            status.write_running(port, **({HEALTH_PORT_NAME: health.port} if health else {}))

    import uvloop

    from .server import DEFAULT_MAX_REQUEST_BYTES, serve

    reason = "stopped"
    limit = args.max_request_bytes or DEFAULT_MAX_REQUEST_BYTES
    try:
        # uvloop, as the database: compiled transports and TLS (asyncio's SSL protocol is pure Python)
        reason = uvloop.run(serve(
            runner, sock, timeout=args.timeout, on_running=on_running,
            ssl_context=server_context(creds) if creds is not None else None, max_request_bytes=limit,
            on_idle=status.write_idle_since if status is not None else None,
        ))
    finally:
        runner.close()
        if health is not None:
            health.close()
        if status is not None:
            status.finish(service="seamless-jobserver")
    logger.info("Jobserver stopped (%s)", reason)
    return 0


if __name__ == "__main__":
    sys.exit(main())
