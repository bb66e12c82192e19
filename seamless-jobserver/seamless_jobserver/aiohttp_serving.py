"""Serving an aiohttp app on a bound socket until a stop signal or an idle timeout, for the
jobserver and the database (no Seamless imports: the database's process needs no more)."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
import ssl
import time
from typing import Awaitable, Callable

from aiohttp import web

logger = logging.getLogger(__name__)

IDLE_CHECK_SECONDS = 1.0


class Activity:
    """Requests in progress and the time of the last one: decides when the server is idle."""

    def __init__(self) -> None:
        self.in_progress = 0
        self.last = time.monotonic()

    @web.middleware
    async def middleware(self, request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
        self.in_progress += 1
        try:
            return await handler(request)
        finally:
            self.in_progress -= 1
            self.last = time.monotonic()

    def idle_for(self) -> float:
        return 0.0 if self.in_progress else time.monotonic() - self.last


def _publish_idle(activity: Activity, on_idle: Callable[[float | None], None], published: float | None | bool):
    """Tell ``on_idle`` the idle state when it changed since ``published``; return what it was told."""
    current = None if activity.in_progress else activity.last
    if current != published:
        try:
            on_idle(None if current is None else time.time() - (time.monotonic() - current))
        except OSError as exc:  # e.g. the status file's directory is gone: serving goes on
            logger.debug("could not publish the idle time: %r", exc)
    return current


async def serve_app(
    app: web.Application,
    activity: Activity,
    sock: socket.socket,
    *,
    timeout: float | None,
    on_running: Callable[[int], None],
    ssl_context: ssl.SSLContext | None = None,
    on_idle: Callable[[float | None], None] | None = None,
) -> str:
    """Serve ``app`` (whose middlewares include ``activity``'s) on ``sock``, over TLS when
    ``ssl_context`` is given, until idle for ``timeout`` s or a stop signal; return why it stopped.
    ``on_idle`` is told, when it changes, since when (epoch seconds) no request was served, or
    None while one is in progress."""
    app_runner = web.AppRunner(app, access_log=None)
    await app_runner.setup()
    stop = asyncio.Event()
    reason = "stopped"

    def on_signal(signum: int) -> None:
        nonlocal reason
        reason = f"signal {signal.Signals(signum).name}"
        stop.set()

    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        loop.add_signal_handler(signum, on_signal, signum)
    published: float | None | bool = False
    try:
        await web.SockSite(app_runner, sock, ssl_context=ssl_context).start()
        on_running(sock.getsockname()[1])
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), IDLE_CHECK_SECONDS)
            except asyncio.TimeoutError:
                pass
            if on_idle is not None:
                published = _publish_idle(activity, on_idle, published)
            if timeout is not None and activity.idle_for() >= timeout:
                reason = f"idle for {timeout:g} s"
                break
    finally:
        await app_runner.cleanup()
    return reason
