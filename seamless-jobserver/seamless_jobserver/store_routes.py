"""Fast paths for the reads of a cache hit, in front of the hashserver and database handlers.

A cache hit in a new process is one database GET (transformation checksum -> result checksum)
and one hashserver GET (the buffer); a new result is one hashserver PUT per new buffer (input,
result) and one database PUT, written in the background while the next transformation runs on
the same cores. Through the libraries' own handlers these cost far more
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
  ``PUT /<checksum>`` of a new, uncompressed buffer of at most `FAST_BUFFER_LIMIT` bytes whose
  body matches the checksum, on a writable hashserver, with no upload of it in progress: written
  here (a temporary file in the target directory, made as hashserver makes it, renamed into
  place, read-only for the owner, as hashserver leaves it under `store_server`'s owner-only
  chmod) and promises of it resolved; anything else (a buffer already there, a wrong checksum,
  an encoding, a larger body) goes to hashserver with the body already read.
* `fast_database_get` (aiohttp): a ``{"type": "transformation", "checksum": <lower-case hex>}``
  GET, answered from one prepared SQL query built by peewee from the library's model; any other
  request goes to ``DatabaseServer._handle_get``.
* `fast_database_put` (aiohttp): a ``{"type": "transformation", "checksum": ..., "value": ...}``
  PUT (lower-case hex) to a writable database: the library's two writes (the transformation,
  replacing an earlier entry, and its reverse entry) as two prepared statements built by peewee
  from its models, in one SQLite transaction instead of two; any other request goes to
  ``DatabaseServer._handle_put``.
"""

from __future__ import annotations

import json
import os
import re
import time
from typing import Any, Awaitable, Callable, TypeGuard

from seamless_service.private_files import write_private

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
        from starlette.responses import FileResponse, Response

        self.module = module
        self.app: ASGIApp = module.app
        self._file_response = FileResponse
        # what hashserver's PUT answers: a buffer written, a buffer already there
        self._put_answer = (200, Response(content=b"OK").raw_headers)
        self._exists_answer = (201, Response(status_code=201).raw_headers)
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
        if scope["type"] == "http" and scope["method"] == "PUT" and _plain_put(scope["headers"]):
            return await self._put(scope, receive, send)
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

    async def _put(self, scope: dict, receive: Callable, send: Callable) -> None:
        match = _CHECKSUM_PATH.fullmatch(scope["path"])
        length = _content_length(scope["headers"])
        if match is None or length is None or length > FAST_BUFFER_LIMIT or not self.module.writable:
            return await self.app(scope, receive, send)
        body = await _read_body(receive)
        if body is None:  # the client went away: nobody to answer, nothing to store
            return
        checksum = match[1]
        if self._present(checksum):
            return await self._answer(self._exists_answer, b"", checksum, send)
        directory = os.path.dirname(self._path(checksum))
        if not os.path.isdir(directory) and self.module.layout == "prefix":
            os.makedirs(directory, 0o700, exist_ok=True)  # as hashserver's handler makes it:
            await self.module.aiofiles_chmod(directory, 0o3775)  # through its chmod (owner-only)
        if not (len(body) == length and self._write_new(checksum, body)):
            return await self.app(scope, _replay(body, receive), send)
        await self._answer(self._put_answer, b"OK", checksum, send)

    async def _answer(self, answer: tuple[int, list], body: bytes, checksum: str, send: Callable) -> None:
        """Answer a PUT of ``checksum`` as hashserver's handler does once the buffer is there."""
        await self.module._promise_registry.resolve(checksum)
        self._record_activity()
        if self._healthcheck is None:
            await self._learn()  # the headers hashserver's middlewares add (CORS)
        status, headers = answer
        await send({"type": "http.response.start", "status": status, "headers": [*headers, *self._added]})
        await send({"type": "http.response.body", "body": body})

    def _present(self, checksum: str) -> bool:
        """Whether the buffer's uncompressed file is there already; made owner-only read-only, as
        hashserver's handler makes it then (0444 through `store_server`'s owner-only chmod)."""
        path = self._path(checksum)
        try:
            os.chmod(path, 0o400)
        except FileNotFoundError:
            return False
        return True

    def _write_new(self, checksum: str, body: bytes) -> bool:
        """Write a new buffer file; False (nothing written) for any case hashserver must decide.
        No await in here: no other request of this event loop sees a half-done write."""
        path = self._path(checksum)
        directory = os.path.dirname(path)
        if (
            checksum in self.module._current_put_requests
            or not os.path.isdir(directory)
            or os.path.lexists(path)
            or os.path.lexists(path + ".BUFFERLENGTH")  # hashserver removes it: let it
            or self.module.calculate_checksum(body) != checksum
        ):
            return False
        write_private(path, body, read_only=True)
        return True

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


