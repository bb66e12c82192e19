"""Serve the hashserver or the seamless-database app over mutual TLS, launcher protocol included.

hashserver 1.1.0 and seamless-database 2.1.0 have no TLS options on their command lines, so
this module runs their apps itself (their code, untouched, imported as libraries)::

    seamless-jobserver serve-hashserver DIRECTORY [--writable] --port-range S E --host H
        --status-file F [--timeout T] [--no-tls]
    seamless-jobserver serve-database DATABASE_FILE [--writable] ... (same options)

Like the other services it binds its port itself (the socket it announces is the one it holds),
also serves a plain ``health_port``, writes ``port`` + ``health_port`` + ``status: running`` into
the status file (or ``failed`` with the reason), stops after ``--timeout`` seconds without
requests or on SIGTERM, and writes only owner-only files.

What it needs of their internals (pinned by ``seamless-remote``'s exact versions and tested in
``tests/test_store_server.py``):

* hashserver: importing the module with ``HASHSERVER_DIRECTORY`` set builds ``hashserver.app``
  without parsing the command line; ``setup_inactivity_timeout(seconds, uvicorn_server)``; its
  module-level ``aiofiles_chmod``, through which it makes buffers 0444 and directories 03775,
  is wrapped to drop group and other bits; so is ``os.chmod`` while it is imported (it makes its
  directory 03775 then).
* seamless-database: ``db_init(path)`` and the request handlers of ``DatabaseServer``
  (``_healthcheck``, ``_handle_get``, ``_handle_put``, ``_register_activity``) on an aiohttp app
  of ours, run on uvloop; its ``parse_checksum``, ``format_response`` and the peewee model
  ``Transformation`` with its database ``_db`` for the fast transformation lookup.
* for the reads of a cache hit and the writes of a new result, `store_routes` answers the
  common case itself (same answers): hashserver's ``layout``, ``directory``, ``writable``,
  ``calculate_checksum``, ``_current_put_requests``, ``_promise_registry.resolve`` and
  ``INACTIVITY_STATE``; the database's ``DatabaseServer._writable``, its models
  ``Transformation`` and ``RevTransformation``, ``_db`` and ``db_atomic``; hashserver's
  per-request INFO log lines are not written (level WARNING).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import socket
import ssl
import sys
import threading
import time
from typing import Any

from seamless_service.status_file import StatusFile, StatusFileError
from seamless_service.credentials import CredentialError
from seamless_service.health import PORT_NAME as HEALTH_PORT_NAME
from seamless_service.health import HealthServer
from seamless_service.private_files import private_dir
from seamless_service.service_side import NO_TLS_FLAG, make_private, service_credentials
from seamless_service.tls import server_context

from .store_routes import FastBufferRoutes, fast_database_get, fast_database_put

logger = logging.getLogger(__name__)

STORES = {"serve-hashserver": "hashserver", "serve-database": "database"}
#: seamless-database's own request-size limit
DATABASE_MAX_BODY = 10**9
#: how long the hashserver keeps an idle client connection open (aiohttp's default)
KEEP_ALIVE_SECONDS = 75


def build_parser(command: str) -> argparse.ArgumentParser:
    store = STORES[command]
    parser = argparse.ArgumentParser(
        prog=f"seamless-jobserver {command}",
        description=f"Serve the {store} over HTTPS that requires a client certificate of the user's CA "
        "(~/.seamless/tls), for remote-http-launcher.",
    )
    parser.add_argument("path", help="buffer directory" if store == "hashserver" else "SQLite database file")
    parser.add_argument("--writable", action="store_true", help="accept writes (PUT)")
    parser.add_argument("--port-range", type=int, nargs=2, required=True, metavar=("START", "END"),
                        help="the service and health ports are free ports of this inclusive range")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--status-file", required=True, help="remote-http-launcher status file")
    parser.add_argument("--timeout", type=float, help="stop after this many seconds without requests")
    parser.add_argument(NO_TLS_FLAG, dest="tls", action="store_false",
                        help="plain HTTP (only where the network is isolated otherwise)")
    return parser


def _owner_only_chmod(chmod: Any) -> Any:
    async def wrapped(path: Any, mode: int, *args: Any, **kwargs: Any) -> Any:
        return await chmod(path, mode & ~0o077, *args, **kwargs)

    return wrapped


def _hashserver_app(directory: str, writable: bool) -> Any:
    os.environ["HASHSERVER_DIRECTORY"] = directory
    os.environ["HASHSERVER_WRITABLE"] = "1" if writable else "0"
    chmod = os.chmod

    def owner_only(path: Any, mode: int, *args: Any, **kwargs: Any) -> None:
        chmod(path, mode & ~0o077, *args, **kwargs)

    os.chmod = owner_only  # its import makes the directory 03775: not even for a moment
    try:
        import hashserver
    finally:
        os.chmod = chmod
    hashserver.aiofiles_chmod = _owner_only_chmod(hashserver.aiofiles_chmod)
    return hashserver


def _serve_hashserver(args: argparse.Namespace, sock: socket.socket, ctx_files: Any,
                      on_running: Any) -> str:
    import uvicorn

    module = _hashserver_app(os.path.abspath(args.path), args.writable)
    module.LOGGER.setLevel(logging.WARNING)  # a line per GET and three per PUT otherwise
    # a stop (SIGTERM, idle timeout) closes open connections after at most 5 s; an idle client
    # connection is kept as long as aiohttp (the database) keeps one, not uvicorn's 5 s: a new
    # TLS handshake costs more than the request it precedes
    options: dict[str, Any] = {"log_level": "warning", "lifespan": "on", "timeout_graceful_shutdown": 5,
                               "loop": "uvloop", "http": "httptools", "timeout_keep_alive": KEEP_ALIVE_SECONDS}
    if ctx_files is not None:
        ca, cert, key = (str(p) for p in ctx_files)
        options.update(ssl_keyfile=key, ssl_certfile=cert, ssl_ca_certs=ca, ssl_cert_reqs=ssl.CERT_REQUIRED)
    server = uvicorn.Server(uvicorn.Config(FastBufferRoutes(module), **options))
    if args.timeout is not None:
        module.setup_inactivity_timeout(args.timeout, server)

    def announce() -> None:
        while not server.started and not server.should_exit:
            time.sleep(0.01)
        if server.started:
            on_running(sock.getsockname()[1])

    threading.Thread(target=announce, name="announce", daemon=True).start()
    stopped_by: list[str] = []

    def on_signal(signum: int, _frame: Any) -> None:
        # uvicorn shuts down on the signal, then re-raises it with the handler it found: this one
        stopped_by.append(signal.Signals(signum).name)

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, on_signal)
    server.run(sockets=[sock])
    return f"signal {stopped_by[0]}" if stopped_by else "idle"


def _serve_database(args: argparse.Namespace, sock: socket.socket, ctx: ssl.SSLContext | None,
                    on_running: Any, on_idle: Any) -> str:
    import uvloop
    from aiohttp import web

    import database

    from .aiohttp_serving import Activity, serve_app

    if not args.writable and not os.path.exists(args.path):
        raise FileNotFoundError(f"Database file '{args.path}' must exist when --writable is not set")
    database.db_init(args.path)
    handlers = database.DatabaseServer(args.host, sock.getsockname()[1], writable=args.writable)
    activity = Activity()
    app = web.Application(middlewares=[activity.middleware], client_max_size=DATABASE_MAX_BODY)
    app.add_routes([
        web.get("/healthcheck", handlers._healthcheck),
        web.get("/{tail:.*}", fast_database_get(handlers)),
        web.put("/{tail:.*}", fast_database_put(handlers)),
    ])
    # uvloop: compiled transports and TLS protocol (asyncio's SSL protocol is pure Python)
    return uvloop.run(serve_app(
        app, activity, sock, timeout=args.timeout, on_running=on_running, ssl_context=ctx, on_idle=on_idle,
    ))


def _make_store_private(store: str, path: str) -> None:
    """The buffer directory, or the database's directory and file, owner-only (not walked:
    a 0700 directory keeps everything below it private)."""
    private_dir(path if store == "hashserver" else os.path.dirname(path))
    if store == "database" and os.path.exists(path):
        os.chmod(path, 0o600)


def main(argv: list[str]) -> int:
    command, rest = argv[0], argv[1:]
    args = build_parser(command).parse_args(rest)
    store = STORES[command]
    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    status = StatusFile(args.status_file)
    health = None
    try:
        content = status.wait_and_read()
        make_private(args.status_file, content.get("log"))
        _make_store_private(store, os.path.abspath(args.path))
        creds = service_credentials(args.tls, store)
        from .listening import bind_socket

        start, end = args.port_range
        sock = bind_socket(args.host, range(start, end + 1))
        sock.setblocking(True)
        health = HealthServer(bind_socket(args.host, range(start, end + 1)))
    except (StatusFileError, CredentialError, OSError, ValueError) as exc:
        logger.error("Startup failed: %s", exc)
        status.finish(f"{store}: {exc}")
        return 1

    def on_running(port: int) -> None:
        logger.info("Serving the %s on %s://%s:%d", store, "https" if creds else "http", args.host, port)
        status.write_running(port, **{HEALTH_PORT_NAME: health.port})

    error: str | None = None
    try:
        if store == "hashserver":
            reason = _serve_hashserver(args, sock, creds.files("service") if creds else None, on_running)
        else:
            reason = _serve_database(args, sock, server_context(creds) if creds else None, on_running, status.write_idle_since)
        logger.info("The %s stopped (%s)", store, reason)
        return 0
    except Exception as exc:  # noqa: BLE001 - reported in the status file and the log
        error = f"{type(exc).__name__}: {exc}"
        logger.exception("the %s failed", store)
        return 1
    finally:
        health.close()
        status.finish(error, service=store)
