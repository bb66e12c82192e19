"""HashserverClient against a real hashserver 1.1.0 (writable and read-only)."""

from __future__ import annotations

import os

import pytest

from seamless import Buffer, Checksum
from seamless_remote import ChecksumMismatchError, HashserverClient, RemoteError, ServiceUnavailableError
from seamless_remote.testing import start_hashserver

pytestmark = pytest.mark.servers


def test_round_trip(hashserver):
    client = HashserverClient(hashserver.url)
    buffer = Buffer.from_value({"a": [1, 2, 3]}, "plain")
    assert client.healthcheck()
    assert client.get_buffer(buffer.checksum) is None
    assert client.has([buffer.checksum]) == [False]
    client.put_buffer(buffer)
    assert client.has([buffer.checksum]) == [True]
    fresh = HashserverClient(hashserver.url)  # no memory of the upload
    got = fresh.get_buffer(buffer.checksum)
    assert got == buffer and got.get_value("plain") == {"a": [1, 2, 3]}
    client.close()
    fresh.close()


def test_put_with_wrong_checksum_is_refused(hashserver):
    client = HashserverClient(hashserver.url)
    claimed = Checksum.of(b"what the caller claims")
    with pytest.raises(ChecksumMismatchError, match=claimed.hex()):
        client.put(claimed, b"other bytes")
    assert client.has([claimed]) == [False]


def test_upload_missing_sends_only_what_the_server_lacks(hashserver):
    from seamless_remote.hashserver_client import ASK_FIRST_ABOVE

    client = HashserverClient(hashserver.url)
    size = ASK_FIRST_ABOVE + 1  # large buffers: the server is asked first
    a, b = Buffer(b"a" * size), Buffer(b"b" * size)
    HashserverClient(hashserver.url).put_buffer(a)
    assert client.upload_missing({a.checksum: a, b.checksum: b}) == 1
    assert client.has([a.checksum, b.checksum]) == [True, True]
    assert client.upload_missing({a.checksum: a, b.checksum: b}) == 0


def test_small_buffers_are_sent_without_asking_then_remembered(hashserver):
    client = HashserverClient(hashserver.url)
    small = Buffer(b"upload-missing small")
    HashserverClient(hashserver.url).put_buffer(small)
    assert client.upload_missing({small.checksum: small}) == 1  # one PUT instead of /has + nothing
    assert client.upload_missing({small.checksum: small}) == 0  # now known to be there
    assert client.get_buffer(small.checksum) == small


def test_corrupt_file_on_server_is_detected(hashserver, service_dir):
    checksum = Checksum.of(b"the real content")
    path = service_dir / "buffers" / checksum.hex()[:2] / checksum.hex()
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(b"tampered")
    try:
        with pytest.raises(ChecksumMismatchError, match="corrupt"):
            HashserverClient(hashserver.url).get_buffer(checksum)
    finally:
        os.chmod(path, 0o644)
        path.unlink()


def test_read_only_hashserver_refuses_writes(tmp_path, hashserver):
    readonly = start_hashserver(tmp_path / "ro-buffers", writable=False)
    try:
        client = HashserverClient(readonly.url)
        with pytest.raises(RemoteError, match="read-only"):
            client.put_buffer(Buffer(b"x"))
    finally:
        readonly.stop()


def test_unreachable_hashserver():
    client = HashserverClient("http://127.0.0.1:9")  # discard port: nothing listens
    assert client.healthcheck() is False
    with pytest.raises(ServiceUnavailableError, match="cannot be reached.*set_stage"):
        client.get_buffer(Checksum.of(b"x"))


def test_invalid_url():
    with pytest.raises(ValueError, match="http://"):
        HashserverClient("localhost:1234")


def test_connections_follow_concurrency_not_thread_count(hashserver):
    """Short-lived threads (one per started transformation) reuse idle connections."""
    import threading

    client = HashserverClient(hashserver.url)
    for _ in range(30):
        thread = threading.Thread(target=client.healthcheck)
        thread.start()
        thread.join()
    # one request at a time: one kept-alive connection (one TCP/TLS handshake), reused 30 times
    assert (client._pool.num_connections, client._pool.num_requests) == (1, 30)
    barrier = threading.Barrier(4)

    def busy():
        barrier.wait()
        assert client.healthcheck()

    threads = [threading.Thread(target=busy) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert 1 <= client._pool.num_connections <= 4  # one more connection per request in flight
    assert client._pool.num_requests == 34
    client.close()
    with pytest.raises(RemoteError, match="is closed"):
        client.get_buffer(Checksum.of(b"x"))
