"""The store server's fast read routes answer exactly as the libraries' own servers.

Real processes on the same buffer directory and database file: the store server
(``seamless-jobserver serve-hashserver|serve-database``, over mutual TLS, fast routes in front)
and the stock ``hashserver`` / ``seamless-database`` servers (plain HTTP, their own handlers
only). Each request goes to both; status, headers (but ``date``) and body must be equal, for a
hit, a miss, malformed checksums and a corrupt buffer file.
"""

from __future__ import annotations

import http.client
import json
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from seamless import Buffer, Checksum
from seamless_remote import DatabaseClient, HashserverClient
from seamless_remote.testing import LocalService, start_database, start_hashserver, start_service
from seamless_service.tls import shared_client_context

pytestmark = pytest.mark.servers


def _exchange(service: LocalService, method: str, path: str, body: bytes | None = None,
              headers: dict | None = None) -> tuple[int, dict, bytes]:
    """One request on a new connection: (status, headers without ``date``, body)."""
    parts = urlsplit(service.url)
    if service.tls is None:
        conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    else:
        conn = http.client.HTTPSConnection(parts.hostname, parts.port, timeout=30,
                                           context=shared_client_context(*service.tls))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        answer = conn.getresponse()
        content = answer.read()
        return answer.status, {k.lower(): v for k, v in answer.getheaders() if k.lower() != "date"}, content
    finally:
        conn.close()


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    """(store server, stock server) for the hashserver, then for the database, on shared data."""
    root: Path = tmp_path_factory.mktemp("stores")
    home = root / "home"
    started: list[LocalService] = []
    try:
        started.append(start_hashserver(root / "buffers", ports=(62800, 62849)))
        started.append(start_database(root / "database", ports=(62800, 62849)))
        for store, path in (("hashserver", root / "buffers"), ("database", root / "database" / "seamless.db")):
            argv = ["seamless-jobserver", f"serve-{store}", str(path), "--writable", "--port-range", "62850", "62899"]
            started.append(start_service(f"store-{store}", argv, root / "status", home=home))
        yield {"hashserver": (started[2], started[0]), "database": (started[3], started[1]), "root": root}
    finally:
        for service in reversed(started):
            service.stop()


def _same(stores: dict, store: str, method: str, path: str, body: bytes | None = None) -> tuple[int, dict, bytes]:
    ours, stock = stores[store]
    answer = _exchange(ours, method, path, body)
    assert answer == _exchange(stock, method, path, body)
    return answer


def test_buffer_hit_miss_and_bad_checksums_as_hashserver(stores):
    ours, _ = stores["hashserver"]
    buffer = Buffer(b"the buffer of a cache hit\n")
    HashserverClient(ours.url, tls=ours.tls).put_buffer(buffer)
    status, headers, body = _same(stores, "hashserver", "GET", f"/{buffer.checksum.hex()}")
    assert (status, body) == (200, buffer.content) and "etag" in headers
    assert _same(stores, "hashserver", "GET", "/healthcheck")[0] == 200
    assert _same(stores, "hashserver", "GET", f"/{Checksum.of(b'never stored').hex()}")[0] == 404
    for bad in ("abc", "zz" * 32, buffer.checksum.hex()[:-2]):
        assert _same(stores, "hashserver", "GET", f"/{bad}")[0] == 400
    # upper-case hex names the same buffer: hashserver's own handler answers it
    assert _same(stores, "hashserver", "GET", f"/{buffer.checksum.hex().upper()}")[2] == buffer.content
    # what the fast route does not serve itself still gets hashserver's answer
    ranged = _exchange(ours, "GET", f"/{buffer.checksum.hex()}", headers={"Range": "bytes=0-2"})
    assert ranged[0] == 206 and ranged[2] == buffer.content[:3]


def test_corrupt_buffer_file_is_refused_as_hashserver_does(stores):
    ours, _ = stores["hashserver"]
    buffer = Buffer(b"a buffer whose file gets corrupted\n")
    HashserverClient(ours.url, tls=ours.tls).put_buffer(buffer)
    hexsum = buffer.checksum.hex()
    path = stores["root"] / "buffers" / hexsum[:2] / hexsum
    os.chmod(path, 0o600)
    path.write_bytes(b"a buffer whose file got corrupted!\n")
    status, _, body = _same(stores, "hashserver", "GET", f"/{hexsum}")
    assert status == 400 and b"corruption" in body
    with pytest.raises(Exception, match="corrupt"):
        HashserverClient(ours.url, tls=ours.tls).get_buffer(buffer.checksum)


def test_transformation_lookup_as_seamless_database(stores):
    ours, _ = stores["database"]
    tf, result = Checksum.of(b"transformation"), Checksum.of(b"its result")
    DatabaseClient(ours.url, tls=ours.tls).put_result(tf, result)

    def lookup(checksum: object, **extra: object) -> tuple[int, dict, bytes]:
        body = json.dumps({"type": "transformation", "checksum": checksum, **extra}).encode()
        return _same(stores, "database", "GET", "/", body)

    assert lookup(tf.hex())[::2] == (200, result.hex().encode())
    assert lookup(tf.hex().upper())[::2] == (200, result.hex().encode())
    assert lookup(Checksum.of(b"unknown").hex())[0] == 404
    assert lookup("zz" * 32)[0] == 400
    lookup(tf.hex()[:-2])  # the stock server fails (500) on a short checksum: so do we
    lookup(17)
    assert _same(stores, "database", "GET", "/", b"not json")[0] == 400
    _same(stores, "database", "GET", "/", b'["a list"]')
    assert json.loads(_same(stores, "database", "GET", "/", b'{"type": "protocol"}')[2])[:2] == ["seamless", "database"]
    assert DatabaseClient(ours.url, tls=ours.tls).get_result(tf) == result


