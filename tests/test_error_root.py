"""Every exception class of the Seamless packages derives from SeamlessError, keeps its builtin
base, and is reachable as seamless.SeamlessError; ConfigurationError carries the setting it concerns."""

from __future__ import annotations

import ast
import builtins
import importlib
from pathlib import Path

import pytest

from seamless_service.errors import SeamlessError

ROOT = Path(__file__).resolve().parent.parent
BUILTIN_BASES = {"Exception", "RuntimeError", "ValueError", "LookupError", "OSError", "KeyError", "TypeError"}


def _exception_classes() -> list[tuple[str, str, list[str]]]:
    """(module, class, base names) of every class that derives from a builtin exception or from
    another class of the same kind, found by parsing the packages' sources."""
    found: list[tuple[str, str, list[str]]] = []
    for path in sorted(ROOT.glob("seamless-*/seamless*/**/*.py")):
        package_dir = path.relative_to(ROOT).parts[0]
        module = ".".join(path.relative_to(ROOT / package_dir).with_suffix("").parts).removesuffix(".__init__")
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef):
                bases = [b.id if isinstance(b, ast.Name) else getattr(b, "attr", "") for b in node.bases]
                if set(bases) & BUILTIN_BASES or any(b.endswith(("Error", "Died")) for b in bases) \
                        or node.name.endswith("Error"):
                    found.append((module, node.name, bases))
    return found


CLASSES = _exception_classes()


def test_the_scan_finds_the_known_classes():
    names = {name for _, name, _ in CLASSES}
    assert {"ConfigurationError", "LaunchError", "WrapperError", "CredentialError", "CacheMissError",
            "TransformationError", "RemoteError", "JobRequestError", "SeamlessError"} <= names


@pytest.mark.parametrize("module, name, bases", CLASSES, ids=[f"{m}.{n}" for m, n, _ in CLASSES])
def test_every_exception_class_is_a_seamless_error(module, name, bases):
    cls = getattr(importlib.import_module(module), name)
    assert issubclass(cls, SeamlessError), f"{module}.{name} does not derive from SeamlessError"
    for base in set(bases) & BUILTIN_BASES - {"Exception"}:
        assert issubclass(cls, getattr(builtins, base))


def test_root_is_reexported_by_seamless():
    import seamless
    import seamless.errors

    assert seamless.SeamlessError is seamless.errors.SeamlessError is SeamlessError


def test_configuration_error_keeps_both_builtin_bases_and_its_setting():
    from seamless_config.errors import ConfigurationError

    exc = ConfigurationError("no cluster", setting="execution")
    assert isinstance(exc, RuntimeError) and isinstance(exc, ValueError) and isinstance(exc, SeamlessError)
    assert exc.setting == "execution" and str(exc) == "no cluster"
