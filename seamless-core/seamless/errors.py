"""Exceptions shared by every Seamless package."""

from __future__ import annotations


class CacheMissError(LookupError):
    """A buffer or a result was asked for by checksum and no store holds it."""

    def __init__(self, checksum: object, what: str = "buffer", where: str = "any buffer store"):
        self.checksum = checksum
        super().__init__(f"{what} {checksum} not found in {where}")


class SerializationError(ValueError):
    """A value cannot be turned into a buffer of the requested cell type (or back)."""
