"""A lean HTTP/1.1 client: keep-alive connections to one service, and their pool.

The service clients talk to a known set of servers (hashserver, seamless-database, jobserver),
on loopback or over a tunnel, mostly with tiny requests and answers. For those, the client-side
work of a general HTTP library is the larger part of a request: for a ``/healthcheck`` over TLS,
~330-390 µs CPU per request through urllib3 and ~150 µs through ``http.client`` (its header
parser), against ~45-70 µs through this module (measured on this 2-core machine, where the
server's side of such a request costs ~70-130 µs). This module speaks the part of HTTP/1.1
those servers use: a request with a ``Content-Length`` body, an answer framed by
``Content-Length``, ``Transfer-Encoding: chunked`` or the end of the connection, keep-alive
unless the server says ``Connection: close``.

Errors: `ConnectError` if no connection could be opened (refused, unreachable, timed out),
`ssl.SSLError` for TLS, `TimeoutError` if the answer is late, `ConnectionError` if the server
dropped the connection, `ProtocolError` for a malformed answer. A kept-alive connection that the
server closed while idle is replaced at once, transparently.
"""

from __future__ import annotations

import socket
import ssl
import threading
from typing import BinaryIO

from seamless_service.errors import SeamlessError

#: the longest status or header line accepted
MAX_LINE = 65536
#: the most header lines accepted in one answer
MAX_HEADERS = 100
#: bodies up to this size are sent in the same write as the request head
COALESCE_BODY = 64 * 1024


class ProtocolError(SeamlessError):
    """The server's answer is not HTTP/1.x as expected."""


class ConnectError(SeamlessError):
    """No connection could be opened (not a TLS failure: those stay `ssl.SSLError`)."""


class StaleConnectionError(SeamlessError, ConnectionError):
    """A reused connection was closed by the server before any answer: safe to send again."""


class Connection:
    """One HTTP/1.1 connection (TLS when ``context`` is given); not thread-safe."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext | None, connect_timeout: float | None) -> None:
        sock = socket.create_connection((host, port), timeout=connect_timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if context is not None:
                # no host-name check (the context has check_hostname off): identity is the chain
                sock = context.wrap_socket(sock)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._reader: BinaryIO = sock.makefile("rb")
        self._host = (f"[{host}]:{port}" if ":" in host else f"{host}:{port}").encode()  # IPv6 in brackets
        self.requests = 0  # answered on this connection

    def close(self) -> None:
        self._reader.close()
        self._sock.close()

    def request(self, method: str, path: str, body: bytes | None, headers: dict[str, str],
                read_timeout: float | None) -> tuple[int, bytes, bool]:
        """Send one request, read its answer: (status, body, keep-alive)."""
        head = [f"{method} {path} HTTP/1.1".encode(), b"Host: " + self._host]
        head += [f"{name}: {value}".encode("latin-1") for name, value in headers.items()]
        if body is not None or method in ("POST", "PUT", "PATCH"):
            head.append(b"Content-Length: %d" % len(body or b""))
        data = b"\r\n".join(head) + b"\r\n\r\n"
        reused = self.requests > 0
        self._sock.settimeout(read_timeout)
        try:
            if body and len(body) > COALESCE_BODY:
                self._sock.sendall(data)
                self._sock.sendall(body)
            else:
                self._sock.sendall(data + body if body else data)
            status_line = self._reader.readline(MAX_LINE + 1)
        except (BrokenPipeError, ConnectionResetError, ssl.SSLEOFError, ssl.SSLZeroReturnError) as exc:
            if reused:
                raise StaleConnectionError(str(exc)) from None
            raise
        if not status_line:
            if reused:
                raise StaleConnectionError("closed by the server before answering")
            raise ConnectionAbortedError("the server closed the connection without answering")
        status, keep_alive = self._read_head(status_line)
        while 100 <= status < 200:  # informational answers precede the real one
            status, keep_alive = self._read_head(self._reader.readline(MAX_LINE + 1))
        content, until_close = self._read_body(method, status)
        self.requests += 1
        return status, content, keep_alive and not until_close

    def _read_head(self, status_line: bytes) -> tuple[int, bool]:
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[0].startswith(b"HTTP/1.") or not parts[1].isdigit():
            raise ProtocolError(f"bad status line {status_line[:100]!r}")
        self._headers: dict[bytes, bytes] = {}
        for _ in range(MAX_HEADERS + 1):
            line = self._reader.readline(MAX_LINE + 1)
            if line in (b"\r\n", b"\n"):
                break
            if not line.endswith(b"\n"):
                raise ProtocolError("truncated or overlong header line")
            name, sep, value = line.partition(b":")
            if not sep:
                raise ProtocolError(f"bad header line {line[:100]!r}")
            self._headers[name.strip().lower()] = value.strip()
        else:
            raise ProtocolError(f"more than {MAX_HEADERS} header lines")
        connection = self._headers.get(b"connection", b"").lower()
        keep_alive = b"close" not in connection if parts[0] != b"HTTP/1.0" else b"keep-alive" in connection
        return int(parts[1]), keep_alive

    def _read_body(self, method: str, status: int) -> tuple[bytes, bool]:
        """The answer's body, and whether it was framed by the end of the connection."""
        if method == "HEAD" or status in (204, 304):
            return b"", False
        if b"chunked" in self._headers.get(b"transfer-encoding", b"").lower():
            return self._read_chunked(), False
        length = self._headers.get(b"content-length")
        if length is None:
            return self._reader.read(), True
        if not length.isdigit():
            raise ProtocolError(f"bad Content-Length {length[:40]!r}")
        content = self._reader.read(int(length))
        if len(content) != int(length):
            raise ProtocolError(f"answer ended after {len(content)} of {int(length)} bytes")
        return content, False

    def _read_chunked(self) -> bytes:
        chunks: list[bytes] = []
        while True:
            line = self._reader.readline(MAX_LINE + 1)
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size line {line[:100]!r}") from None
            if size == 0:
                while self._reader.readline(MAX_LINE + 1) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(chunks)
            chunk = self._reader.read(size)
            if len(chunk) != size or self._reader.read(2) != b"\r\n":
                raise ProtocolError("truncated chunk")
            chunks.append(chunk)


