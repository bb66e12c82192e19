"""The pure-Dask guard: transformations are refused while seamless_config's pure-Dask mode is
active.

Here the state comes from a module object put into ``sys.modules`` under the real module's name,
with an `is_active()` the test controls; the end-to-end check, where a real pure-Dask
`set_stage()` on the local cluster activates it, lives in the root ``tests/``.
"""

from __future__ import annotations

import sys
import types

import pytest

from seamless_transformer import TransformationError
from seamless_transformer.guard import PURE_DASK_MODULE


@pytest.fixture
def pure_dask(monkeypatch):
    state = {"active": True}
    module = types.ModuleType(PURE_DASK_MODULE)
    module.is_active = lambda: state["active"]
    monkeypatch.setitem(sys.modules, PURE_DASK_MODULE, module)
    return state


def _check_message(exc: BaseException) -> None:
    text = str(exc)
    assert "unavailable in pure Dask mode" in text
    assert "persistent: true" in text
    assert "distributed.get_client()" in text


def test_constructing_is_refused(fns, pure_dask):
    with pytest.raises(TransformationError) as info:
        fns.add(1, 2)
    _check_message(info.value)
    with pytest.raises(TransformationError) as info:
        fns.add_now(1, 2)
    _check_message(info.value)


def test_running_is_refused(fns, pure_dask, tmp_path):
    pure_dask["active"] = False
    tfs = [fns.add(i, log=str(tmp_path)) for i in range(3)]
    pure_dask["active"] = True
    for action in ("compute", "run", "start"):
        with pytest.raises(TransformationError, match="pure Dask"):
            getattr(tfs[0], action)()
    assert fns.count_runs(tmp_path) == 0
    pure_dask["active"] = False  # deactivated (stage change): transformations work again
    assert tfs[1].run() == 11


def test_inactive_module_does_not_interfere(fns, pure_dask):
    pure_dask["active"] = False
    assert fns.add(1, 1).run() == 2


def test_refusal_comes_before_any_other_check_of_the_function(pure_dask):
    """A function without source (exec, python -c) gets the pure-Dask message, not the source one."""
    from seamless_transformer import delayed, direct

    namespace: dict = {}
    exec("def nosource(x):\n    return x\n", namespace)
    for decorator in (delayed, direct):
        transformer = decorator(namespace["nosource"])  # decorating is harmless in pure Dask mode
        with pytest.raises(TransformationError) as info:
            transformer(1)
        _check_message(info.value)
    pure_dask["active"] = False  # pure Dask mode ends: then the source problem is the one to tell
    with pytest.raises(TransformationError, match="source of nosource is not available"):
        delayed(namespace["nosource"])(1)


def test_function_decorated_in_pure_dask_mode_works_after_it(fns, pure_dask):
    from seamless_transformer import delayed

    def triple(x):
        return 3 * x

    transformer = delayed(triple)
    assert transformer.code is None  # not examined while pure Dask mode is active
    pure_dask["active"] = False
    assert transformer(2).run() == 6
