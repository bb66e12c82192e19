"""Fast paths for the reads of a cache hit, in front of the hashserver and database handlers.

A cache hit in a new process is one database GET (transformation checksum -> result checksum)
and one hashserver GET (the buffer). Through the libraries' own handlers these cost far more
than the round trip: hashserver 1.1.0 serves a buffer through FastAPI, a per-request
``BaseHTTPMiddleware``, CORS, and ~8 thread hops (existence checks, stat, open, read, hash,
FileResponse); seamless-database 2.1.0 builds a peewee query per lookup. The routes here answer
the common case themselves, with the same status, body and headers, and hand every other request
to the library's handler unchanged:

* `FastBufferRoutes` (ASGI, wraps the hashserver app): ``GET /healthcheck``, and ``GET /<checksum>``
  when the buffer is an uncompressed file of the primary directory of at most `FAST_BUFFER_LIMIT`
  bytes whose content matches the checksum (verified on every read, as hashserver does), no
  upload of it is in progress, and the request asks for no range, no encoding (but identity)
  and no CORS. A
  missing, compressed, larger or corrupt file goes to hashserver (which waits for locks and
  uploads, looks in the extra directories, answers 404 or its corruption error).
* `fast_database_get` (aiohttp): a ``{"type": "transformation", "checksum": <lower-case hex>}``
  GET, answered from one prepared SQL query built by peewee from the library's model; any other
  request goes to ``DatabaseServer._handle_get``.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any, Awaitable, Callable

#: buffers up to this size are read and verified on the event loop (a local file: microseconds)
FAST_BUFFER_LIMIT = 256 * 1024
_CHECKSUM_PATH = re.compile(r"/([0-9a-f]{64})")
_CHECKSUM = re.compile(r"[0-9a-f]{64}")
#: request headers that make hashserver answer differently (or that CORS answers): not fast
_SPECIAL_HEADERS = frozenset({b"range", b"if-range", b"origin"})

ASGIApp = Callable[[dict, Callable[[], Awaitable[dict]], Callable[[dict], Awaitable[None]]], Awaitable[None]]


class FastBufferRoutes:
    """ASGI app: the fast buffer reads, in front of ``module.app`` (the imported hashserver module)."""

    def __init__(self, module: Any) -> None:
        from starlette.responses import FileResponse

        self.module = module
        self.app: ASGIApp = module.app
        self._file_response = FileResponse
        self._healthcheck: tuple[list, bytes] | None = None  # hashserver's answer, learnt from it
        self._added: list[tuple[bytes, bytes]] = []  # headers its middlewares add to every answer

    async def _learn(self) -> tuple[list, bytes]:
        """Ask hashserver's app for its healthcheck once: that answer, and the headers its
        middlewares (CORS) add to what a route answers, are then given as it gives them."""
        from starlette.responses import Response

        messages: list[dict] = []

        async def receive() -> dict:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict) -> None:
            messages.append(message)

        scope: dict[str, Any] = {
            "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "https",
            "path": "/healthcheck", "raw_path": b"/healthcheck", "root_path": "", "query_string": b"",
            "headers": [], "client": None, "server": None,
        }
        await self.app(scope, receive, send)
        headers = list(messages[0]["headers"])
        if messages[0]["status"] != 200:
            raise RuntimeError(f"hashserver's healthcheck answered {messages[0]}")
        body = b"".join(m.get("body", b"") for m in messages[1:])
        own = Response(content=body).raw_headers  # what the route itself answers
        self._added = [h for h in headers if h not in own]
        self._healthcheck = (headers, body)
        return self._healthcheck

    def _path(self, checksum: str) -> str:
        module = self.module
        if module.layout == "prefix":
            return os.path.join(module.directory, checksum[:2], checksum)
        return os.path.join(module.directory, checksum)

    def _read_verified(self, checksum: str) -> tuple[os.stat_result, bytes] | None:
        """The file's stat and content if it is a small regular file matching ``checksum``."""
        try:
            fd = os.open(self._path(checksum), os.O_RDONLY)
        except OSError:
            return None
        try:
            st = os.fstat(fd)
            if not (0 < st.st_size <= FAST_BUFFER_LIMIT) or (st.st_mode & 0o170000) != 0o100000:
                return None
            content = os.read(fd, st.st_size + 1)
        finally:
            os.close(fd)
        if len(content) != st.st_size or self.module.calculate_checksum(content) != checksum:
            return None  # changing or corrupt: hashserver's handler decides
        return st, content

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http" or scope["method"] != "GET" or not _plain(scope["headers"]):
            return await self.app(scope, receive, send)
        healthcheck = self._healthcheck or await self._learn()
        if scope["path"] == "/healthcheck":
            headers, body = healthcheck
        else:
            match = _CHECKSUM_PATH.fullmatch(scope["path"])
            checksum = match[1] if match is not None else None
            found = None
            if checksum is not None and checksum not in self.module._current_put_requests:
                found = self._read_verified(checksum)
            if checksum is None or found is None:
                return await self.app(scope, receive, send)
            st, body = found
            file_response = self._file_response(self._path(checksum), filename=checksum, stat_result=st)
            headers = [*file_response.raw_headers, *self._added]
        self._record_activity()
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _record_activity(self) -> None:
        """What hashserver's own middleware does for its idle timeout."""
        state = self.module.INACTIVITY_STATE
        if state["timeout"] is not None:
            state["last_request"] = time.monotonic()


def _plain(headers: list[tuple[bytes, bytes]]) -> bool:
    """No header that changes hashserver's answer: range, CORS, an encoding other than identity
    (without one, hashserver serves the uncompressed file first, as with ``identity``)."""
    for name, value in headers:
        if name in _SPECIAL_HEADERS or (name == b"accept-encoding" and value.strip().lower() != b"identity"):
            return False
    return True


def fast_database_get(handlers: Any) -> Callable[[Any], Awaitable[Any]]:
    """An aiohttp GET handler: transformation lookups answered here, the rest by ``handlers``
    (seamless-database's ``DatabaseServer``)."""
    from aiohttp import web

    import database
    from database_models import Transformation, _db

    # peewee writes the query from the library's model; only its parameter changes
    sql, _ = Transformation.select(Transformation.result).where(Transformation.checksum == "").sql()

    async def get(request: web.Request) -> web.StreamResponse:
        try:
            query = json.loads(await request.read())  # aiohttp keeps the body for the handler
        except ValueError:
            query = None
        if (
            isinstance(query, dict)
            and query.get("type") == "transformation"
            and isinstance(query.get("checksum"), str)
            and _CHECKSUM.fullmatch(query["checksum"])
        ):
            handlers._register_activity()
            row = _db.connection().execute(sql, (query["checksum"],)).fetchone()
            answer = None if row is None else database.parse_checksum(row[0])
            status, body = database.format_response(answer, none_as_404=True)
            return web.Response(status=status or 200, body=body)
        return await handlers._handle_get(request)

    return get