class ConnectionPool:
    """Kept-alive connections to one server, shared by threads: a request takes an idle one or
    opens a new one (as many as requests in flight), and gives it back after a complete answer;
    at most ``maxsize`` idle ones are kept."""

    def __init__(self, host: str, port: int, context: ssl.SSLContext | None, maxsize: int) -> None:
        self.host, self.port, self.context, self.maxsize = host, port, context, maxsize
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._closed = False
        #: connections opened and requests answered so far
        self.num_connections = 0
        self.num_requests = 0

    def request(self, method: str, path: str, *, body: bytes | None, headers: dict[str, str],
                connect_timeout: float | None, read_timeout: float | None) -> tuple[int, bytes]:
        """(status, body); a kept-alive connection the server had closed is replaced once, at once."""
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is not None:
            try:
                return self._send(conn, method, path, body, headers, read_timeout)
            except StaleConnectionError:
                pass
        try:
            conn = Connection(self.host, self.port, self.context, connect_timeout)
        except ssl.SSLError:
            raise
        except OSError as exc:  # refused, unreachable, name not known, timed out
            raise ConnectError(f"{type(exc).__name__}: {exc}") from None
        with self._lock:
            self.num_connections += 1
        return self._send(conn, method, path, body, headers, read_timeout)

    def _send(self, conn: Connection, method: str, path: str, body: bytes | None, headers: dict[str, str],
              read_timeout: float | None) -> tuple[int, bytes]:
        try:
            status, content, keep_alive = conn.request(method, path, body, headers, read_timeout)
        except BaseException:
            conn.close()  # in an unknown state: never reused
            raise
        with self._lock:
            self.num_requests += 1
            kept = keep_alive and not self._closed and len(self._idle) < self.maxsize
            if kept:
                self._idle.append(conn)
        if not kept:
            conn.close()
        return status, content

    def close(self) -> None:
        """Close the idle connections; busy ones are closed when their answer is in."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
