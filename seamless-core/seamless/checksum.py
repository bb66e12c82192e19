"""`Checksum`: the identity of a buffer, a SHA-256 digest written as 64 lowercase hex characters.

This is the hashserver's default hash, so a checksum computed here names the same buffer there.
"""

from __future__ import annotations

import hashlib
from typing import Union

HEX_LENGTH = 64
_HEX_DIGITS = frozenset("0123456789abcdef")

ChecksumLike = Union["Checksum", str, bytes]


class Checksum:
    """An immutable SHA-256 checksum.

    Build it from 64 hex characters (upper case is folded to lower case), from the 32 raw digest
    bytes, or from another `Checksum`. `Checksum.of(data)` hashes a buffer. A checksum compares
    equal to its hex string and hashes like it, so either can be used as a dictionary key.
    """

    __slots__ = ("_hex",)

    def __init__(self, value: ChecksumLike):
        if isinstance(value, Checksum):
            self._hex: str = value._hex
        elif isinstance(value, str):
            hex_value = value.lower()
            if len(hex_value) != HEX_LENGTH or not _HEX_DIGITS.issuperset(hex_value):
                raise ValueError(
                    f"Invalid checksum {value!r}: expected {HEX_LENGTH} hexadecimal characters "
                    "(a SHA-256 digest)"
                )
            self._hex = hex_value
        elif isinstance(value, (bytes, bytearray)):
            if len(value) != HEX_LENGTH // 2:
                raise ValueError(
                    f"Invalid checksum: {len(value)} bytes given, a raw SHA-256 digest has "
                    f"{HEX_LENGTH // 2}"
                )
            self._hex = bytes(value).hex()
        else:
            raise TypeError(
                f"Checksum() takes a hex string, 32 digest bytes or a Checksum, not "
                f"{type(value).__name__}"
            )

    @classmethod
    def of(cls, data: bytes | bytearray | memoryview) -> "Checksum":
        """The checksum of a buffer's bytes."""
        obj = cls.__new__(cls)
        obj._hex = hashlib.sha256(data).hexdigest()
        return obj

    def hex(self) -> str:
        """The 64-character lowercase hex form."""
        return self._hex

    def digest(self) -> bytes:
        """The 32 raw digest bytes."""
        return bytes.fromhex(self._hex)

    def __str__(self) -> str:
        return self._hex

    def __repr__(self) -> str:
        return f"Checksum('{self._hex}')"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Checksum):
            return self._hex == other._hex
        if isinstance(other, str):
            return self._hex == other.lower()
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._hex)

    def __reduce__(self):
        return (Checksum, (self._hex,))
