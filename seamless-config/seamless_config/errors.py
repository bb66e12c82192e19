"""The error family for configuration problems."""

from __future__ import annotations

from seamless_service.errors import SeamlessError


class ConfigurationError(SeamlessError, RuntimeError, ValueError):
    """A problem in the command files, the cluster definitions or the selection.

    Subclasses both RuntimeError (established Seamless raised it for activation problems) and
    ValueError (established Seamless raised that for malformed files), so callers of either keep
    working. ``file``, ``line`` and ``command`` say where the problem is, when known.
    ``setting`` names the selection (``"execution"``, ``"persistent"``, ``"remote"``...) that a
    problem found after loading concerns: set_stage then points at the command that set it.
    """

    def __init__(
        self,
        message: str,
        *,
        file: str | None = None,
        line: int | None = None,
        command: str | None = None,
        setting: str | None = None,
    ):
        self.file = file
        self.line = line
        self.command = command
        self.setting = setting
        self.reason = message
        prefix = ""
        if file is not None:
            prefix = f"{file}:{line}: " if line is not None else f"{file}: "
        if command is not None:
            prefix += f"command '{command}': "
        super().__init__(prefix + message)
