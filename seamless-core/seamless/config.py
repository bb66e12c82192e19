"""Facade: ``seamless.config`` is ``seamless_config``'s public API.

If seamless-config is not installed, this module exports nothing.
"""

from .facades import export

if not export(globals(), "config"):
    __all__: list[str] = []
