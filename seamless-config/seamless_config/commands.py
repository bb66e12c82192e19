"""The commands of the command language: each checks its argument and updates the selection."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable

from . import select
from .errors import ConfigurationError

if TYPE_CHECKING:
    from .command_files import Invocation


def _fail(inv: "Invocation", message: str) -> ConfigurationError:
    return ConfigurationError(message, file=inv.file, line=inv.line, command=inv.name)


def _where(inv: "Invocation") -> tuple[str, int | None]:
    return inv.file, inv.line


def _run(inv: "Invocation", action: Callable[[], None]) -> None:
    """Run a select call; its errors get the command's file, line and name."""
    try:
        action()
    except ConfigurationError as exc:
        raise _fail(inv, exc.reason) from None


def _expect(inv: "Invocation", ok: bool, wanted: str) -> None:
    if not ok:
        raise _fail(inv, f"expects {wanted}, not {inv.argument!r}")


def _cluster(inv: "Invocation", raw: dict) -> None:
    _expect(inv, inv.argument is None or isinstance(inv.argument, str), "a cluster name or null, e.g. '- cluster: hpc'")
    if inv.argument is not None:
        from .cluster import get_clusters

        known = get_clusters()
        if inv.argument not in known:
            raise _fail(inv, f"unknown cluster '{inv.argument}'; defined clusters: {', '.join(sorted(known))}")
    _run(inv, lambda: select.select_cluster(inv.argument, "command", _where(inv)))


def _execution(inv: "Invocation", raw: dict) -> None:
    _expect(inv, isinstance(inv.argument, str), "one of: " + ", ".join(select.EXECUTION_MODES))
    _run(inv, lambda: select.select_execution(inv.argument, "command", _where(inv)))


def _queue(inv: "Invocation", raw: dict) -> None:
    _expect(inv, isinstance(inv.argument, str), "a queue name (a string), e.g. '- queue: bigmem'")
    _run(inv, lambda: select.select_queue(inv.argument, "command", _where(inv)))


def _remote(inv: "Invocation", raw: dict) -> None:
    _expect(inv, inv.argument is None or isinstance(inv.argument, str), "null, daskserver or jobserver")
    _run(inv, lambda: select.select_remote(inv.argument, "command", _where(inv)))


def _persistent(inv: "Invocation", raw: dict) -> None:
    _expect(inv, isinstance(inv.argument, bool), "a boolean: true or false (unquoted)")
    select.select_persistent(inv.argument, "command", _where(inv))


def _project(inv: "Invocation", raw: dict) -> None:
    _expect(inv, isinstance(inv.argument, str), "a project name (a string)")
    _run(inv, lambda: select.select_project(inv.argument, "command", _where(inv)))


def _subproject(inv: "Invocation", raw: dict) -> None:
    _expect(inv, isinstance(inv.argument, str), "a subproject name (a string)")
    _run(inv, lambda: select.select_subproject(inv.argument, "command", _where(inv)))


def _clusters(inv: "Invocation", raw: dict) -> None:
    _expect(inv, isinstance(inv.argument, dict), "a mapping of cluster name to definition")
    raw.update(inv.argument)
    if hasattr(raw, "key_lines"):
        raw.key_lines.update(getattr(inv.argument, "key_lines", {}))


def _inherit(inv: "Invocation", raw: dict) -> None:
    """Only drives the walk to the parent directory (see command_files.discover)."""


COMMANDS: dict[str, Callable[["Invocation", dict], Any]] = {
    "cluster": _cluster,
    "execution": _execution,
    "queue": _queue,
    "remote": _remote,
    "persistent": _persistent,
    "project": _project,
    "subproject": _subproject,
    "clusters": _clusters,
    "inherit_from_parent": _inherit,
}
#: Commands run before all others (cluster definitions), wherever they stand.
PRIORITY_COMMANDS = frozenset({"clusters"})
