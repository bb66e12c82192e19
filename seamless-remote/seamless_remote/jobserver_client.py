"""`JobserverClient`: asks a seamless-jobserver to run a transformation (see `jobserver_protocol`)."""

from __future__ import annotations

from typing import Any, Mapping

from seamless import Buffer, Checksum

from .errors import JobFailedError, RemoteError
from .http_service import ServiceClient
from .jobserver_protocol import RUN_PATH, make_request, parse_result


class JobserverClient(ServiceClient):
    """Client of one jobserver at ``url``; a request waits as long as the transformation runs."""

    service = "jobserver"

    def __init__(self, url: str, **kwargs: Any) -> None:
        super().__init__(url, read_timeout=None, **kwargs)

    def run(
        self,
        transformation: Mapping[str, Any],
        checksum: Checksum,
        location: tuple[str, int] | None = None,
        buffers: Mapping[Checksum, Buffer] | None = None,
        lookup: bool = True,
    ) -> Buffer | Checksum:
        """Run the transformation remotely; return its result: the `Buffer` when the jobserver
        computed it, else (a cached result) its `Checksum`, whose buffer is on the hashserver.

        ``buffers`` travel with the request; every other buffer the dict names must already be
        on the jobserver's hashserver. ``lookup=False``: the caller has just found no result in
        the jobserver's database; it is not asked again. Raises `JobFailedError` (with the remote
        traceback) if it failed.
        """
        body = make_request(transformation, checksum, location, buffers=buffers, inline_result=True, lookup=lookup)
        response = self.request("POST", RUN_PATH, json=body)
        if response.status_code == 200:
            try:
                return parse_result(response.json())
            except ValueError as exc:
                raise RemoteError(f"The jobserver at {self.url} answered {response.text[:100]!r}: {exc}") from None
        try:
            detail = response.json()
        except ValueError:
            detail = None
        if isinstance(detail, dict) and isinstance(detail.get("message"), str):
            prefix = "" if response.status_code == 500 else f"The jobserver at {self.url} refused the job: "
            raise JobFailedError(prefix + detail["message"], detail.get("traceback"))
        raise self.unexpected(response, f"run transformation {Checksum(checksum).hex()}")
