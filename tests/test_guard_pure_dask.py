"""The transformer guard, switched on by a real pure-Dask launch (embedded-style local cluster).

A real seamless-dask-wrapper is launched through set_stage(); while its client is active every
Seamless transformer is refused with a message that says how to get them back; after the stage
changes to a non-Dask mode they work again. The scheduler is stopped by PID at the end.
"""

from __future__ import annotations

import secrets
from pathlib import Path

import pytest

import seamless_config
from seamless_config import launching, lifecycle, pure_daskserver
from seamless_config.tools import configure_pure_daskserver


def add_one(a):
    return a + 1


@pytest.fixture
def pure_project(tmp_path: Path, isolated_home: Path):
    name = f"guard{secrets.token_hex(3)}"  # a key of its own: no other test's scheduler is reused
    project = tmp_path / "project"
    project.mkdir()
    (project / "seamless.profile.yaml").write_text(
        f"- clusters:\n    {name}: {{type: local, workers: 1}}\n- cluster: {name}\n"
        "- execution: process\n- persistent: false\n- stage dask:\n    - execution: remote\n"
    )
    lifecycle.reset()
    config = None
    try:
        seamless_config.set_stage(workdir=project)
        config = configure_pure_daskserver()
        yield project
    finally:
        lifecycle.reset()
        if config is not None:
            launching.stop(config)


def test_transformers_refused_while_pure_dask_is_active(pure_project: Path):
    from seamless_transformer import TransformationError, delayed, direct

    assert direct(add_one)(1) == 2  # process mode: transformers work
    client = seamless_config.set_stage("dask")
    assert pure_daskserver.is_active() and client.submit(sum, [40, 2]).result(timeout=60) == 42

    with pytest.raises(TransformationError, match="pure Dask") as info:
        delayed(add_one)(1)
    message = str(info.value)
    assert "persistent: true" in message and "get_client" in message
    with pytest.raises(TransformationError, match="pure Dask"):
        direct(add_one)(2)

    seamless_config.set_stage()  # back to process mode: the client closes, transformers return
    assert not pure_daskserver.is_active() and seamless_config.get_dask_client() is None
    assert direct(add_one)(3) == 4


def test_transformation_built_before_activation_is_refused_at_run_time(pure_project: Path):
    from seamless_transformer import TransformationError, delayed

    tf = delayed(add_one)(10)
    seamless_config.set_stage("dask")
    with pytest.raises(TransformationError, match="pure Dask"):
        tf.compute()
