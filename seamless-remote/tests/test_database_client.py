"""DatabaseClient against a real, writable seamless-database 2.1.0 (2.1.0 cannot start read-only
with the installed peewee, so that mode is not offered by activation nor tested here)."""

from __future__ import annotations

import pytest

from seamless import Checksum
from seamless_remote import DatabaseClient, RemoteError, ServiceUnavailableError

pytestmark = pytest.mark.servers


def test_round_trip(database):
    client = DatabaseClient(database.url)
    tf, result = Checksum.of(b"transformation"), Checksum.of(b"result")
    assert client.healthcheck()
    assert client.get_result(tf) is None
    client.put_result(tf, result)
    assert DatabaseClient(database.url).get_result(tf) == result


def test_protocol(database):
    client = DatabaseClient(database.url)
    assert client.protocol()[:2] == ["seamless", "database"]
    client.check_protocol()


def test_hashserver_is_not_a_database(hashserver):
    with pytest.raises(RemoteError, match="not the seamless database protocol 2.x"):
        DatabaseClient(hashserver.url).check_protocol()


def test_unreachable_database():
    with pytest.raises(ServiceUnavailableError, match="database at http://127.0.0.1:9"):
        DatabaseClient("http://127.0.0.1:9").get_result(Checksum.of(b"x"))


def test_results_known_to_be_recorded_are_not_sent_again(database):
    tf, result = Checksum.of(b"tf known"), Checksum.of(b"result known")
    client = DatabaseClient(database.url)
    client.note_recorded(tf, result)  # as after a jobserver recorded it itself
    client.put_result(tf, result)  # skipped: no round trip
    assert DatabaseClient(database.url).get_result(tf) is None  # so nothing reached the server
    other = Checksum.of(b"another result")
    client.put_result(tf, other)  # a different result is sent
    assert DatabaseClient(database.url).get_result(tf) == other
    client.close()
