"""Facade: ``seamless.transformer`` is ``seamless_transformer``'s public API
(``direct``, ``delayed``, ``Transformation``, ``spawn``, ...).

seamless-transformer is a separate distribution (it depends on seamless-core, not the reverse).
"""

try:
    from seamless_transformer import *  # noqa: F401,F403
    from seamless_transformer import __all__  # noqa: F401
except ModuleNotFoundError as exc:
    if exc.name != "seamless_transformer":
        raise
    raise ModuleNotFoundError(
        "seamless.transformer needs the seamless-transformer package: "
        "pip install -e seamless-transformer",
        name="seamless_transformer",
    ) from exc
