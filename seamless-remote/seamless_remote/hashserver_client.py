"""`HashserverClient`: buffers by checksum on a hashserver (HTTP API of hashserver 1.x).

It is a ``seamless_transformer`` *buffer store*: ``get_buffer`` / ``put_buffer``. Every buffer
read is verified against its checksum; a write the server rejects as "Incorrect checksum" raises
`ChecksumMismatchError`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any, Iterable

from seamless import Buffer, Checksum

from .errors import ChecksumMismatchError, RemoteError
from .http_service import ServiceClient

#: How many checksums the client remembers as present on the server (to skip re-uploads).
KNOWN_PRESENT_LIMIT = 10_000
#: `upload_missing` sends smaller buffers without asking the server whether it has them
ASK_FIRST_ABOVE = 64 * 1024


class HashserverClient(ServiceClient):
    """Client of one hashserver at ``url``."""

    service = "hashserver"

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        self._present: OrderedDict[str, None] = OrderedDict()
        self._present_lock = threading.Lock()

    def _remember(self, checksum: Checksum) -> None:
        with self._present_lock:
            self._present[checksum.hex()] = None
            self._present.move_to_end(checksum.hex())
            while len(self._present) > KNOWN_PRESENT_LIMIT:
                self._present.popitem(last=False)

    def note_present(self, checksum: Checksum) -> None:
        """Another party (e.g. the jobserver) stores this buffer: put_buffer need not send it."""
        self._remember(Checksum(checksum))

    def _known_present(self, checksum: Checksum) -> bool:
        with self._present_lock:
            return checksum.hex() in self._present

    def get_buffer(self, checksum: Checksum) -> Buffer | None:
        """The buffer with ``checksum``, or None if the server does not have it."""
        checksum = Checksum(checksum)
        response = self.request("GET", checksum.hex())
        if response.status_code == 404:
            return None
        if response.status_code == 400 and "corruption" in response.text:
            raise ChecksumMismatchError(
                f"The hashserver at {self.url} holds a corrupt file for buffer {checksum.hex()}: {response.text[:300]}"
            )
        if response.status_code != 200:
            raise self.unexpected(response, f"send buffer {checksum.hex()}")
        content = response.content
        if Checksum.of(content) != checksum:
            raise ChecksumMismatchError(
                f"The hashserver at {self.url} sent {len(content)} bytes for buffer {checksum.hex()} "
                f"whose checksum is {Checksum.of(content).hex()}: its file is corrupt"
            )
        self._remember(checksum)
        return Buffer(content, checksum)

    def put(self, checksum: Checksum, content: bytes) -> None:
        """Store ``content`` under ``checksum``; the server verifies that they match."""
        checksum = Checksum(checksum)
        response = self.request("PUT", checksum.hex(), data=bytes(content))
        if response.status_code == 400 and "Incorrect checksum" in response.text:
            raise ChecksumMismatchError(
                f"The hashserver at {self.url} rejected {len(content)} bytes as buffer {checksum.hex()}: "
                f"their checksum is {Checksum.of(content).hex()}"
            )
        if response.status_code == 405:
            raise RemoteError(
                f"The hashserver at {self.url} is read-only (started without --writable): "
                f"cannot store buffer {checksum.hex()}"
            )
        if response.status_code not in (200, 201, 202):
            raise self.unexpected(response, f"store buffer {checksum.hex()}")
        self._remember(checksum)

    def put_buffer(self, buffer: Buffer) -> None:
        """Store ``buffer`` (skipped if this client already knows the server has it)."""
        if not self._known_present(buffer.checksum):
            self.put(buffer.checksum, buffer.content)

    def has(self, checksums: Iterable[Checksum]) -> list[bool]:
        """For each checksum, whether the server has (or was promised) that buffer."""
        hexes = [Checksum(cs).hex() for cs in checksums]
        if not hexes:
            return []
        response = self.request("GET", "has", json=hexes)
        if response.status_code != 200:
            raise self.unexpected(response, "tell which buffers it has")
        answer = response.json()
        if not isinstance(answer, list) or len(answer) != len(hexes):
            raise RemoteError(f"The hashserver at {self.url} answered /has with {answer!r}")
        return [bool(a) for a in answer]

    def upload_missing(self, buffers: dict[Checksum, Buffer]) -> int:
        """Store those of ``buffers`` the server does not have yet; return how many were sent.

        Buffers up to `ASK_FIRST_ABOVE` bytes that this client has not seen on the server are
        sent at once (one round trip, where asking first would take two); for larger ones the
        server is asked first (``/has``, one request for all of them)."""
        unknown = [Checksum(cs) for cs in buffers if not self._known_present(Checksum(cs))]
        large = [cs for cs in unknown if len(buffers[cs].content) > ASK_FIRST_ABOVE]
        send = [cs for cs in unknown if len(buffers[cs].content) <= ASK_FIRST_ABOVE]
        for checksum, present in zip(large, self.has(large), strict=False):
            if present:
                self._remember(checksum)
            else:
                send.append(checksum)
        for checksum in send:
            self.put(checksum, buffers[checksum].content)
        return len(send)
