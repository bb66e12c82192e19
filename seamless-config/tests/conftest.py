"""Every seamless-config test starts from a clean selection, a fresh HOME and a temp workdir."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from seamless_config import cluster, lifecycle


@pytest.fixture(autouse=True)
def fresh_config(isolated_home: Path):
    lifecycle.reset()
    cluster.define_clusters({})
    yield
    lifecycle.reset()


@pytest.fixture
def project_dir(tmp_path: Path) -> Path:
    d = tmp_path / "project"
    d.mkdir()
    return d


def _write_yaml(path: Path, data) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


@pytest.fixture
def write_yaml():
    """write_yaml(path, text_or_data) -> path"""
    return _write_yaml
