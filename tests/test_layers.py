"""The layers, read from the source: no import points up, and every import is declared.

Bottom up: seamless-service <- seamless-core <- seamless-config <- seamless-transformer <-
seamless-remote / seamless-dask (siblings: neither imports the other) <- seamless-jobserver.
Every ``import``/``from`` statement counts, also the lazy ones inside functions, and so does
``importlib.import_module("literal")``. seamless-dask has two roles: the wrapper (everything
outside ``seamless_dask.backend``) imports no Seamless package but seamless_service (it runs in
pure Dask mode); the backend (``seamless_dask.backend``) may import seamless_transformer.
"""

from __future__ import annotations

import ast
import importlib.metadata
import re
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

#: distribution folder -> (import name, layer); a package imports only lower layers
PACKAGES = {
    "seamless-service": ("seamless_service", 0),
    "seamless-core": ("seamless", 1),
    "seamless-config": ("seamless_config", 2),
    "seamless-transformer": ("seamless_transformer", 3),
    "seamless-remote": ("seamless_remote", 4),
    "seamless-dask": ("seamless_dask", 4),
    "seamless-jobserver": ("seamless_jobserver", 5),
}
LAYER = {name: layer for name, layer in PACKAGES.values()}
DISTRIBUTION = {name: folder for folder, (name, _) in PACKAGES.items()}
#: the seamless-dask modules of the backend role; all others are the wrapper's
DASK_BACKEND = "seamless_dask.backend"


def imports_of(path: Path, module: str) -> list[tuple[str, int]]:
    """(absolute module name, line) of every import in ``path``, at any depth."""
    tree = ast.parse(path.read_text(), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                found.append((".".join(base + ([node.module] if node.module else [])), node.lineno))
            else:
                found.append((node.module or "", node.lineno))
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, (ast.Attribute, ast.Name))
            and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module"
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and not node.args[0].value.startswith(".")
        ):
            found.append((node.args[0].value, node.lineno))
    return found


def source_modules(folder: str) -> list[tuple[Path, str]]:
    name = PACKAGES[folder][0]
    top = ROOT / folder / name
    out = []
    for path in sorted(top.rglob("*.py")):
        parts = list(path.relative_to(ROOT / folder).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        out.append((path, ".".join(parts)))
    return out


def test_the_scan_sees_lazy_relative_and_import_module_imports(tmp_path):
    """The parser itself: a test that could not fail would prove nothing."""
    source = tmp_path / "mod.py"
    source.write_text(
        "import os\n"
        "def f():\n"
        "    from seamless_remote import activation\n"
        "    from ..x import y\n"
        "    importlib.import_module('seamless_dask.backend')\n"
    )
    found = {name for name, _ in imports_of(source, "seamless_config.sub.mod")}
    assert found == {"os", "seamless_remote", "seamless_config.x", "seamless_dask.backend"}


def _violations(folder: str) -> list[str]:
    own, layer = PACKAGES[folder]
    out = []
    for path, module in source_modules(folder):
        wrapper_role = own == "seamless_dask" and not (module == DASK_BACKEND or module.startswith(DASK_BACKEND + "."))
        for target, line in imports_of(path, module):
            top = target.split(".")[0]
            if top not in LAYER or top == own:
                continue
            where = f"{path.relative_to(ROOT)}:{line}: {module} imports {target}"
            if LAYER[top] >= layer:
                out.append(f"{where} (layer {LAYER[top]} >= {layer})")
            elif wrapper_role and top != "seamless_service":
                out.append(f"{where} (the wrapper of seamless-dask may import only seamless_service)")
    return out


@pytest.mark.parametrize("folder", sorted(PACKAGES))
def test_no_import_points_up(folder):
    assert _violations(folder) == []


def _normalise(requirement: str) -> str:
    return re.split(r"[\s<>=!~;\[(]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _declared(folder: str) -> set[str]:
    project = tomllib.loads((ROOT / folder / "pyproject.toml").read_text())["project"]
    requirements = list(project.get("dependencies", []))
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {_normalise(r) for r in requirements}


@pytest.mark.parametrize("folder", sorted(PACKAGES))
def test_every_import_is_declared(folder):
    """Each third-party or Seamless package a module imports is a dependency in its pyproject."""
    own = PACKAGES[folder][0]
    distributions = importlib.metadata.packages_distributions()
    declared = _declared(folder)
    missing = []
    for path, module in source_modules(folder):
        for target, line in imports_of(path, module):
            top = target.split(".")[0]
            if not top or top == own or top in sys.stdlib_module_names:
                continue
            candidates = {DISTRIBUTION[top]} if top in DISTRIBUTION else {
                _normalise(d) for d in distributions.get(top, [top])
            }
            if not candidates & declared:
                missing.append(f"{path.relative_to(ROOT)}:{line}: {target} ({' or '.join(sorted(candidates))})")
    assert missing == []
