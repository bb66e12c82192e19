"""Run one transformation from its dict and the buffers it names: the body of every executor.

The same function runs in the calling process (``execution: process``), in the spawn pool's
workers, and is what a remote worker (jobserver, Dask worker) calls after fetching the buffers.
"""

from __future__ import annotations

import inspect
import traceback
from typing import Any, Callable, Mapping

from seamless import Buffer, Checksum, SerializationError

from .code import CodeLocation, load_function
from .errors import TransformationError
from .transformation_dict import TransformationSpec, parse_spec

BufferGetter = Callable[[Checksum], Buffer]


def _user_traceback(exc: BaseException) -> str:
    """The traceback of `exc` without the executor's own frames."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename == __file__:
        tb = tb.tb_next
    return "".join(traceback.TracebackException(type(exc), exc, tb).format())


def _call(func: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
    positional = [
        kwargs.pop(p.name)
        for p in inspect.signature(func).parameters.values()
        if p.kind is p.POSITIONAL_ONLY and p.name in kwargs
    ]
    return func(*positional, **kwargs)


def execute_spec(
    spec: TransformationSpec,
    get_buffer: BufferGetter,
    location: CodeLocation | None = None,
    checksum: Checksum | None = None,
) -> Buffer:
    """Run `spec`, reading code and inputs through `get_buffer`; return the result buffer.

    Raises `TransformationError` (with the original traceback) if the code raises, or if the
    result cannot be serialised as the spec's result cell type.
    """
    tf_hex = checksum.hex() if checksum is not None else None
    source = get_buffer(spec.code.checksum).get_value(spec.code.celltype)
    func = load_function(source, location)
    kwargs = {
        name: get_buffer(ref.checksum).get_value(ref.celltype) for name, ref in spec.inputs.items()
    }
    try:
        result = _call(func, kwargs)
    except Exception as exc:
        raise TransformationError(
            f"Transformation {func.__name__}() raised {type(exc).__name__}: {exc}",
            traceback=_user_traceback(exc),
            checksum=tf_hex,
        ) from None
    try:
        return Buffer.from_value(result, spec.result_celltype)
    except SerializationError as exc:
        raise TransformationError(
            f"The result of {func.__name__}() cannot be stored: {exc}", checksum=tf_hex
        ) from None


def execute_transformation(
    transformation: Mapping[str, Any],
    get_buffer: BufferGetter,
    location: CodeLocation | None = None,
) -> Buffer:
    """Validate a transformation dict and run it (see `execute_spec`)."""
    spec = parse_spec(transformation)
    return execute_spec(spec, get_buffer, location, spec.buffer().checksum)
