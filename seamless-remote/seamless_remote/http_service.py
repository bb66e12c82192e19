"""`ServiceClient`: the HTTP plumbing shared by the clients of hashserver, database and jobserver.

A pool of ``requests.Session`` objects, one per request in flight (transformations run in
threads; an idle session is reused, so connections are kept alive and their number follows the
real concurrency), a retry on connection errors, and errors that name the service, its URL and
what it answered.

An ``https://`` URL needs ``tls=(credentials, role)``: the client presents that role's certificate
and accepts only a server certificate signed by the user's CA (no host-name check: identity is
the chain, so tunnels and ``0.0.0.0`` binds work). A TLS failure is diagnosed against the
credential files, so the error names the file and the renew command.
"""

from __future__ import annotations

import queue
import time
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from seamless_service.credentials import Credentials, check
from seamless_service.tls import shared_client_context

from .errors import RemoteError, ServiceUnavailableError

CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 120.0
RETRY_DELAYS = (0.2, 0.5)
_BODY_EXCERPT = 500


#: (credentials, role) of an ``https://`` client: role ``client`` for users, ``service`` for services
TLS = tuple[Credentials, str]


class _MutualTLSAdapter(HTTPAdapter):
    """Connections with our SSL context: the client certificate, the user's CA, no host-name check.

    ``cert_verify`` is a no-op: requests would otherwise load ``verify`` (or a CA bundle named by
    the environment) into the shared context, adding CAs to the one we trust.
    """

    def __init__(self, tls: TLS) -> None:
        self._context = shared_client_context(*tls)
        super().__init__()

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        kwargs["ssl_context"] = self._context
        kwargs["assert_hostname"] = False
        super().init_poolmanager(*args, **kwargs)

    def cert_verify(self, conn: Any, url: str, verify: Any, cert: Any) -> None:
        return  # the context already holds exactly the user's CA and client certificate


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
            except requests.exceptions.SSLError as exc:
                raise self._tls_failure(exc) from None
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
            session = self._new_session()
        try:
            return session.request(method, url, **kwargs)
        finally:
            if self._closed:
                session.close()
            else:
                self._idle.put(session)

    def _new_session(self) -> requests.Session:
        session = requests.Session()
        if self.tls is not None:
            creds, _ = self.tls
            # no REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE / .netrc / proxies from the environment: such a
            # bundle would be added to the shared context and make it trust public CAs
            session.trust_env = False
            session.mount("https://", _MutualTLSAdapter(self.tls))
            session.verify = str(creds.ca)
        return session

    def _tls_failure(self, exc: Exception) -> Exception:
        """The error for a failed TLS handshake: a credential problem if the files show one."""
        if self.tls is not None:
            check(*self.tls)  # raises CredentialError naming the file and the renew command
        return ServiceUnavailableError(
            f"The {self.service} at {self.url} refused the TLS connection ({exc}). Its certificate "
            "is not signed by your CA, or it does not accept yours: if the credentials were renewed, "
            "stop the services (seamless-services stop --all) and call set_stage() again"
        )

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
