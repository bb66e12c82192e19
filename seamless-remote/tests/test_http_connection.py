"""The lean HTTP/1.1 client against the framings real servers use.

The real services' ordinary answers (Content-Length, keep-alive) are covered by the client tests
against hashserver and seamless-database. The framings they use less often, and a server that
closes an idle kept-alive connection, are scripted here by a real loopback socket server whose
answers are written byte for byte (no HTTP server here answers chunked on demand).
"""

from __future__ import annotations

import socket
import threading

import pytest

from seamless_remote.errors import ServiceUnavailableError
from seamless_remote.http_service import ServiceClient


class ScriptedServer:
    """Answers the n-th request (on any connection) with ``answers[n]``; after an answer whose
    entry is ``(bytes, True)`` it closes that connection."""

    def __init__(self, answers: list[tuple[bytes, bool]]) -> None:
        self.answers = answers
        self.requests: list[bytes] = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.answers:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            with conn, conn.makefile("rb") as reader:
                while self.answers:
                    head = b""
                    while not head.endswith(b"\r\n\r\n"):
                        line = reader.readline()
                        if not line:
                            break
                        head += line
                    if not head:
                        break
                    length = [int(v) for k, _, v in (h.partition(b":") for h in head.split(b"\r\n"))
                              if k.lower() == b"content-length"]
                    self.requests.append(head + (reader.read(length[0]) if length else b""))
                    answer, close = self.answers.pop(0)
                    conn.sendall(answer)
                    if close:
                        break

    def close(self) -> None:
        self.sock.close()
        self.thread.join(10)


@pytest.fixture
def scripted():
    servers: list[ScriptedServer] = []

    def make(*answers: tuple[bytes, bool]) -> ScriptedServer:
        servers.append(ScriptedServer(list(answers)))
        return servers[-1]

    yield make
    for server in servers:
        server.close()


def test_framings_and_request_body(scripted):
    server = scripted(
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n6\r\n world\r\n0\r\n\r\n", False),
        (b"HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\nabc", False),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok", False),
        (b"HTTP/1.0 200 OK\r\n\r\nuntil the end", True),
    )
    client = ServiceClient(server.url)
    assert client.request("GET", "a").content == b"hello world"
    answer = client.request("PUT", "b", json={"k": 1})
    assert (answer.status_code, answer.content) == (201, b"abc")
    assert client.request("GET", "c").content == b"ok"
    assert client.request("GET", "d").content == b"until the end"
    assert server.connections == 1  # kept alive until the server ended an answer by closing
    put = server.requests[1]
    assert put.startswith(b"PUT /b HTTP/1.1\r\n") and b"Content-Length: 8\r\n" in put and put.endswith(b'{"k": 1}')
    assert b"Content-Length" not in server.requests[0]


def test_a_connection_closed_by_the_server_is_replaced(scripted):
    server = scripted(
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1", True),  # closed after the answer, unannounced
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nConnection: close\r\n\r\n2", True),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n3", False),
    )
    client = ServiceClient(server.url)
    assert [client.request("GET", "x").content for _ in range(3)] == [b"1", b"2", b"3"]
    assert server.connections == 3
    assert client._pool.num_requests == 3


def test_truncated_answer_is_an_error(scripted):
    server = scripted((b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", True))
    client = ServiceClient(server.url)
    with pytest.raises(ServiceUnavailableError, match="failed GET /x.*5 of 10 bytes"):
        client.request("GET", "x")
