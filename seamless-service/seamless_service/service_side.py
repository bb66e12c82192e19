"""What every launched service does first: private files, its credentials, the TLS warning.

Called by ``seamless-dask-wrapper``, ``seamless-jobserver`` and the TLS-served hashserver and
database, before they bind a port.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

from .credentials import Credentials, ensure
from .launcher_state import launcher_root
from .private_files import PRIVATE_UMASK, tighten_tree

logger = logging.getLogger(__name__)

#: The command-line flag of our services that turns TLS off (cluster key ``tls: false``).
NO_TLS_FLAG = "--no-tls"


def make_private(*paths: str | os.PathLike[str] | None) -> None:
    """umask 077 for this process, and owner-only permissions for what the launcher wrote.

    ``paths`` are files of this service (status file, log): each is tightened, and so is the
    whole remote-http-launcher directory they live in (its log files are created 0644).
    """
    os.umask(PRIVATE_UMASK)
    for path in paths:
        if not path:
            continue
        target = Path(path).resolve()
        root = launcher_root().resolve()
        tighten_tree(root if root in target.parents else target)


def service_credentials(tls: bool, service: str) -> Credentials | None:
    """This machine's service credentials (created on first use), or None with TLS off.

    Raises :class:`~seamless_service.credentials.CredentialError` for a missing, expired or
    foreign credential: the service must then fail its start with that message.
    """
    if not tls:
        logger.warning(
            "%s runs WITHOUT TLS (cluster key 'tls: false'): anyone who can reach its port can "
            "use it with your rights", service,
        )
        return None
    return ensure(role="service")