def _plain_put(headers: list[tuple[bytes, bytes]]) -> bool:
    """No header that changes hashserver's answer to a PUT: an encoding of the body, CORS."""
    return not any(name in (b"content-encoding", b"origin") for name, _ in headers)


def _content_length(headers: list[tuple[bytes, bytes]]) -> int | None:
    """The request's Content-Length if it has one (and no chunked body)."""
    length = None
    for name, value in headers:
        if name == b"transfer-encoding":
            return None
        if name == b"content-length":
            length = int(value) if value.isdigit() else None
    return length


async def _read_body(receive: Callable[[], Awaitable[dict]]) -> bytes | None:
    """The whole request body, or None if the client disconnected."""
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return None
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            return b"".join(chunks)


def _replay(body: bytes, receive: Callable[[], Awaitable[dict]]) -> Callable[[], Awaitable[dict]]:
    """An ASGI ``receive`` that gives ``body`` (already read) again, then what ``receive`` gives."""
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> dict:
        return messages.pop(0) if messages else await receive()

    return replay


def fast_database_get(handlers: Any) -> Callable[[Any], Awaitable[Any]]:
    """An aiohttp GET handler: transformation lookups answered here, the rest by ``handlers``
    (seamless-database's ``DatabaseServer``)."""
    from aiohttp import web

    import database
    from database_models import Transformation, _db

    # peewee writes the query from the library's model; only its parameter changes
    sql, _ = Transformation.select(Transformation.result).where(Transformation.checksum == "").sql()

    async def get(request: web.Request) -> web.StreamResponse:
        query = await _json_body(request)
        if _is_transformation(query, "checksum"):
            handlers._register_activity()
            row = _db.connection().execute(sql, (query["checksum"],)).fetchone()
            answer = None if row is None else database.parse_checksum(row[0])
            status, body = database.format_response(answer, none_as_404=True)
            return web.Response(status=status or 200, body=body)
        return await handlers._handle_get(request)

    return get


def _is_transformation(query: Any, *keys: str) -> TypeGuard[dict]:
    return (
        isinstance(query, dict)
        and query.get("type") == "transformation"
        and all(isinstance(query.get(key), str) and _CHECKSUM.fullmatch(query[key]) for key in keys)
    )


async def _json_body(request: Any) -> Any:
    try:
        return json.loads(await request.read())  # aiohttp keeps the body for the library's handler
    except ValueError:
        return None


def fast_database_put(handlers: Any) -> Callable[[Any], Awaitable[Any]]:
    """An aiohttp PUT handler: transformation results recorded here, the rest by ``handlers``."""
    from aiohttp import web

    from database_models import RevTransformation, Transformation, _db, db_atomic

    # what the library's handler writes (its Transformation.create replaces an existing entry),
    # as statements peewee writes from its models; only their parameters change
    writes = []
    for statement in (Transformation.insert(checksum="\0c", result="\0r").on_conflict_replace(),
                      RevTransformation.insert(checksum="\0c", result="\0r")):
        sql, params = statement.sql()
        writes.append((sql, ["checksum" if p == "\0c" else "value" for p in params]))

    async def put(request: web.Request) -> web.StreamResponse:
        query = await _json_body(request) if handlers._writable else None
        if not _is_transformation(query, "checksum", "value"):
            return await handlers._handle_put(request)
        handlers._register_activity()
        with db_atomic():  # one commit
            connection = _db.connection()
            for sql, keys in writes:
                connection.execute(sql, [query[key] for key in keys])
        return web.Response(status=200, body="OK")

    return put
