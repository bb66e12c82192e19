"""``@direct`` and ``@delayed``: turn a Python function into a transformer."""

from __future__ import annotations

import functools
import inspect
from typing import Any, Callable

from .code import function_code
from .transformation import Transformation


def _transformer(func: Callable[..., Any]) -> Callable[..., Transformation]:
    code = function_code(func)
    signature = inspect.signature(func)

    def make(*args: Any, **kwargs: Any) -> Transformation:
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
