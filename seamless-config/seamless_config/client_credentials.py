"""The client side of mutual TLS: the user's credentials for the services of a launch dict.

A service runs on this machine or on a frontend reached over SSH. Its CA and certificates are
made on the machine it runs on (``~/.seamless/tls``, by :mod:`seamless_service.credentials`):

* here: the same directory, created before the first launch;
* on a frontend: a copy of its CA certificate and client certificate + key, fetched once over the
  SSH connection the launcher uses (``seamless-credentials export`` prints them on the SSH
  channel: nothing travels on a command line or in the launcher's parameters), stored 0600 in
  ``~/.seamless/tls/hosts/<host>/``.

The launch dict's ``meta["tls"]`` (from the cluster's ``tls`` key, default true) says whether the
services speak TLS; with it off every launch logs a warning.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any, Mapping

from seamless_service import credentials
from seamless_service.credentials import Credentials, CredentialError

from .launching import LaunchError, run_tool, ssh_host, state_file_error

logger = logging.getLogger(__name__)

#: What a frontend runs to hand its client credentials over the SSH connection.
EXPORT_COMMAND = ["seamless-credentials", "export"]


def uses_tls(config: Mapping[str, Any]) -> bool:
    """Whether the service of launch dict ``config`` speaks TLS (the cluster's ``tls`` key)."""
    return bool((config.get("meta") or {}).get("tls", True))


def renew_command(config: Mapping[str, Any]) -> str:
    """The command that renews the credentials used for ``config``'s services."""
    host = ssh_host(config)
    return credentials.RENEW_COMMAND + (f" --host {host}" if host else "")


def fetch(config: Mapping[str, Any]) -> Credentials:
    """Fetch (and create there on first use) the client credentials of ``config``'s frontend."""
    host = ssh_host(config)
    assert host is not None, "fetch is for services on a frontend"
    result = run_tool(config, EXPORT_COMMAND, timeout=60)
    if result.returncode in (127, 255):  # ssh failed, or the command is not installed there
        raise LaunchError(
            f"Cannot get your TLS credentials from {host}: `ssh {host} {' '.join(EXPORT_COMMAND)}` "
            f"exited {result.returncode}: {result.stderr.strip()[-500:]}"
            + (" (install seamless-service there, next to seamless-dask)" if result.returncode == 127 else "")
        )
    if result.returncode != 0:
        raise CredentialError(
            credentials.host_directory(host),
            f"could not get the credentials of {host} (`ssh {host} {' '.join(EXPORT_COMMAND)}` "
            f"exited {result.returncode}: {result.stderr.strip()[-500:]})",
            renew=renew_command(config),
        )
    try:
        files = json.loads(result.stdout)
        return credentials.store_client_copy(credentials.host_directory(host), files)
    except (ValueError, TypeError) as exc:
        raise CredentialError(credentials.host_directory(host), f"{host} sent unusable credentials ({exc})",
                              renew=renew_command(config)) from None


def for_launch(config: Mapping[str, Any]) -> Credentials | None:
    """The client credentials for the services of ``config`` (None with TLS off), checked.

    Called before each launch, so a missing, expired or foreign credential stops it before
    anything starts. Cheap when nothing changed (:func:`seamless_service.credentials.verified`).
    """
    if not uses_tls(config):
        logger.warning(
            "TLS is off for the services of cluster '%s' (cluster key 'tls: false'): anyone who "
            "can reach their ports can use them with your rights",
            (config.get("meta") or {}).get("cluster"),
        )
        return None
    host = ssh_host(config)
    try:
        if host is None:
            return credentials.ensure(role="client")
        creds = Credentials(credentials.host_directory(host))
        if not creds.present("client"):
            logger.info("Fetching your TLS credentials from %s over SSH", host)
            fetch(config)
        return credentials.verified(creds, "client")
    except CredentialError as exc:  # name the renew command for this cluster
        raise CredentialError(exc.path, exc.problem, renew=renew_command(config)) from None
    except OSError as exc:  # e.g. an unwritable ~/.seamless: name the path, not a traceback
        raise state_file_error(Path(exc.filename or Path.home() / ".seamless"), exc) from None


def renew(config: Mapping[str, Any]) -> Credentials:
    """Create new credentials where ``config``'s services run (and fetch the new client copy)."""
    host = ssh_host(config)
    if host is None:
        return credentials.renew()
    result = run_tool(config, ["seamless-credentials", "renew"], timeout=60)
    if result.returncode != 0:
        raise CredentialError(credentials.host_directory(host),
                              f"renewing on {host} failed: {result.stderr.strip()[-500:]}")
    return fetch(config)


def dask_security(creds: Credentials | None) -> Any:
    """``distributed.Security`` for a user's client (None with TLS off).

    distributed builds a new SSL context, loading the CA, certificate and key, for every
    connection (~2.6 ms each, several per client); this one builds it once per role.
    """
    if creds is None:
        return None
    from seamless_service.tls import dask_security_arguments, reused_context_security

    return reused_context_security(**dask_security_arguments(creds, "client"))


def import_dask_client() -> None:
    """Import ``distributed`` (~0.4 s; its configuration parsed by libyaml), e.g. in a thread
    while services start, so that :func:`connect_dask` does not wait for it."""
    from seamless_service import c_yaml

    c_yaml.import_module("distributed")


def connect_dask(address: str, creds: Credentials | None, *, set_as_default: bool) -> Any:
    """A ``distributed.Client`` for ``address``, with the client certificate when TLS is on.

    A refused TLS connection is diagnosed against the credential files: a missing, expired or
    foreign one becomes a ``CredentialError`` naming the file and the renew command.
    """
    import distributed

    try:
        return distributed.Client(address, timeout="10s", set_as_default=set_as_default, security=dask_security(creds))
    except OSError:
        if creds is not None:
            credentials.check(creds, "client")
        raise


def scheme(creds: Credentials | None, kind: str) -> str:
    """``tls``/``tcp`` (kind ``dask``) or ``https``/``http`` (kind ``http``) for these credentials."""
    if kind == "dask":
        return "tls" if creds is not None else "tcp"
    return "https" if creds is not None else "http"
