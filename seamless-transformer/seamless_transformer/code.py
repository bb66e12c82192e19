"""The code of a transformation: a Python function turned into self-contained source text.

The source (without decorators) is the code buffer; its checksum is part of the transformation's
identity. Execution always rebuilds the function from that source, in every execution mode, so a
result depends only on what the checksum covers: the function may use only its arguments, builtins
and what it imports inside its body (no closures, no module globals).
"""

from __future__ import annotations

import ast
import inspect
import linecache
import textwrap
import threading
from dataclasses import dataclass
from types import FunctionType
from typing import Any, Callable

from seamless import Buffer, Checksum

from .errors import TransformationError

CODE_CELLTYPE = "text"


@dataclass(frozen=True)
class CodeLocation:
    """Where the source came from: used for tracebacks only, not part of any checksum."""

    filename: str
    lineno: int


@dataclass(frozen=True)
class FunctionCode:
    """A function's self-contained source, its checksum and the names of its parameters."""

    name: str
    source: str
    buffer: Buffer
    parameters: tuple[inspect.Parameter, ...]
    location: CodeLocation

    @property
    def checksum(self) -> Checksum:
        return self.buffer.checksum


def _describe(func: Callable[..., Any]) -> str:
    return getattr(func, "__qualname__", repr(func))


def function_code(func: Callable[..., Any]) -> FunctionCode:
    """Extract `func`'s source; raise `TransformationError` saying why a function is unusable."""
    if not isinstance(func, FunctionType):
        raise TransformationError(
            f"{_describe(func)!s} is not a Python function (def ...): transformations take plain "
            "functions, not classes, builtins or callable objects"
        )
    if func.__name__ == "<lambda>":
        raise TransformationError(
            "Lambdas cannot be transformations (their source is not separable); use a def"
        )
    where = f"{func.__code__.co_filename}:{func.__code__.co_firstlineno}"
    if func.__code__.co_freevars:
        raise TransformationError(
            f"Function {func.__qualname__} ({where}) uses variables of an enclosing function "
            f"({', '.join(func.__code__.co_freevars)}); a transformation must be self-contained: "
            "pass them as arguments"
        )
    parameters = tuple(inspect.signature(func).parameters.values())
    variadic = [p.name for p in parameters if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD)]
    if variadic:
        raise TransformationError(
            f"Function {func.__qualname__} ({where}) has variadic parameters "
            f"({', '.join(variadic)}); "
            "each input of a transformation must be a named parameter"
        )
    try:
        lines, first_line = inspect.getsourcelines(func)
    except (OSError, TypeError) as exc:
        raise TransformationError(
            f"The source of {func.__qualname__} is not available ({where}): {_no_source_reason(func, exc)}. "
            "Seamless needs it: the source is part of a transformation's identity (its checksum) and is "
            "what runs, in every mode. Define the function in a .py file (run or imported) or in a "
            "Jupyter/IPython cell"
        ) from exc
    text = textwrap.dedent("".join(lines))
    node = ast.parse(text).body[0]
    if not isinstance(node, ast.FunctionDef):
        raise TransformationError(f"{func.__qualname__} ({where}) must be a plain (non-async) def")
    source = "".join(text.splitlines(keepends=True)[node.lineno - 1:])
    if not source.endswith("\n"):
        source += "\n"
    location = CodeLocation(func.__code__.co_filename, first_line + node.lineno - 1)
    return FunctionCode(
        func.__name__, source, Buffer.from_value(source, CODE_CELLTYPE), parameters, location
    )


#: Code "files" whose text Python does not keep, and how the function got there.
_NO_SOURCE = {
    "<stdin>": "it was typed at the plain Python prompt or read from standard input, whose text Python does not keep",
    "<string>": "it was defined by exec() or 'python -c', whose text Python does not keep",
}


def _no_source_reason(func: FunctionType, exc: BaseException) -> str:
    return _NO_SOURCE.get(func.__code__.co_filename, f"inspect cannot find it ({exc})")


_compiled: dict[Checksum, FunctionType] = {}
_compiled_lock = threading.Lock()


def load_function(source: str, location: CodeLocation | None = None) -> FunctionType:
    """Rebuild the function defined by `source` (cached per source checksum).

    With a `location`, line numbers in tracebacks match the original file; if that file is not
    readable here (another machine), the source is registered in `linecache` under its name.
    """
    key = Checksum.of(source.encode("utf-8"))
    with _compiled_lock:
        cached = _compiled.get(key)
    if cached is not None:
        return cached
    tree = ast.parse(source)
    defs = [n for n in tree.body if isinstance(n, ast.FunctionDef)]
    if len(tree.body) != 1 or len(defs) != 1:
        raise TransformationError(
            "Transformation code must be exactly one top-level 'def' statement"
        )
    filename = f"<transformation {defs[0].name}>"
    if location is not None:
        filename = location.filename
        ast.increment_lineno(tree, location.lineno - 1)
        if not linecache.getlines(filename):
            padded = ["\n"] * (location.lineno - 1) + source.splitlines(keepends=True)
            linecache.cache[filename] = (len(source), None, padded, filename)
    namespace: dict[str, Any] = {"__name__": "__seamless_transformation__"}
    exec(compile(tree, filename, "exec"), namespace)
    func = namespace[defs[0].name]
    with _compiled_lock:
        _compiled[key] = func
    return func
