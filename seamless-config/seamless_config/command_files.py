"""Finding and reading the command files, and running the commands they hold.

Per directory: ``seamless.yaml`` (under version control), then ``seamless.profile.yaml`` (local
overrides; ``.seamless.yaml`` is its legacy name). A file that holds a top-level
``inherit_from_parent`` makes the walk continue upward; parents' commands run first.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from . import cluster as cluster_module
from . import select
from .commands import COMMANDS, PRIORITY_COMMANDS
from .errors import ConfigurationError
from .located_yaml import LocatedDict, load_file, where
from .names import validate_name

COMMAND_FILE_NAMES = ("seamless.yaml", "seamless.profile.yaml", ".seamless.yaml")
EXAMPLE = "Example:\n- project: myproject\n- cluster: local"


@dataclass(frozen=True)
class Invocation:
    """One command as written: its name, argument and where it stands."""

    name: str
    argument: Any
    file: str
    line: int | None


def seamless_home() -> Path:
    return Path(os.environ.get("HOME") or os.path.expanduser("~")) / ".seamless"


def _stage_name(key: str) -> str | None:
    """'stage prod' -> 'prod'; anything that is not 'stage' + whitespace + name -> None."""
    if not key.startswith("stage") or len(key) <= 5 or not key[5].isspace():
        return None
    name = key[5:].strip()
    return name or None


def _read_entries(path: Path) -> list[Any]:
    data = load_file(path)
    if data is None:
        return []
    if not isinstance(data, list):
        file, line = where(data)
        raise ConfigurationError(f"expected a YAML list of commands. {EXAMPLE}", file=str(path), line=line)
    return data


def _holds_inherit(entries: list[Any]) -> bool:
    for entry in entries:
        if entry == "inherit_from_parent":
            return True
        if isinstance(entry, dict) and len(entry) == 1 and "inherit_from_parent" in entry:
            return True
    return False


def discover(workdir: str | os.PathLike) -> list[tuple[Path, list[Any]]]:
    """(path, entries) of every command file that applies, root-most first."""
    directory = Path(workdir).resolve()
    levels: list[list[tuple[Path, list[Any]]]] = []
    while True:
        here = [(p, _read_entries(p)) for p in (directory / n for n in COMMAND_FILE_NAMES) if p.is_file()]
        levels.append(here)
        if not any(_holds_inherit(entries) for _, entries in here) or directory.parent == directory:
            break
        directory = directory.parent
    return [item for level in reversed(levels) for item in level]


def _invocations(entries: list[Any], file: str, stage: str | None) -> Iterable[Invocation]:
    for index, entry in enumerate(entries):
        line = entries.line_of(index) if hasattr(entries, "line_of") else None
        if isinstance(entry, str):
            name, argument = entry, None
        elif isinstance(entry, dict) and len(entry) == 1:
            name, argument = next(iter(entry.items()))
            if not isinstance(name, str):
                raise ConfigurationError(f"command names must be strings, not {name!r}", file=file, line=line)
        else:
            raise ConfigurationError(
                "commands must be written as strings or single-key mappings, e.g. '- cluster: hpc'", file=file, line=line
            )
        block = _stage_name(name)
        if block is not None:
            try:
                validate_name("stage", block)
            except ConfigurationError as exc:
                raise ConfigurationError(exc.reason, file=file, line=line, command=name) from None
            if not isinstance(argument, list):
                raise ConfigurationError(f"'{name}' must be followed by a YAML list of commands", file=file, line=line)
            if block == stage:
                yield from _invocations(argument, file, stage)
            continue
        if name.startswith("stage"):
            raise ConfigurationError(
                f"unknown command '{name}'; a stage block is written 'stage <name>:' followed by a list", file=file, line=line
            )
        if name not in COMMANDS:
            valid = ", ".join(sorted(COMMANDS)) + ", stage <name>"
            raise ConfigurationError(f"unknown command '{name}'; valid commands are: {valid}", file=file, line=line)
        yield Invocation(name, argument, file, line)


def cluster_file_paths() -> list[Path]:
    """``~/.seamless/clusters.yaml`` then ``~/.seamless/clusters/*.yaml`` (sorted), those that exist."""
    home = seamless_home()
    paths = [home / "clusters.yaml"] if (home / "clusters.yaml").is_file() else []
    if (home / "clusters").is_dir():
        paths += sorted(p for p in (home / "clusters").glob("*.yaml") if p.is_file())
    return paths


def load_cluster_files() -> dict[str, Any]:
    """The cluster files (:func:`cluster_file_paths`), merged per cluster."""
    merged = LocatedDict()
    for path in cluster_file_paths():
        data = load_file(path)
        if data is None:
            continue
        if not isinstance(data, dict):
            raise ConfigurationError("a cluster file must be a mapping of cluster name to definition", file=str(path), line=1)
        merged.update(data)
        merged.key_lines.update(getattr(data, "key_lines", {}))
    return merged


def load_config_files(workdir: str | os.PathLike) -> list[Invocation]:
    """Reset command-sourced selections, read clusters and command files, run the commands."""
    select.reset_before_load()
    raw_clusters = load_cluster_files()
    invocations = [
        inv for path, entries in discover(workdir) for inv in _invocations(entries, str(path), select.get_stage())
    ]
    for inv in invocations:
        if inv.name in PRIORITY_COMMANDS:
            COMMANDS[inv.name](inv, raw_clusters)
    cluster_module.define_clusters(raw_clusters)
    for inv in invocations:
        if inv.name not in PRIORITY_COMMANDS:
            COMMANDS[inv.name](inv, raw_clusters)
    return invocations
