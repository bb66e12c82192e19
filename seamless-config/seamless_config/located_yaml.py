"""YAML loading that remembers where every mapping key and list item came from.

Mappings load as :class:`LocatedDict` and lists as :class:`LocatedList`: ordinary dict/list
subclasses that also carry the file name and line numbers, so that error messages can say
``clusters.yaml:12``. PyYAML is imported here only, inside the functions.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .errors import ConfigurationError


class LocatedDict(dict):
    """A dict that knows its file, its own line, and the line of each key."""

    file: str | None = None
    line: int | None = None

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.key_lines: dict[Any, int] = {}

    def line_of(self, key: Any) -> int | None:
        return self.key_lines.get(key, self.line)


class LocatedList(list):
    """A list that knows its file, its own line, and the line of each item."""

    file: str | None = None
    line: int | None = None

    def __init__(self, *args: Any):
        super().__init__(*args)
        self.item_lines: list[int | None] = []

    def line_of(self, index: int) -> int | None:
        if 0 <= index < len(self.item_lines):
            return self.item_lines[index]
        return self.line


def where(obj: Any, key: Any = None) -> tuple[str | None, int | None]:
    """(file, line) of ``obj`` (or of ``obj[key]``) when it was loaded by this module."""
    file = getattr(obj, "file", None)
    if key is not None and hasattr(obj, "line_of"):
        return file, obj.line_of(key)
    return file, getattr(obj, "line", None)


def _convert(loader: Any, node: Any, file: str) -> Any:
    import yaml

    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result = LocatedDict()
        result.file, result.line = file, node.start_mark.line + 1
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise ConfigurationError(
                    "mapping keys must be plain values", file=file, line=key_node.start_mark.line + 1
                ) from None
            result[key] = _convert(loader, value_node, file)
            result.key_lines[key] = key_node.start_mark.line + 1
        return result
    if isinstance(node, yaml.SequenceNode):
        result = LocatedList()
        result.file, result.line = file, node.start_mark.line + 1
        for item in node.value:
            result.append(_convert(loader, item, file))
            result.item_lines.append(item.start_mark.line + 1)
        return result
    return loader.construct_object(node, deep=True)


def load_text(text: str, file: str) -> Any:
    """Parse YAML text; syntax errors become ConfigurationError with the file and line."""
    import yaml

    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _convert(loader, node, file)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigurationError(f"invalid YAML: {exc.problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"invalid YAML: {exc}", file=file) from None
    finally:
        loader.dispose()


def load_file(path: Path) -> Any:
    return load_text(Path(path).read_text(), str(path))
