"""Real hashserver and seamless-database processes (started directly), stopped by PID after use."""

from __future__ import annotations

from pathlib import Path

import pytest

from seamless_remote.testing import start_database, start_hashserver


@pytest.fixture(scope="module")
def service_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("services")


@pytest.fixture(scope="module")
def hashserver(service_dir: Path):
    service = start_hashserver(service_dir / "buffers")
    yield service
    assert service.stop() is not None


@pytest.fixture(scope="module")
def database(service_dir: Path):
    service = start_database(service_dir / "database")
    yield service
    assert service.stop() is not None
