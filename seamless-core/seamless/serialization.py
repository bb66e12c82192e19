"""Deterministic serialisation of values to buffers (bytes) and back, per *cell type*.

Cell types:

``plain``
    JSON-able values (dict with str keys, list, str, int, finite float, bool, None), written as
    canonical JSON: keys sorted, no insignificant whitespace, UTF-8, one trailing newline. Equal
    values give equal bytes in every process and on every machine. Tuples, NaN/infinity and
    non-str keys are *not* plain (they would not come back unchanged).
``text``
    a ``str``, as UTF-8.
``bytes``
    ``bytes`` / ``bytearray``, unchanged.
``binary``
    a NumPy array in the portable ``.npy`` format (version 1.0, C order, little-endian for
    numeric types, no pickled objects). Object arrays are refused.
``pickle``
    **the fallback** for everything else (tuples, sets, NumPy scalars, custom classes): Python's
    pickle, protocol 4. It round-trips any picklable value, but its bytes, and therefore the
    checksum, are only guaranteed stable for the same Python and library versions; sets of
    strings may even pickle in a different order in another process (hash randomisation).
    Prefer plain values or arrays for inputs whose checksum must be reproducible.
``mixed``
    self-describing: a one-line header ``seamless:<inner cell type>\\n`` followed by the inner
    serialisation, where the inner cell type is chosen by :func:`infer_celltype`. Any value can be
    stored as ``mixed`` and read back without knowing its type; transformations use it for their
    inputs and results.
"""

from __future__ import annotations

import io
import json
import math
import pickle
import sys
from typing import Any, Callable

from .errors import SerializationError

CELLTYPES = ("plain", "text", "bytes", "binary", "pickle", "mixed")
PICKLE_PROTOCOL = 4
_MIXED_PREFIX = b"seamless:"
_MIXED_INNER = ("plain", "text", "bytes", "binary", "pickle")
_SCALARS = (str, int, float, bool, type(None))


def _is_ndarray(value: Any) -> bool:
    numpy = sys.modules.get("numpy")  # no array can exist unless numpy was imported
    return numpy is not None and isinstance(value, numpy.ndarray)


def is_plain(value: Any) -> bool:
    """True if `value` survives a canonical-JSON round trip unchanged (see ``plain``)."""
    try:
        return _is_plain(value)
    except RecursionError:  # self-referencing containers are not JSON
        return False


def _is_plain(value: Any) -> bool:
    kind = type(value)
    if kind is float:
        return math.isfinite(value)
    if kind in _SCALARS:
        return True
    if kind is list:
        return all(_is_plain(item) for item in value)
    if kind is dict:
        return all(type(k) is str and _is_plain(v) for k, v in value.items())
    return False


def infer_celltype(value: Any) -> str:
    """The cell type ``mixed`` uses for `value`: the most portable one that round-trips it."""
    if isinstance(value, (bytes, bytearray)):
        return "bytes"
    if type(value) is str:
        return "text"
    if _is_ndarray(value):
        return "binary" if value.dtype.kind != "O" else "pickle"
    if is_plain(value):
        return "plain"
    return "pickle"


def _check_celltype(celltype: str) -> None:
    if celltype not in CELLTYPES:
        raise SerializationError(
            f"Unknown cell type {celltype!r}; valid cell types are: {', '.join(CELLTYPES)}"
        )


def _plain_to_bytes(value: Any) -> bytes:
    if not is_plain(value):
        raise SerializationError(
            f"Value of type {type(value).__name__} is not plain: cell type 'plain' takes dict "
            "(str keys), list, str, int, finite float, bool and None, nested; use 'mixed' or "
            "'pickle' for other values"
        )
    return _dump_plain(value)


