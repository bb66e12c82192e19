"""Exceptions shared by every Seamless package."""

from __future__ import annotations


class CacheMissError(LookupError):
    """A buffer or a result was asked for by checksum and no store holds it."""

    def __init__(self, checksum: object):
        self.checksum = checksum
        super().__init__(f"buffer {checksum} not found in any buffer store")


class SerializationError(ValueError):
    """A value cannot be turned into a buffer of the requested cell type (or back)."""
