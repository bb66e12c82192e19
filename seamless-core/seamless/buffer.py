"""`Buffer`: immutable bytes with a lazily computed checksum."""

from __future__ import annotations

from typing import Any

from .checksum import Checksum
from .serialization import deserialize, serialize


class Buffer:
    """The bytes of a serialised value. Its `checksum` is computed on first use and kept."""

    __slots__ = ("_content", "_checksum")

    def __init__(self, content: bytes | bytearray | memoryview, checksum: Checksum | None = None):
        """Wrap `content`. Pass `checksum` only when it is known to be that of `content`
        (e.g. it was just verified); otherwise it is computed when first needed."""
        if not isinstance(content, (bytes, bytearray, memoryview)):
            raise TypeError(
                f"Buffer() takes bytes, not {type(content).__name__}; to serialise a value use "
                "Buffer.from_value(value, celltype)"
            )
        self._content = bytes(content)
        self._checksum = Checksum(checksum) if checksum is not None else None

    @classmethod
    def from_value(cls, value: Any, celltype: str = "mixed") -> "Buffer":
        """Serialise `value` (see :mod:`seamless.serialization` for the cell types)."""
        return cls(serialize(value, celltype))

    @property
    def content(self) -> bytes:
        return self._content

    @property
    def checksum(self) -> Checksum:
        if self._checksum is None:
            self._checksum = Checksum.of(self._content)
        return self._checksum

    def get_value(self, celltype: str = "mixed") -> Any:
        """Deserialise the buffer as `celltype`."""
        return deserialize(self._content, celltype)

    def __bytes__(self) -> bytes:
        return self._content

    def __len__(self) -> int:
        return len(self._content)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Buffer):
            return self._content == other._content
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self.checksum)

    def __repr__(self) -> str:
        return f"Buffer({len(self._content)} bytes, checksum={self.checksum.hex()[:12]}...)"