def _dump_plain(value: Any) -> bytes:
    """Canonical JSON of a value already known to be plain."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8") + b"\n"


def _text_to_bytes(value: Any) -> bytes:
    if type(value) is not str:
        raise SerializationError(f"Cell type 'text' takes a str, not {type(value).__name__}")
    return value.encode("utf-8")


def _bytes_to_bytes(value: Any) -> bytes:
    if not isinstance(value, (bytes, bytearray)):
        raise SerializationError(
            f"Cell type 'bytes' takes bytes or bytearray, not {type(value).__name__}"
        )
    return bytes(value)


def _array_to_bytes(value: Any) -> bytes:
    if not _is_ndarray(value):
        raise SerializationError(
            f"Cell type 'binary' takes a NumPy array, not {type(value).__name__}"
        )
    import numpy

    if value.dtype.kind == "O":
        raise SerializationError(
            "Cell type 'binary' refuses object arrays (they would need pickle); use 'pickle'"
        )
    if value.dtype.byteorder == ">":
        value = value.astype(value.dtype.newbyteorder("<"))
    stream = io.BytesIO()
    if not value.flags.c_contiguous:
        value = value.copy(order="C")  # keeps 0-d arrays 0-d, unlike ascontiguousarray
    numpy.lib.format.write_array(stream, value, version=(1, 0), allow_pickle=False)
    return stream.getvalue()


def _pickle_to_bytes(value: Any) -> bytes:
    try:
        return pickle.dumps(value, protocol=PICKLE_PROTOCOL)
    except Exception as exc:
        raise SerializationError(
            f"Value of type {type(value).__name__} cannot be pickled, so no cell type can "
            f"serialise it: {exc}"
        ) from exc


def _mixed_to_bytes(value: Any) -> bytes:
    inner = infer_celltype(value)
    body = _dump_plain(value) if inner == "plain" else _SERIALIZERS[inner](value)  # checked once
    return _MIXED_PREFIX + inner.encode("ascii") + b"\n" + body


def _bytes_to_array(data: bytes) -> Any:
    import numpy

    return numpy.lib.format.read_array(io.BytesIO(data), allow_pickle=False)


def _bytes_to_plain(data: bytes) -> Any:
    return json.loads(data.decode("utf-8"))


def _bytes_to_mixed(data: bytes) -> Any:
    newline = data.find(b"\n", 0, 64)
    inner = data[len(_MIXED_PREFIX):newline].decode("ascii", "replace")
    if not data.startswith(_MIXED_PREFIX) or newline < 0 or inner not in _MIXED_INNER:
        raise SerializationError(
            "Buffer is not of cell type 'mixed': it must start with a header line "
            f"'seamless:<celltype>' with celltype one of {', '.join(_MIXED_INNER)}"
        )
    return _DESERIALIZERS[inner](data[newline + 1:])


_SERIALIZERS: dict[str, Callable[[Any], bytes]] = {
    "plain": _plain_to_bytes,
    "text": _text_to_bytes,
    "bytes": _bytes_to_bytes,
    "binary": _array_to_bytes,
    "pickle": _pickle_to_bytes,
    "mixed": _mixed_to_bytes,
}

_DESERIALIZERS: dict[str, Callable[[bytes], Any]] = {
    "plain": _bytes_to_plain,
    "text": lambda data: data.decode("utf-8"),
    "bytes": bytes,
    "binary": _bytes_to_array,
    "pickle": pickle.loads,
    "mixed": _bytes_to_mixed,
}


def serialize(value: Any, celltype: str = "mixed") -> bytes:
    """Serialise `value` as `celltype` (default ``mixed``); equal values give equal bytes."""
    _check_celltype(celltype)
    return _SERIALIZERS[celltype](value)


def deserialize(data: bytes | bytearray | memoryview, celltype: str = "mixed") -> Any:
    """Turn a buffer written by :func:`serialize` with the same `celltype` back into a value."""
    _check_celltype(celltype)
    try:
        return _DESERIALIZERS[celltype](bytes(data))
    except SerializationError:
        raise
    except Exception as exc:
        raise SerializationError(
            f"Buffer ({len(data)} bytes) cannot be read as cell type {celltype!r}: {exc}"
        ) from exc
