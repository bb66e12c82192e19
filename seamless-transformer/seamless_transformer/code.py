"""The code of a transformation: a Python function turned into self-contained source text.

The source (without decorators) is the code buffer; its checksum is part of the transformation's
identity. Execution always rebuilds the function from that source, in every execution mode, so a
result depends only on what the checksum covers: the function may use only its arguments, builtins
and what it imports inside its body (no closures, no module globals).
"""

from __future__ import annotations

import __future__
import ast
import inspect
import linecache
import sys
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
        lines, first_line = _source_lines(func)
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
    "<string>": "it was defined by exec(), whose text Python does not keep",
}
#: Interpreter options that take the next argument (``python -X importtime -c ...``).
_OPTIONS_WITH_VALUE = ("-W", "-X")
_FLAG_LETTERS = set("bBdEhiIOPqRsSuvx")
_FUTURE_FLAGS = sum(getattr(__future__, name).compiler_flag for name in __future__.all_feature_names)


def _source_lines(func: FunctionType) -> tuple[list[str], int]:
    """``inspect.getsourcelines``, else the lines of a function defined by ``python -c``."""
    try:
        return inspect.getsourcelines(func)
    except (OSError, TypeError):
        found = _command_line_source(func)
        if found is None:
            raise
        return found


def _python_c_command() -> str | None:
    """The program text of ``python -c TEXT`` (from ``sys.orig_argv``), if that is how Python runs."""
    argv = getattr(sys, "orig_argv", [])
    i = 1
    while i < len(argv):
        arg = argv[i]
        if arg == "-c" or (arg.startswith("-") and arg.endswith("c") and set(arg[1:-1]) <= _FLAG_LETTERS and len(arg) > 2):
            return argv[i + 1] if i + 1 < len(argv) else None
        if arg in _OPTIONS_WITH_VALUE:
            i += 2
            continue
        if not arg.startswith("-") or arg in ("-m", "-"):
            return None  # a script, a module or stdin
        i += 1
    return None


def _command_line_source(func: FunctionType) -> tuple[list[str], int] | None:
    """The lines of ``func`` in its ``python -c`` program, when compiling them gives ``func``'s own
    bytecode (so a function that exec() made from other text is never given this text)."""
    code = func.__code__
    command = _python_c_command() if code.co_filename == "<string>" else None
    if command is None:
        return None
    try:
        tree = ast.parse(command)
    except SyntaxError:
        return None
    lines = command.splitlines(keepends=True)
    for node in ast.walk(tree):
        if not isinstance(node, ast.FunctionDef) or node.name != func.__name__:
            continue
        start = min([node.lineno] + [d.lineno for d in node.decorator_list])
        candidate = lines[start - 1:node.end_lineno]
        if start == code.co_firstlineno and _compiles_to(candidate, start, code):
            return candidate, start
    return None


def _compiles_to(lines: list[str], start: int, code: Any) -> bool:
    tree = ast.parse(textwrap.dedent("".join(lines)))
    ast.increment_lineno(tree, start - 1)
    # the __future__ features of the original, not those of this module
    module = compile(tree, code.co_filename, "exec", flags=code.co_flags & _FUTURE_FLAGS, dont_inherit=True)
    made = [c for c in module.co_consts if hasattr(c, "co_code") and c.co_name == code.co_name]
    return len(made) == 1 and _code_key(made[0]) == _code_key(code)


def _code_key(code: Any) -> tuple:
    """What a code object does (bytecode, names, constants, signature), not where it stands."""
    consts = tuple(_code_key(c) if hasattr(c, "co_code") else (type(c), c) for c in code.co_consts)
    return (
        code.co_code, code.co_names, code.co_varnames, code.co_freevars, code.co_cellvars, code.co_flags,
        code.co_argcount, code.co_posonlyargcount, code.co_kwonlyargcount, consts,
    )


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
