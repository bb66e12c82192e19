"""Round trips through every cell type, determinism, and clear errors for bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest

from seamless import (
    CELLTYPES,
    Buffer,
    SerializationError,
    deserialize,
    infer_celltype,
    is_plain,
    serialize,
)

PLAIN_VALUES = [
    None, True, 0, -7, 2**80, 1.5, -0.0, 1e-300, "", "ünïcode", [], {}, [1, "a", None],
    {"k": {"nested": [1, 2, {"x": False}]}, "é": 3.25},
]


@pytest.mark.parametrize("value", PLAIN_VALUES)
def test_plain_round_trip(value):
    data = serialize(value, "plain")
    back = deserialize(data, "plain")
    assert back == value and type(back) is type(value)
    if isinstance(value, float):
        assert math.copysign(1, back) == math.copysign(1, value)


def test_plain_is_canonical():
    a = serialize({"b": 1, "a": [1, 2]}, "plain")
    b = serialize({"a": [1, 2], "b": 1}, "plain")
    assert a == b == b'{"a":[1,2],"b":1}\n'


@pytest.mark.parametrize(
    "value", [(1, 2), {1: "a"}, float("nan"), float("inf"), {1, 2}, np.float64(1.0), b"x"]
)
def test_not_plain_is_refused(value):
    assert not is_plain(value)
    with pytest.raises(SerializationError, match="not plain"):
        serialize(value, "plain")


def test_text_bytes_round_trip():
    assert deserialize(serialize("héllo\n", "text"), "text") == "héllo\n"
    assert serialize("héllo", "text") == "héllo".encode()
    assert deserialize(serialize(b"\x00\xff", "bytes"), "bytes") == b"\x00\xff"
    assert serialize(bytearray(b"ab"), "bytes") == b"ab"
    with pytest.raises(SerializationError, match="takes a str"):
        serialize(3, "text")
    with pytest.raises(SerializationError, match="takes bytes"):
        serialize("s", "bytes")


@pytest.mark.parametrize(
    "array",
    [
        np.arange(10),
        np.linspace(0, 1, 7).reshape(7, 1),
        np.zeros((2, 0, 3), dtype="complex128"),
        np.array([True, False]),
        np.array(["ab", "c"]),
        np.array(3.5),
        np.array([(1, 2.0)], dtype=[("a", "<i4"), ("b", "<f8")]),
    ],
)
def test_binary_round_trip(array):
    data = serialize(array, "binary")
    assert data.startswith(b"\x93NUMPY\x01\x00")  # portable .npy, version 1.0
    back = deserialize(data, "binary")
    assert back.dtype == array.dtype and back.shape == array.shape
    np.testing.assert_array_equal(back, array)


def test_binary_canonical_layout():
    c = np.arange(6.0).reshape(2, 3)
    assert serialize(c, "binary") == serialize(np.asfortranarray(c), "binary")
    assert serialize(c[:, ::2], "binary") == serialize(np.ascontiguousarray(c[:, ::2]), "binary")
    big = np.array([1, 2], dtype=">i8")
    assert serialize(big, "binary") == serialize(np.array([1, 2], dtype="<i8"), "binary")


def test_binary_refuses_object_arrays_and_non_arrays():
    with pytest.raises(SerializationError, match="object arrays"):
        serialize(np.array([object()]), "binary")
    with pytest.raises(SerializationError, match="NumPy array"):
        serialize([1, 2], "binary")


class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y

    def __eq__(self, other):
        return isinstance(other, Point) and (self.x, self.y) == (other.x, other.y)


@pytest.mark.parametrize(
    "value, inner",
    [
        ({"a": 1}, "plain"),
        ("text", "text"),
        (b"raw", "bytes"),
        (np.arange(3), "binary"),
        ((1, "two"), "pickle"),
        (frozenset({1, 2}), "pickle"),
        (Point(1, 2), "pickle"),
        (np.array([None, 1], dtype=object), "pickle"),
        (float("nan"), "pickle"),
    ],
)
def test_mixed_round_trip_picks_inner_celltype(value, inner):
    assert infer_celltype(value) == inner
    data = serialize(value)  # default cell type: mixed
    assert data.startswith(f"seamless:{inner}\n".encode())
    back = deserialize(data)
    if isinstance(value, np.ndarray):
        np.testing.assert_array_equal(back, value)
    elif isinstance(value, float):
        assert math.isnan(back)
    else:
        assert back == value and type(back) is type(value)


def test_pickle_fallback_handles_cycles():
    cyc: list = [1]
    cyc.append(cyc)
    assert infer_celltype(cyc) == "pickle"
    back = deserialize(serialize(cyc))
    assert back[1] is back


def test_unpicklable_value_gives_clear_error():
    import threading

    with pytest.raises(SerializationError, match="cannot be pickled"):
        serialize(threading.Lock())


def test_unknown_celltype_names_valid_ones():
    with pytest.raises(SerializationError, match="valid cell types are: " + ", ".join(CELLTYPES)):
        serialize(1, "json")


def test_corrupt_buffers_give_clear_errors():
    with pytest.raises(SerializationError, match="not of cell type 'mixed'"):
        deserialize(b"no header")
    with pytest.raises(SerializationError, match="cannot be read as cell type 'plain'"):
        deserialize(b"{not json", "plain")


def test_buffer_checksum_is_lazy_and_correct():
    buf = Buffer.from_value({"x": [1, 2]}, "plain")
    assert buf._checksum is None
    import hashlib

    assert buf.checksum.hex() == hashlib.sha256(buf.content).hexdigest()
    assert buf.get_value("plain") == {"x": [1, 2]}
    assert Buffer(buf.content) == buf and len(buf) == len(buf.content)
    with pytest.raises(TypeError, match="from_value"):
        Buffer({"x": 1})
