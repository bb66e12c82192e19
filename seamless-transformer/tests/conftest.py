"""Each test starts with process execution, empty memory cache, no disk cache, no backend."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from types import ModuleType

import pytest

import seamless_transformer as st
from seamless_transformer import cache


@pytest.fixture(autouse=True)
def clean_transformer_state(monkeypatch):
    monkeypatch.delenv(cache.CACHE_DIR_ENV, raising=False)
    st.set_execution("process")
    st.set_cache_dir(None)
    st.clear_memory_cache()
    st.register_backend(None)
    yield
    st.set_execution(None)
    st.set_cache_dir(None)
    st.clear_memory_cache()
    st.register_backend(None)


@pytest.fixture(scope="module")
def spawn_pool():
    """A pool of 2 real worker processes, stopped (and checked stopped) after the module."""
    st.spawn(2)
    from seamless_transformer.spawn_pool import worker_pids

    pids = worker_pids()
    yield pids
    st.shutdown_workers()


@pytest.fixture(scope="session")
def fns() -> ModuleType:
    """The module of shared transformer functions (loaded by path: tests are not a package)."""
    path = Path(__file__).with_name("transformer_functions.py")
    spec = importlib.util.spec_from_file_location("seamless_transformer_test_functions", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
