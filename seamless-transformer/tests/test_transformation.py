"""direct / delayed in process mode: identity, results, graphs, errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

import seamless_transformer as st
from seamless import Buffer, Checksum
from seamless_transformer import Transformation, TransformationError, delayed


def test_delayed_returns_pending_transformation_then_value(fns):
    tf = fns.add(1, 2)
    assert isinstance(tf, Transformation)
    assert tf.status == "pending" and tf.result is None and tf.value is None
    assert tf.run() == 3
    assert tf.status == "done" and tf.exception is None
    assert tf.result == Buffer.from_value(3).checksum
    assert tf.value == 3


def test_direct_computes_now(fns):
    assert fns.add_now(5) == 15
    assert fns.add_now(a=1, b=1) == 2


def test_compute_returns_self_and_start_runs_in_background(fns):
    tf = fns.add(4, 5)
    assert tf.compute() is tf and tf.value == 9
    started = fns.add(40, 2).start()
    assert started.compute().value == 42 and started.status == "done"


def test_checksum_from_code_and_inputs(fns):
    same = {fns.add(1, 2).checksum, fns.add(a=1, b=2).checksum, fns.add(1, b=2).checksum}
    assert len(same) == 1
    assert fns.add(1).checksum == fns.add(1, 10).checksum  # defaults are inputs too
    assert fns.add(1, 3).checksum != fns.add(1, 2).checksum
    assert fns.add(1.0, 2).checksum != fns.add(1, 2).checksum  # 1.0 and 1 serialise differently


def test_transformation_dict_describes_the_work(fns):
    tf = fns.add(1, 2)
    d = tf.transformation_dict
    assert d["language"] == "python" and d["result_celltype"] == "mixed"
    assert d["code"] == {"celltype": "text", "checksum": fns.add.code.checksum.hex()}
    assert set(d["inputs"]) == {"a", "b", "log"}
    assert d["inputs"]["a"] == {"celltype": "mixed", "checksum": Buffer.from_value(1).checksum.hex()}
    assert tf.checksum == Buffer.from_value(d, "plain").checksum
    # a remote worker can run it from the dict and buffers fetched by checksum
    buffers = {fns.add.code.checksum: fns.add.code.buffer}
    for value in (1, 2, None):
        buffers[Buffer.from_value(value).checksum] = Buffer.from_value(value)
    result = st.execute_transformation(d, lambda cs: buffers[Checksum(cs)])
    assert result.get_value() == 3


def test_code_checksum_ignores_decorator_but_not_body():
    @delayed
    def f(x):
        return x + 1

    plus = f.code.checksum

    @delayed
    def g(x):
        return x - 1

    assert g.code.source == "def g(x):\n    return x - 1\n"
    assert g.code.checksum != plus
    assert g(1).run() == 0


def test_graph_of_transformations(fns):
    left = fns.add(1, 2)
    right = fns.add(3, 4)
    top = fns.add(left, right)
    assert top.status == "pending"
    assert top.run() == 10
    assert left.status == right.status == "done"
    # identity of the graph depends on upstream *results*: same values, same checksum
    assert fns.add(fns.add(2, 1), fns.add(4, 3)).checksum == top.checksum
    assert top.transformation_dict["inputs"]["a"]["checksum"] == left.result.hex()


def test_deep_graph_and_numpy(fns):
    arr = np.arange(6.0).reshape(2, 3)
    tf = fns.array_stats(arr, fns.add(1, 1))
    out = tf.run()
    assert out["sum"] == 30.0
    np.testing.assert_array_equal(out["doubled"], arr * 2)
    chain = fns.add(0, 1)
    for _ in range(20):
        chain = fns.add(chain, 1)
    assert chain.run() == 21


def test_exception_carries_original_traceback(fns):
    tf = fns.divide(1, 0)
    assert tf.compute() is tf  # compute() records, does not raise
    assert tf.status == "error" and tf.value is None and tf.result is None
    exc = tf.exception
    assert isinstance(exc, TransformationError) and isinstance(exc, RuntimeError)
    assert "ZeroDivisionError" in str(exc)
    assert "transformer_functions.py" in exc.traceback
    assert "quotient = a / b" in exc.traceback
    assert exc.checksum == tf.checksum.hex()
    with pytest.raises(TransformationError, match="ZeroDivisionError") as info:
        tf.run()
    assert "quotient = a / b" in str(info.value)


def test_failed_input_fails_downstream(fns):
    top = fns.add(fns.divide(1, 0), 1)
    with pytest.raises(TransformationError, match="Input 'a' of add\\(\\) failed"):
        top.run()
    assert "quotient = a / b" in top.exception.traceback


def test_errors_are_not_cached(fns, tmp_path):
    flag = tmp_path / "flag"
    tf = fns.flaky(str(flag))
    with pytest.raises(TransformationError, match="flag file missing"):
        tf.run()
    flag.touch()
    assert fns.flaky(str(flag)).run() == "ok"


def test_unusable_functions_are_refused_clearly():
    with pytest.raises(TransformationError, match="Lambdas"):
        delayed(lambda x: x)
    y = 3

    with pytest.raises(TransformationError, match=r"test_transformation\.py:\d+\) uses .*enclosing function \(y\).*as arguments"):
        @delayed
        def closure(x):
            return x + y

    with pytest.raises(TransformationError, match="variadic"):
        @delayed
        def variadic(*args):
            return args

    with pytest.raises(TransformationError, match="not a Python function"):
        delayed(len)
    namespace: dict = {}
    exec("def nosource(x):\n    return x\n", namespace)
    with pytest.raises(TransformationError, match="source of nosource is not available"):
        delayed(namespace["nosource"])


def test_bad_call_names_the_function(fns):
    with pytest.raises(TypeError, match="add\\(\\): .*unexpected keyword argument 'c'"):
        fns.add(1, c=2)


def test_unpicklable_argument_gives_clear_error(fns):
    from seamless import SerializationError

    with pytest.raises(SerializationError, match="cannot be pickled"):
        fns.add(threading.Lock())


def test_function_globals_are_not_visible(tmp_path):
    """Code runs from its source alone: module globals are not captured (identity stays honest)."""

    @delayed
    def uses_global(x):
        return x + threading.active_count()

    with pytest.raises(TransformationError, match="NameError: name 'threading' is not defined"):
        uses_global(1).run()


def test_positional_only_parameters():
    @delayed
    def po(a, /, b):
        return a - b

    assert po(5, b=2).run() == 3


def test_unserialisable_result_is_reported():
    @delayed
    def make_lock():
        import threading

        return threading.Lock()

    with pytest.raises(TransformationError, match="result of make_lock\\(\\) cannot be stored"):
        make_lock().run()