def test_buffer_upload_as_hashserver(stores):
    """New buffers are written by the fast route, anything else by hashserver: same answers."""
    ours, stock = stores["hashserver"]
    buffers = stores["root"] / "buffers"
    for n in range(3):  # a new buffer to each server: same answer; the file is in place, owner-only
        mine, theirs = Buffer(f"uploaded to ours {n}\n".encode()), Buffer(f"uploaded to stock {n}\n".encode())
        mine_path = buffers / mine.checksum.hex()[:2] / mine.checksum.hex()
        # the fast route writes into an existing directory (hashserver makes a new one) and,
        # unlike hashserver's handler, leaves its mode as it is: how we know which one wrote
        mine_path.parent.mkdir(mode=0o700, exist_ok=True)
        os.chmod(mine_path.parent, 0o700)
        answer = _exchange(ours, "PUT", f"/{mine.checksum.hex()}", mine.content)
        assert answer == _exchange(stock, "PUT", f"/{theirs.checksum.hex()}", theirs.content)
        assert answer[::2] == (200, b"OK")
        assert mine_path.read_bytes() == mine.content
        assert os.stat(mine_path).st_mode & 0o777 == 0o400
        assert os.stat(mine_path.parent).st_mode & 0o7777 == 0o700, "not written by the fast route"
        # again: 201 from both (ours answers itself, and makes the file read-only again as
        # hashserver's handler does)
        os.chmod(mine_path, 0o600)
        again = _exchange(ours, "PUT", f"/{mine.checksum.hex()}", mine.content)
        assert os.stat(mine_path).st_mode & 0o777 == 0o400
        assert again == _exchange(stock, "PUT", f"/{mine.checksum.hex()}", mine.content)
        assert again[0] == 201
        assert _same(stores, "hashserver", "GET", f"/{mine.checksum.hex()}")[2] == mine.content
    assert not [p for p in buffers.rglob("*-*")] + [p for p in buffers.rglob(".*.tmp")], "a temporary file was left behind"
    # a buffer whose prefix directory is new: made owner-only, as hashserver's handler makes it
    for n in range(40):
        new = Buffer(f"in a new directory {n}\n".encode())
        if not (buffers / new.checksum.hex()[:2]).exists():
            break
    assert _exchange(ours, "PUT", f"/{new.checksum.hex()}", new.content)[::2] == (200, b"OK")
    assert os.stat(buffers / new.checksum.hex()[:2]).st_mode & 0o7777 == 0o3700
    # a body that does not match its checksum is refused, and nothing is written
    wrong = Checksum.of(b"something else")
    status, _, body = _same(stores, "hashserver", "PUT", f"/{wrong.hex()}", b"not that")
    assert status == 400 and b"checksum" in body.lower()
    assert not (buffers / wrong.hex()[:2] / wrong.hex()).exists()
    assert _same(stores, "hashserver", "PUT", "/nonsense", b"x")[0] in (400, 404, 405, 422)
    # the client's own upload path reads it back
    client = HashserverClient(ours.url, tls=ours.tls)
    fresh = Buffer(b"through the client\n")
    client.put_buffer(fresh)
    assert HashserverClient(ours.url, tls=ours.tls).get_buffer(fresh.checksum) == fresh


def test_transformation_record_as_seamless_database(stores):
    """Results recorded by the fast PUT route read back as the library's handler records them:
    the lookup and the reverse lookup; a record replaces an earlier one as the library's does."""
    ours, stock = stores["database"]

    def put(service: LocalService, tf: Checksum, result: object, **extra: object) -> tuple[int, dict, bytes]:
        body = json.dumps({"type": "transformation", "checksum": tf.hex(), "value": result, **extra}).encode()
        return _exchange(service, "PUT", "/", body)

    def reverse(result: Checksum) -> list:
        body = json.dumps({"type": "rev_transformations", "checksum": result.hex()}).encode()
        return json.loads(_same(stores, "database", "GET", "/", body)[2])

    mine, theirs = Checksum.of(b"recorded by ours"), Checksum.of(b"recorded by stock")
    result = Checksum.of(b"a shared result")
    assert put(ours, mine, result.hex()) == put(stock, theirs, result.hex())
    for tf in (mine, theirs):
        body = json.dumps({"type": "transformation", "checksum": tf.hex()}).encode()
        assert _same(stores, "database", "GET", "/", body)[::2] == (200, result.hex().encode())
    assert sorted(reverse(result)) == sorted([mine.hex(), theirs.hex()])
    # recorded again with another result: replaced, in both
    other = Checksum.of(b"another result")
    assert put(ours, mine, other.hex()) == put(stock, theirs, other.hex())
    assert DatabaseClient(ours.url, tls=ours.tls).get_result(mine) == other
    assert sorted(reverse(other)) == sorted([mine.hex(), theirs.hex()])
    # what the fast route does not record itself gets the library's answer
    for bad in ("zz" * 32, 17, result.hex()[:-2]):
        assert put(ours, mine, bad) == put(stock, theirs, bad)
    _same(stores, "database", "PUT", "/", b"not json")  # the library answers 500: so do we
