"""The service side of remote-http-launcher's status-file protocol (wrapper, jobserver).

The launcher starts the service *before* it writes ``{"status": "starting", "parameters": ...}``
into the status file, so the service waits for the file, reads it, and later adds its ports and
``status: running`` (or ``status: failed`` and a one-line ``reason``). Writes are atomic and
owner-only (:func:`.private_files.write_private`) and keep the launcher's keys. After a clean run
the file is removed. The client side of the protocol is :mod:`seamless_config.launching`. Stdlib
only, so the jobserver and the wrapper use it without importing each other.

A service launched by remote-http-launcher (status file ``<key>.json`` in
:func:`.launcher_state.server_dir`) also records itself, owner-only, in
:func:`services_dir` ``/<key>.json`` (``pid``, ``key``, ``status_file``) while it runs: the
record that :mod:`seamless_config.service_records` reads to find the live service of a key even
when the launcher's state is unreadable.
"""
from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from .errors import SeamlessError
from .launcher_state import server_dir
from .private_files import private_dir, write_private

WAIT_SECONDS = 20.0
POLL_SECONDS = 0.1


def services_dir() -> Path:
    """Where running services record themselves: ``~/.seamless/services``."""
    return Path.home() / ".seamless" / "services"


class StatusFileError(SeamlessError, RuntimeError):
    """The status file did not appear, or does not hold a JSON object."""


class StatusFile:
    """One status file; remembers whether ``running`` was written."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.running_written = False
        self.record: Path | None = None

    def _key(self) -> str | None:
        """The launcher key, when the file is remote-http-launcher's server record."""
        return self.path.stem if self.path.resolve().parent == server_dir().resolve() else None

    def _write_record(self) -> None:
        key = self._key()
        if key is None:
            return
        path = private_dir(services_dir()) / f"{key}.json"
        write_private(path, json.dumps({"pid": os.getpid(), "key": key, "status_file": str(self.path)}))
        self.record = path

    def _remove_record(self) -> None:
        if self.record is None:
            return
        try:
            content = json.loads(self.record.read_text())
            if content.get("pid") == os.getpid():  # a successor may have written its own
                self.record.unlink()
        except (OSError, ValueError, AttributeError):
            pass

    def wait_and_read(self, wait_seconds: float | None = None) -> dict[str, Any]:
        """Wait (default :data:`WAIT_SECONDS`) for the file to hold a JSON object; return it."""
        if wait_seconds is None:
            wait_seconds = WAIT_SECONDS
        deadline = time.monotonic() + wait_seconds
        # the launcher writes the file: rhl-launch-service, which then exits (over SSH), or the
        # user's process itself (a local launch); if it is gone without a file, an orphan waits in vain
        launcher = os.getppid()
        launcher_gone = False
        while True:
            try:
                text = self.path.read_text()
            except FileNotFoundError:
                text = None
            if text:
                try:
                    content = json.loads(text)
                except json.JSONDecodeError as exc:  # possibly caught mid-write: retry until the deadline
                    if time.monotonic() >= deadline:
                        raise StatusFileError(f"Status file {self.path} is not valid JSON: {exc}") from None
                else:
                    if not isinstance(content, dict):
                        raise StatusFileError(
                            f"Status file {self.path} must hold a JSON object, not {type(content).__name__}"
                        )
                    return content
            if launcher_gone and not text:
                raise StatusFileError(
                    f"Status file {self.path} did not appear and the process that started this one "
                    "has exited (this one was re-parented): the launcher failed before writing it"
                )
            if time.monotonic() >= deadline:
                raise StatusFileError(f"Status file {self.path} did not appear within {wait_seconds:g} s")
            # orphaned (re-parented, often to init): one more look at the file, then give up
            parent = os.getppid()
            launcher_gone = parent == 1 or parent != launcher
            time.sleep(POLL_SECONDS)

    def _read(self) -> dict[str, Any]:
        try:
            content = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):
            return {}
        return content if isinstance(content, dict) else {}

    def _update(self, **items: Any) -> None:
        content = self._read()
        content.update(items)
        write_private(self.path, json.dumps(content, indent=2))

    def write_running(self, port: int, **other_ports: int) -> None:
        """Publish the ports (``port`` plus e.g. ``dashboard_port``): clients may connect from now on.

        ``running_since`` (epoch seconds) tells ``seamless-services list`` the service's age.
        """
        self._write_record()
        self._update(port=port, **other_ports, status="running", running_since=time.time())
        self.running_written = True

    def write_idle_since(self, since: float | None) -> None:
        """Publish since when (epoch seconds) the service has been idle, None while it is in use
        (``seamless-services list`` shows it). Services call it when that changes."""
        self._update(idle_since=since)

    def write_failed(self, reason: str) -> None:
        """Mark the service failed, with a one-line reason."""
        self._update(status="failed", reason=" ".join(reason.split()))

    def finish(self, error: str | None = None, *, service: str = "the service") -> None:
        """On exit: delete the file after a clean run, else mark it failed."""
        self._remove_record()
        if self.running_written and error is None:
            try:
                self.path.unlink()
            except FileNotFoundError:
                pass
            return
        if self.path.exists():
            try:
                self.write_failed(error or f"{service} stopped before it was running")
            except OSError:  # e.g. a full disk: the log holds the error
                pass
