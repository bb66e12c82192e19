"""``@direct`` and ``@delayed``: turn a Python function into a transformer."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from .code import FunctionCode, function_code
from .guard import check_not_pure_dask, pure_dask_active
from .transformation import Transformation


def _transformer(func: Callable[..., Any]) -> Callable[..., Transformation]:
    """The maker of ``func``'s transformations.

    The pure-Dask refusal comes before anything else: in pure Dask mode a decorated function is
    not examined (its ``code`` stays None), and each call is refused with the pure-Dask message,
    whatever would be wrong with the function. Otherwise the function is checked at once and
    ``code`` is its `FunctionCode`.
    """
    code: FunctionCode | None = None if pure_dask_active() else function_code(func)
    signature = None if code is None else inspect.signature(func)

    def make(*args: Any, **kwargs: Any) -> Transformation:
        nonlocal code, signature
        check_not_pure_dask()
        if code is None or signature is None:
            code, signature = function_code(func), inspect.signature(func)
        try:
            bound = signature.bind(*args, **kwargs)
        except TypeError as exc:
            raise TypeError(f"{func.__qualname__}(): {exc}") from None
        bound.apply_defaults()
        return Transformation(code, dict(bound.arguments))

    make.code = code  # type: ignore[attr-defined]
    return make


def delayed(func: Callable[..., Any]) -> Callable[..., Transformation]:
    """Calling the decorated function returns a `Transformation` (nothing runs yet)."""
    make = _transformer(func)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Transformation:
        return make(*args, **kwargs)

    wrapper.code = make.code  # type: ignore[attr-defined]
    return wrapper


def direct(func: Callable[..., Any]) -> Callable[..., Any]:
    """Calling the decorated function computes it now and returns the value
    (raising `TransformationError` if it fails)."""
    make = _transformer(func)

    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return make(*args, **kwargs).run()

    wrapper.code = make.code  # type: ignore[attr-defined]
    return wrapper
