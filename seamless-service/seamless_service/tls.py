"""Mutual TLS from the credentials of :mod:`seamless_service.credentials`.

Every server requires a client certificate signed by the user's CA and every client requires the
server's certificate to be signed by it. Host names are not checked (identity is the chain, as in
``distributed``), so tunnels (``localhost:<forwarded port>``) and ``0.0.0.0`` binds keep working.
"""

from __future__ import annotations

import ssl
from typing import Any

from .credentials import Credentials

def server_context(creds: Credentials) -> ssl.SSLContext:
    """A server-side context: the service certificate, client certificates required."""
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(creds.ca))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(creds.cert("service")), str(creds.key("service")))
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(creds: Credentials, role: str = "client") -> ssl.SSLContext:
    """A client-side context presenting ``role``'s certificate, trusting only the user's CA."""
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(creds.ca))
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_REQUIRED
    ctx.load_cert_chain(str(creds.cert(role)), str(creds.key(role)))
    return ctx


_CLIENT_CONTEXTS: dict[tuple[str, str, int], ssl.SSLContext] = {}


def shared_client_context(creds: Credentials, role: str = "client") -> ssl.SSLContext:
    """:func:`client_context`, made once per process for each set of files (contexts are
    thread-safe; loading the CA and the key costs ~1 ms a time). New files give a new one."""
    try:
        version = creds.cert(role).stat().st_mtime_ns
    except OSError:
        version = 0
    key = (str(creds.directory), role, version)
    context = _CLIENT_CONTEXTS.get(key)
    if context is None:
        context = _CLIENT_CONTEXTS[key] = client_context(creds, role)
    return context


def reused_context_security(**arguments: Any) -> Any:
    """A ``distributed.Security`` that builds the SSL context of each role once.

    distributed builds a new context, loading the CA, certificate and key, for every connection
    and listener (~2.6 ms each): a client opens several. For clients only: the class is local,
    so it cannot be pickled (a nanny sends its Security to its worker process).
    """
    from distributed import Security

    class ReusedContextSecurity(Security):
        def get_connection_args(self, role: str) -> dict:
            return dict(self._reused("connect", role, super().get_connection_args))

        def get_listen_args(self, role: str) -> dict:
            return dict(self._reused("listen", role, super().get_listen_args))

        def _reused(self, kind: str, role: str, build: Any) -> dict:
            cache = self.__dict__.setdefault("_reused_args", {})
            if (kind, role) not in cache:
                cache[kind, role] = build(role)
            return cache[kind, role]

    return ReusedContextSecurity(**arguments)


def dask_security_arguments(creds: Credentials, role: str = "client") -> dict[str, Any]:
    """Keyword arguments of ``distributed.Security``: file paths only, encryption required.

    ``role="client"``: a user's client. ``role="service"``: scheduler, workers, nannies and the
    wrapper's own client all use the service certificate.
    """
    ca, cert, key = (str(p) for p in creds.files(role))
    arguments: dict[str, Any] = {"tls_ca_file": ca, "require_encryption": True,
                                 "tls_client_cert": cert, "tls_client_key": key}
    if role == "service":
        for part in ("scheduler", "worker"):
            arguments[f"tls_{part}_cert"] = cert
            arguments[f"tls_{part}_key"] = key
    return arguments
