"""Real hashserver, seamless-database and jobserver processes, stopped by PID after the module."""

from __future__ import annotations

from pathlib import Path

import pytest

from seamless_remote.testing import start_database, start_hashserver, start_jobserver


@pytest.fixture(scope="module")
def storage(tmp_path_factory):
    root: Path = tmp_path_factory.mktemp("storage")
    hashserver = start_hashserver(root / "buffers", ports=(62100, 62199))
    try:
        database = start_database(root / "database", ports=(62200, 62299))
    except BaseException:
        hashserver.stop()
        raise
    yield hashserver, database
    database.stop()
    hashserver.stop()


@pytest.fixture(scope="module")
def jobserver(storage, tmp_path_factory):
    hashserver, database = storage
    service = start_jobserver(tmp_path_factory.mktemp("jobserver"), hashserver.url, database.url, workers=2, ports=(62400, 62499))
    yield service
    assert service.stop() == 0, service.log.read_text()[-2000:]
