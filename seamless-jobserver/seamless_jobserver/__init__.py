"""seamless-jobserver: an HTTP server that runs Seamless transformations on N local workers.

Start it with the ``seamless-jobserver`` command (see :mod:`seamless_jobserver.cli`); clients
talk to it with ``seamless_remote.JobserverClient``. Importing this package starts nothing.
"""

import logging

logging.getLogger(__name__).addHandler(logging.NullHandler())
