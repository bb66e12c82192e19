"""`ServiceClient`: the HTTP plumbing shared by the clients of hashserver, database and jobserver.

One connection pool per service (`http_connection`): thread-safe, its connections kept alive and
reused by every thread (as many as requests in flight, idle ones kept up to `POOL_SIZE`), so a
request costs one round trip, not a TCP + TLS handshake. A lean HTTP/1.1 client rather than
urllib3 or requests: their client-side work (urllib3: ~0.35 ms CPU per request on this kind of
machine, requests more) is more than the round trip itself (see `http_connection`). A retry on
connection errors; errors name the service, its URL and what it answered.

An ``https://`` URL needs ``tls=(credentials, role)``: the client presents that role's certificate
and accepts only a server certificate signed by the user's CA (no host-name check: identity is
the chain, so tunnels and ``0.0.0.0`` binds work). Nothing from the environment (CA bundles,
proxies, .netrc) is consulted. A TLS failure is diagnosed against the credential files, so the
error names the file and the renew command.
"""

from __future__ import annotations

import json as jsonlib
import ssl
import time
from typing import Any
from urllib.parse import quote, urlsplit

from seamless_service.credentials import Credentials, check
from seamless_service.tls import shared_client_context

from .errors import RemoteError, ServiceUnavailableError
from .http_connection import ConnectError, ConnectionPool, ProtocolError

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 120.0
RETRY_DELAYS = (0.2, 0.5)
#: idle keep-alive connections kept per service (more may be open while requests are in flight;
#: those beyond it are closed when done, so it is above the usual thread counts)
POOL_SIZE = 64
_BODY_EXCERPT = 500


#: (credentials, role) of an ``https://`` client: role ``client`` for users, ``service`` for services
TLS = tuple[Credentials, str]


class Response:
    """What a service answered: ``status_code``, ``content`` (bytes), ``text``, ``json()``."""

    __slots__ = ("status_code", "content")

    def __init__(self, status_code: int, content: bytes) -> None:
        self.status_code = status_code
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", errors="replace")

    def json(self) -> Any:
        """The body parsed as JSON (ValueError if it is not)."""
        return jsonlib.loads(self.content)

    def __repr__(self) -> str:
        return f"<Response {self.status_code} {len(self.content)} bytes>"


class ServiceClient:
    """Base of the service clients: ``url`` is ``http(s)://host:port`` of the service."""

    service = "service"

    def __init__(self, url: str, *, read_timeout: float | None = READ_TIMEOUT, tls: TLS | None = None) -> None:
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ValueError(f"{self.service} URL must start with http:// or https://, not {url!r}")
        if url.startswith("https://") and tls is None:
            raise ValueError(f"{self.service} URL {url} is https://: give tls=(credentials, role)")
        self.url = url.rstrip("/")
        self.read_timeout = read_timeout
        self.tls = tls if url.startswith("https://") else None
        self._base_path = urlsplit(self.url).path
        self._pool = self._new_pool()
        self._closed = False

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url!r})"

    def _new_pool(self) -> ConnectionPool:
        parts = urlsplit(self.url)
        if parts.hostname is None:
            raise ValueError(f"{self.service} URL {self.url} names no host")
        if self.tls is None:
            return ConnectionPool(parts.hostname, parts.port or 80, None, POOL_SIZE)
        return ConnectionPool(parts.hostname, parts.port or 443, shared_client_context(*self.tls), POOL_SIZE)

    def request(self, method: str, path: str, *, json: Any = None, data: bytes | None = None,
                timeout: tuple[float, float | None] | None = None) -> Response:
        """Send a request (``json`` or ``data`` as body); retry twice if the connection fails;
        raise `ServiceUnavailableError` if it cannot be reached."""
        if self._closed:
            raise RemoteError(f"{self!r} is closed")
        connect, read = timeout or (CONNECT_TIMEOUT, self.read_timeout)
        headers = {}
        body = data
        if json is not None:
            body = jsonlib.dumps(json).encode()
            headers["Content-Type"] = "application/json"
        url = quote(f"{self._base_path}/{path.lstrip('/')}", safe="/%?=&:@!$'()*+,;~-._")
        for delay in (*RETRY_DELAYS, None):
            try:
                status, content = self._pool.request(
                    method, url, body=body, headers=headers, connect_timeout=connect, read_timeout=read,
                )
                return Response(status, content)
            except (ssl.SSLEOFError, ssl.SSLZeroReturnError, ConnectError, ConnectionError) as exc:
                # (a TLS connection the server closed, e.g. as it stops, is not a credential problem)
                if delay is None:
                    raise ServiceUnavailableError(
                        f"The {self.service} at {self.url} cannot be reached ({type(exc).__name__}). "
                        "It may have stopped after its idle timeout: call seamless_config.set_stage() "
                        "again to relaunch it"
                    ) from None
                time.sleep(delay)
            except ssl.SSLError as exc:
                raise self._tls_failure(exc) from None
            except TimeoutError:
                raise ServiceUnavailableError(
                    f"The {self.service} at {self.url} did not answer {method} /{path.lstrip('/')} in time"
                ) from None
            except (ProtocolError, OSError) as exc:
                raise ServiceUnavailableError(
                    f"The {self.service} at {self.url} failed {method} /{path.lstrip('/')}: {type(exc).__name__}: {exc}"
                ) from None
        raise AssertionError("unreachable")

    def _tls_failure(self, exc: Exception) -> Exception:
        """The error for a failed TLS handshake: a credential problem if the files show one."""
        if self.tls is not None:
            check(*self.tls)  # raises CredentialError naming the file and the renew command
        return ServiceUnavailableError(
            f"The {self.service} at {self.url} refused the TLS connection ({exc}). Its certificate "
            "is not signed by your CA, or it does not accept yours: if the credentials were renewed, "
            "stop the services (seamless-services stop --all) and call set_stage() again"
        )

    def unexpected(self, response: Response, what: str) -> RemoteError:
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
        self._pool.close()
