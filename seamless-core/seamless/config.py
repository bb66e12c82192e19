"""Facade: ``seamless.config`` is ``seamless_config``'s public API.

If seamless-config is not installed, this module exports nothing.
"""

try:
    from seamless_config import *  # noqa: F401,F403
    from seamless_config import __all__  # noqa: F401
except ModuleNotFoundError as exc:
    if exc.name != "seamless_config":
        raise
    __all__: list[str] = []
