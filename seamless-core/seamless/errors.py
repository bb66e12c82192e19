"""Exceptions shared by every Seamless package; :class:`SeamlessError` (from seamless-service) is their root."""

from __future__ import annotations

from seamless_service.errors import SeamlessError

__all__ = ["CacheMissError", "SeamlessError", "SerializationError"]


class CacheMissError(SeamlessError, LookupError):
    """A buffer or a result was asked for by checksum and no store holds it."""

    def __init__(self, checksum: object):
        self.checksum = checksum
        super().__init__(f"buffer {checksum} not found in any buffer store")


class SerializationError(SeamlessError, ValueError):
    """A value cannot be turned into a buffer of the requested cell type (or back)."""
