"""Exceptions of seamless_remote: what went wrong talking to a service, and with which one."""

from __future__ import annotations

from seamless.errors import SeamlessError


class RemoteError(SeamlessError, RuntimeError):
    """A service answered with an error, or an unexpected answer."""


class ServiceUnavailableError(RemoteError):
    """A service could not be reached (not running, stopped after its idle timeout, network)."""


class ChecksumMismatchError(RemoteError):
    """A buffer's bytes do not match the checksum it was stored or fetched under."""


class JobFailedError(RemoteError):
    """A remote worker ran a transformation and it failed; ``traceback`` is the code's own."""

    def __init__(self, message: str, traceback: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.traceback = traceback
