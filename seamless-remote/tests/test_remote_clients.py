"""The remote-clients parameters (what a jobserver is told to use): building and validation."""

from __future__ import annotations

import pytest

from seamless_remote import DatabaseClient, HashserverClient, clients_from_parameters, remote_clients_parameters


def test_parameters_build_clients():
    params = remote_clients_parameters("http://127.0.0.1:1", "http://127.0.0.1:2")
    params["buffer"].append({"url": "http://127.0.0.1:3", "readonly": True})
    clients = clients_from_parameters(params)
    assert [type(c) for c in clients.hashservers] == [HashserverClient, HashserverClient]
    assert [c.url for c in clients.writable(clients.hashservers)] == ["http://127.0.0.1:1"]
    assert isinstance(clients.databases[0], DatabaseClient) and clients.databases[0].url == "http://127.0.0.1:2"
    clients.close()


@pytest.mark.parametrize(
    "params, message",
    [
        ([], "must be a mapping"),
        ({"buffers": []}, r"unknown key\(s\) \['buffers'\]; valid keys: buffer, database"),
        ({"buffer": {"url": "http://x"}}, "'buffer' must be a list"),
        ({"database": [{"directory": "/tmp"}]}, "'database' entry 1 needs a 'url'"),
        ({"buffer": [{"url": "http://x", "mode": "rw"}]}, r"unknown key\(s\) \['mode'\]"),
        ({"buffer": [{"url": "ftp://x"}]}, "must start with http://"),
    ],
)
def test_invalid_parameters(params, message):
    with pytest.raises(ValueError, match=message):
        clients_from_parameters(params)
