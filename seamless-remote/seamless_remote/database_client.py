"""`DatabaseClient`: transformation results on a seamless-database (protocol 2.x).

It is a ``seamless_transformer`` *result store*: ``get_result`` / ``put_result``. Every request
is a GET or PUT whose JSON body names a ``type`` and a ``checksum`` (2.1.0 accepts any path).
"""

from __future__ import annotations

import json
from typing import Any

from seamless import Checksum

from .errors import RemoteError
from .http_service import ServiceClient

PROTOCOL = ["seamless", "database"]
SUPPORTED_VERSIONS = ("2.",)


class DatabaseClient(ServiceClient):
    """Client of one seamless-database at ``url``."""

    service = "database"

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, **kwargs)
        #: results this client knows the database holds (read from it, or written by anyone)
        self._known: dict[Checksum, Checksum] = {}

    def note_recorded(self, tf_checksum: Checksum, result_checksum: Checksum) -> None:
        """Another party (e.g. the jobserver) recorded this result: put_result need not send it."""
        self._known[Checksum(tf_checksum)] = Checksum(result_checksum)

    def _get(self, body: dict[str, Any], what: str) -> str | None:
        response = self.request("GET", "/", json=body)
        if response.status_code == 404:
            return None
        if response.status_code != 200:
            raise self.unexpected(response, what)
        return response.text

    def _put(self, body: dict[str, Any], what: str) -> None:
        response = self.request("PUT", "/", json=body)
        if response.status_code == 405:
            raise RemoteError(f"The database at {self.url} is read-only (started without --writable): cannot {what}")
        if response.status_code != 200:
            raise self.unexpected(response, what)

    def protocol(self) -> list[str]:
        """The server's protocol, e.g. ``["seamless", "database", "2.2"]``."""
        text = self._get({"type": "protocol"}, "tell its protocol")
        try:
            value = json.loads(text or "null")
        except json.JSONDecodeError:
            value = text
        return value

    def check_protocol(self) -> None:
        """Raise `RemoteError` unless the server speaks seamless database protocol 2.x."""
        value = self.protocol()
        if (
            not isinstance(value, list)
            or value[:2] != PROTOCOL
            or len(value) != 3
            or not str(value[2]).startswith(SUPPORTED_VERSIONS)
        ):
            raise RemoteError(
                f"The service at {self.url} speaks {value!r}, not the seamless database protocol 2.x"
            )

    def get_result(self, tf_checksum: Checksum) -> Checksum | None:
        """The result checksum recorded for transformation ``tf_checksum``, or None."""
        tf_checksum = Checksum(tf_checksum)
        text = self._get(
            {"type": "transformation", "checksum": tf_checksum.hex()},
            f"look up transformation {tf_checksum.hex()}",
        )
        if text is None:
            return None
        try:
            result = Checksum(text.strip().strip('"'))
        except ValueError:
            raise RemoteError(
                f"The database at {self.url} answered {text[:100]!r} for transformation {tf_checksum.hex()}"
            ) from None
        self._known[tf_checksum] = result
        return result

    def put_result(self, tf_checksum: Checksum, result_checksum: Checksum) -> None:
        """Record that transformation ``tf_checksum`` has result ``result_checksum``."""
        tf_checksum, result_checksum = Checksum(tf_checksum), Checksum(result_checksum)
        if self._known.get(tf_checksum) == result_checksum:
            return  # already there: no round trip
        self._put(
            {"type": "transformation", "checksum": tf_checksum.hex(), "value": result_checksum.hex()},
            f"record the result of transformation {tf_checksum.hex()}",
        )
        self._known[tf_checksum] = result_checksum
