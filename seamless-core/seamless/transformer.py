"""Facade: ``seamless.transformer`` is ``seamless_transformer``'s public API
(``direct``, ``delayed``, ``Transformation``, ``spawn``, ...).

seamless-transformer is a separate distribution (it depends on seamless-core, not the reverse).
"""

from .facades import export

if not export(globals(), "transformer"):
    raise ModuleNotFoundError(
        "seamless.transformer needs the seamless-transformer package: "
        "pip install -e seamless-transformer",
        name="seamless_transformer",
    )
