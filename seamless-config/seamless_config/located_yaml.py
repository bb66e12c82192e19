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


#: Largest command or cluster file read (bytes). Real ones are a few KiB; at this size the densest
#: valid file (~6 000 nodes) loads in ~0.25 s: 1 MiB of it takes ~2 s even with libyaml here.
MAX_FILE_BYTES = 128 * 1024
#: Most nodes that aliases (``*a``) may add to a file by repetition. (Merge keys, ``<<: *a``, add
#: each key once: PyYAML 6 de-duplicates them while flattening.)
MAX_ALIAS_NODES = 10_000


class _Budget:
    """Counts alias expansion while a node graph is converted; refuses cycles and bombs."""

    def __init__(self, file: str):
        self.file = file
        self.seen: set[int] = set()
        self.path: set[int] = set()
        self.expanded = 0

    def fail(self, message: str, node: Any) -> ConfigurationError:
        return ConfigurationError(message, file=self.file, line=node.start_mark.line + 1)

    def enter(self, node: Any) -> None:
        if id(node) in self.path:
            raise self.fail("recursive alias: an anchor is used inside itself", node)
        if id(node) in self.seen:
            self.expanded += 1
            if self.expanded > MAX_ALIAS_NODES:
                raise self.fail(
                    f"aliases expand to more than {MAX_ALIAS_NODES} repeated nodes; write the values out "
                    "or use fewer nested aliases", node,
                )
        self.seen.add(id(node))


def _convert(loader: Any, node: Any, file: str, budget: _Budget) -> Any:
    import yaml

    budget.enter(node)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result = LocatedDict()
        result.file, result.line = file, node.start_mark.line + 1
        budget.path.add(id(node))
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            try:
                hash(key)
            except TypeError:
                raise ConfigurationError(
                    "mapping keys must be plain values", file=file, line=key_node.start_mark.line + 1
                ) from None
            result[key] = _convert(loader, value_node, file, budget)
            result.key_lines[key] = key_node.start_mark.line + 1
        budget.path.discard(id(node))
        return result
    if isinstance(node, yaml.SequenceNode):
        items = LocatedList()
        items.file, items.line = file, node.start_mark.line + 1
        budget.path.add(id(node))
        for item in node.value:
            items.append(_convert(loader, item, file, budget))
            items.item_lines.append(item.start_mark.line + 1)
        budget.path.discard(id(node))
        return items
    return loader.construct_object(node, deep=True)


def load_text(text: str, file: str) -> Any:
    """Parse YAML text; syntax errors, bombs and recursion become ConfigurationError with the file."""
    import yaml

    if len(text) > MAX_FILE_BYTES:
        raise ConfigurationError(f"the file is larger than {MAX_FILE_BYTES // 1024} KiB; split it or remove what is unused", file=file)
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)(text)  # libyaml when PyYAML has it: 5x faster
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        return _convert(loader, node, file, _Budget(file))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        raise ConfigurationError(f"invalid YAML: {exc.problem}", file=file, line=line) from None
    except yaml.YAMLError as exc:
        raise ConfigurationError(f"invalid YAML: {exc}", file=file) from None
    except RecursionError:
        raise ConfigurationError("the YAML is nested too deeply", file=file) from None
    finally:
        loader.dispose()


def load_file(path: Path) -> Any:
    """Read and parse a command or cluster file of at most :data:`MAX_FILE_BYTES`."""
    try:
        with open(path, "rb") as handle:
            data = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise ConfigurationError(f"cannot read the file: {exc.strerror}", file=str(path)) from None
    if len(data) > MAX_FILE_BYTES:
        raise ConfigurationError(
            f"the file is larger than {MAX_FILE_BYTES // 1024} KiB; split it or remove what is unused", file=str(path)
        )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"the file is not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(path)) from None
    return load_text(text, str(path))
