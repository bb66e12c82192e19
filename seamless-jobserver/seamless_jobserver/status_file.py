"""The service side of remote-http-launcher's status-file protocol, for the jobserver.

The launcher starts the service and only then writes ``{"status": "starting", "parameters":
...}``: the service waits for the file, reads its ``parameters``, and later publishes
``port`` + ``status: running``, or ``status: failed`` with a ``reason``. Every write replaces the
file atomically and keeps the launcher's keys. After a clean run the file is removed.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

APPEAR_TIMEOUT = 20.0


class StatusFileError(RuntimeError):
    """The status file is missing or does not hold a JSON object."""


class StatusFile:
    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.running = False

    def load(self, timeout: float = APPEAR_TIMEOUT) -> dict[str, Any]:
        """Wait (up to ``timeout`` s) until the file exists and parses; return its object."""
        deadline = time.monotonic() + timeout
        problem = "it does not exist"
        while time.monotonic() < deadline:
            try:
                data = json.loads(self.path.read_text())
            except FileNotFoundError:
                problem = "it does not exist"
            except json.JSONDecodeError as exc:  # possibly caught mid-write: retry until the deadline
                problem = f"it is not valid JSON ({exc})"
            else:
                if isinstance(data, dict):
                    return data
                raise StatusFileError(f"Status file {self.path} holds a {type(data).__name__}, not a JSON object")
            time.sleep(0.1)
        raise StatusFileError(f"Status file {self.path} could not be read within {timeout:g} s: {problem}")

    def _merge(self, **items: Any) -> None:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, json.JSONDecodeError):
            data = {}
        if not isinstance(data, dict):
            data = {}
        data.update(items)
        tmp = self.path.with_name(f"{self.path.name}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(data, handle)
        os.replace(tmp, self.path)

    def set_running(self, port: int) -> None:
        self._merge(port=port, status="running")
        self.running = True

    def set_failed(self, reason: str) -> None:
        self._merge(status="failed", reason=" ".join(reason.split()))

    def remove(self) -> None:
        try:
            self.path.unlink()
        except FileNotFoundError:
            pass
