"""The jobserver's HTTP server (aiohttp): its routes.

Routes: ``GET /`` (what this is), ``GET /healthcheck`` (``OK``), ``POST``/``GET
/run-transformation`` (:mod:`seamless_remote.jobserver_protocol`); served by
:mod:`.aiohttp_serving` on the socket of :mod:`.listening`. Transformations run in a
thread pool that hands them to the `Runner`; the event loop only parses and answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import socket
import ssl
from concurrent.futures import ThreadPoolExecutor
from typing import Callable

from aiohttp import web
from seamless import Buffer
from seamless_remote.errors import RemoteError
from seamless_remote.jobserver_protocol import HEALTHCHECK_PATH, RUN_PATH, error_body, parse_request, result_body
from seamless_transformer import StoreError, TransformationError

from .aiohttp_serving import Activity, serve_app
from .runner import JobRequestError, Runner

logger = logging.getLogger(__name__)

#: Largest request body accepted (bytes); larger ones get 413 before their body is read.
DEFAULT_MAX_REQUEST_BYTES = 64 * 1024**2


def _json_error(status: int, message: str, traceback: str | None = None) -> web.Response:
    return web.json_response(error_body(message, traceback), status=status)


def make_app(
    runner: Runner, executor: ThreadPoolExecutor, activity: Activity, max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES
) -> web.Application:
    async def welcome(request: web.Request) -> web.Response:
        return web.Response(text=f"Seamless jobserver: {runner.workers} worker(s); POST /{RUN_PATH}\n")

    async def healthcheck(request: web.Request) -> web.Response:
        return web.Response(text="OK")

    async def run_transformation(request: web.Request) -> web.Response:
        too_large = f"Request body over the jobserver's limit of {max_request_bytes} bytes (--max-request-bytes)"
        if request.content_length is not None and request.content_length > max_request_bytes:
            return _json_error(413, too_large)  # answered before a byte of the body is read
        try:
            body = json.loads(await request.read() or b"null")
            job = parse_request(body)
        except web.HTTPRequestEntityTooLarge:  # chunked: read() stops at client_max_size
            return _json_error(413, too_large)
        except RecursionError:
            return _json_error(400, f"Bad request to /{RUN_PATH}: JSON nested too deeply")
        except (ValueError, UnicodeDecodeError) as exc:
            return _json_error(400, f"Bad request to /{RUN_PATH}: {exc}")
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(
                executor, runner.run, job.transformation, job.checksum, job.location, job.buffers, job.lookup
            )
        except JobRequestError as exc:
            return _json_error(400, str(exc))
        except TransformationError as exc:
            return _json_error(500, exc.message, exc.traceback)
        except (RemoteError, StoreError) as exc:
            return _json_error(502, f"The jobserver could not use its storage: {exc}")
        if job.inline_result:
            return web.json_response(result_body(result))
        return web.Response(text=(result.checksum if isinstance(result, Buffer) else result).hex())

    app = web.Application(middlewares=[activity.middleware], client_max_size=max_request_bytes)
    app.router.add_get("/", welcome)
    app.router.add_get(f"/{HEALTHCHECK_PATH}", healthcheck)
    app.router.add_post(f"/{RUN_PATH}", run_transformation)
    app.router.add_get(f"/{RUN_PATH}", run_transformation)
    return app


async def serve(
    runner: Runner,
    sock: socket.socket,
    *,
    timeout: float | None,
    on_running: Callable[[int], None],
    ssl_context: ssl.SSLContext | None = None,
    max_request_bytes: int = DEFAULT_MAX_REQUEST_BYTES,
    on_idle: Callable[[float | None], None] | None = None,
) -> str:
    """Serve the jobserver on ``sock`` until idle for ``timeout`` s or a stop signal; return why it stopped."""
    activity = Activity()
    executor = ThreadPoolExecutor(max_workers=runner.workers + 4, thread_name_prefix="jobserver")
    try:
        return await serve_app(
            make_app(runner, executor, activity, max_request_bytes), activity, sock,
            timeout=timeout, on_running=on_running, ssl_context=ssl_context, on_idle=on_idle,
        )
    finally:
        executor.shutdown(wait=False, cancel_futures=True)


