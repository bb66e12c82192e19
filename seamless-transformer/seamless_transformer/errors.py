"""Exceptions of seamless_transformer."""

from __future__ import annotations

from seamless.errors import SeamlessError


class TransformationError(SeamlessError, RuntimeError):
    """A transformation could not be built, was refused, or its code raised.

    When the transformation's own code raised, `traceback` holds the original traceback (as text,
    since it may come from another process) and the message includes it.
    """

    def __init__(self, message: str, *, traceback: str | None = None, checksum: str | None = None):
        self.message = message
        self.traceback = traceback
        self.checksum = checksum
        full = message if not traceback else f"{message}\n{traceback.rstrip()}"
        super().__init__(full)


class RemoteBackendMissingError(TransformationError):
    """``execution: remote`` was selected but no remote backend is registered."""


class StoreError(RuntimeError):
    """Storing a result in an added store (hashserver, database) failed in the background.

    The result itself was returned; ``failures`` lists one message per failed write.
    """

    def __init__(self, message: str, failures: list[str]):
        super().__init__(message)
        self.failures = failures
