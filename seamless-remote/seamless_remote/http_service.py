"""`ServiceClient`: the HTTP plumbing shared by the clients of hashserver, database and jobserver.

A pool of ``requests.Session`` objects, one per request in flight (transformations run in
threads; an idle session is reused, so connections are kept alive and their number follows the
real concurrency), a retry on connection errors, and errors that name the service, its URL and
what it answered.
"""

from __future__ import annotations

import queue
import time
from typing import Any

import requests

from .errors import RemoteError, ServiceUnavailableError

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 120.0
RETRY_DELAYS = (0.2, 0.5)
_BODY_EXCERPT = 500


class ServiceClient:
    """Base of the service clients: ``url`` is ``http://host:port`` of the service."""

    service = "service"

    def __init__(self, url: str, *, read_timeout: float | None = READ_TIMEOUT) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"{self.service} URL must start with http:// or https://, not {url!r}")
        self.url = url.rstrip("/")
        self.read_timeout = read_timeout
        self._idle: queue.LifoQueue[requests.Session] = queue.LifoQueue()
        self._closed = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        """Send a request; retry twice if the connection fails; raise `ServiceUnavailableError`."""
        kwargs.setdefault("timeout", (CONNECT_TIMEOUT, self.read_timeout))
        url = f"{self.url}/{path.lstrip('/')}"
        for delay in (*RETRY_DELAYS, None):
            try:
                return self._request(method, url, **kwargs)
            except requests.ConnectionError as exc:
                if delay is None:
                    raise ServiceUnavailableError(
                        f"The {self.service} at {self.url} cannot be reached ({type(exc).__name__}). "
                        "It may have stopped after its idle timeout: call seamless_config.set_stage() "
                        "again to relaunch it"
                    ) from None
                time.sleep(delay)
            except requests.Timeout:
                raise ServiceUnavailableError(
                    f"The {self.service} at {self.url} did not answer {method} /{path.lstrip('/')} in time"
                ) from None
        raise AssertionError("unreachable")

    def _request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        """One request on an idle session (a new one if none is idle), given back afterwards."""
        if self._closed:
            raise RemoteError(f"{self!r} is closed")
        try:
            session = self._idle.get_nowait()
        except queue.Empty:
            session = requests.Session()
        try:
            return session.request(method, url, **kwargs)
        finally:
            if self._closed:
                session.close()
            else:
                self._idle.put(session)

    def unexpected(self, response: requests.Response, what: str) -> RemoteError:
        """The error for an answer that is not one of the expected ones."""
        body = response.text[:_BODY_EXCERPT].strip()
        return RemoteError(
            f"The {self.service} at {self.url} refused to {what}: HTTP {response.status_code} {body}"
        )

    def healthcheck(self) -> bool:
        """True if the service answers ``GET /healthcheck`` with ``OK``."""
        try:
            response = self.request("GET", "healthcheck", timeout=(CONNECT_TIMEOUT, 10.0))
        except ServiceUnavailableError:
            return False
        return response.status_code == 200 and response.text.strip().strip('"') == "OK"

    def close(self) -> None:
        """Close the idle connections (busy ones close when done); the client cannot be used afterwards."""
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return
