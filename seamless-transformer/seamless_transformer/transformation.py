"""`Transformation`: one call of a transformer function, identified by its checksum."""

from __future__ import annotations

import threading
import traceback
from typing import Any

from seamless import Buffer, Checksum

from . import cache
from .code import FunctionCode
from .compute import compute_result
from .errors import TransformationError
from .guard import check_not_pure_dask
from .transformation_dict import INPUT_CELLTYPE, TransformationSpec, build_spec
from .write_behind import get_write_behind

STATUSES = ("pending", "running", "done", "error")
_NO_VALUE = object()


class Transformation:
    """A function applied to inputs; inputs may be values or other transformations (a graph).

    Nothing runs until `compute()`, `run()` or `start()`. Its `checksum` covers the language,
    the code and the checksums of the inputs, so equal work has equal identity and is computed
    once (see :mod:`seamless_transformer.cache`). Inputs that are transformations are computed
    first: their *result* checksum is what enters this checksum.
    """

    def __init__(self, code: FunctionCode, arguments: dict[str, Any]):
        check_not_pure_dask()
        self._code = code
        self._upstream: dict[str, Transformation] = {}
        self._input_checksums: dict[str, Checksum] = {}
        for name, value in arguments.items():
            if isinstance(value, Transformation):
                self._upstream[name] = value
            else:
                buffer = Buffer.from_value(value, INPUT_CELLTYPE)
                cache.put_buffer(buffer, persistent=False)
                self._input_checksums[name] = buffer.checksum
        self._input_names = list(arguments)
        cache.put_buffer(code.buffer, persistent=False)
        self._spec: TransformationSpec | None = None
        self._checksum: Checksum | None = None
        self._result: Buffer | None = None
        self._value: Any = _NO_VALUE
        self._exception: TransformationError | None = None
        self._status = "pending"
        self._claimed = False
        self._lock = threading.Lock()
        self._done = threading.Event()

    # -- identity ---------------------------------------------------------------------------

    def _prepare(self) -> tuple[TransformationSpec, Checksum]:
        if self._spec is None:
            for dep in self._upstream.values():
                dep.start()
            inputs: dict[str, Checksum] = {}
            for name in self._input_names:
                if name in self._input_checksums:
                    inputs[name] = self._input_checksums[name]
                    continue
                dep = self._upstream[name].compute()
                if dep.exception is not None:
                    raise TransformationError(
                        f"Input {name!r} of {self._code.name}() failed: {dep.exception.message}",
                        traceback=dep.exception.traceback,
                    )
                assert dep.result is not None  # done without an exception
                inputs[name] = dep.result
            spec = build_spec(self._code.checksum, inputs)
            self._checksum = spec.buffer().checksum
            self._spec = spec
        assert self._checksum is not None  # set together with _spec
        return self._spec, self._checksum

    @property
    def checksum(self) -> Checksum:
        """The transformation checksum (computes upstream transformations first, if any)."""
        return self._prepare()[1]

    @property
    def transformation_dict(self) -> dict[str, Any]:
        """The transformation dict (see :mod:`seamless_transformer.transformation_dict`)."""
        return self._prepare()[0].to_dict()

    # -- running ----------------------------------------------------------------------------

    def _claim(self) -> bool:
        check_not_pure_dask()
        with self._lock:
            if self._claimed:
                return False
            self._claimed = True
            self._status = "running"
            return True

    def _execute(self) -> None:
        try:
            check_not_pure_dask()
            spec, checksum = self._prepare()
            self._result = compute_result(spec, checksum, self._code.location)
            self._status = "done"
        except TransformationError as exc:
            if exc.checksum is None and self._checksum is not None:
                exc.checksum = self._checksum.hex()
            self._exception = exc
            self._status = "error"
        except Exception as exc:
            self._exception = TransformationError(
                f"Transformation {self._code.name}() could not be run: {type(exc).__name__}: {exc}",
                traceback=traceback.format_exc(),
                checksum=self._checksum.hex() if self._checksum else None,
            )
            self._status = "error"
        finally:
            self._done.set()

    def start(self) -> "Transformation":
        """Start computing in the background (no-op if already started); return self.

        Raises `StoreError` if an earlier result of this process could not be stored."""
        get_write_behind().raise_failures()
        if self._claim():
            threading.Thread(
                target=self._execute, name=f"seamless-{self._code.name}", daemon=True
            ).start()
        return self

    def compute(self) -> "Transformation":
        """Compute (or wait for a started computation); failures go to `exception`. Return self.

        Raises `StoreError` if an earlier result of this process could not be stored."""
        get_write_behind().raise_failures()
        if self._claim():
            self._execute()
        else:
            self._done.wait()
        return self

    def run(self) -> Any:
        """Compute and return the value; raise `TransformationError` on failure."""
        self.compute()
        if self._exception is not None:
            raise self._exception
        return self.value

    # -- outcome ----------------------------------------------------------------------------

    @property
    def status(self) -> str:
        """One of ``pending``, ``running``, ``done``, ``error``."""
        return self._status

    @property
    def result(self) -> Checksum | None:
        """The result checksum once done, else None."""
        return self._result.checksum if self._result is not None else None

    @property
    def value(self) -> Any:
        """The result value once done, else None."""
        if self._result is None:
            return None
        if self._value is _NO_VALUE:
            assert self._spec is not None  # a result needs a spec
            self._value = self._result.get_value(self._spec.result_celltype)
        return self._value

    @property
    def exception(self) -> TransformationError | None:
        """The error once failed, else None."""
        return self._exception

    def __repr__(self) -> str:
        ident = f" {self._checksum.hex()[:12]}" if self._checksum else ""
        return f"<Transformation {self._code.name}(){ident} {self._status}>"
