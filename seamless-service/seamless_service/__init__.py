"""What every service launched by Seamless and its clients share, at the bottom of the layers.

Stdlib only at import (``cryptography`` is imported when credentials are created or checked):

* :mod:`seamless_service.credentials`: the per-user certificate authority and its certificates;
* :mod:`seamless_service.tls`: SSL contexts (mutual TLS) and ``distributed.Security`` arguments;
* :mod:`seamless_service.health`: the plain-HTTP health port that carries no data;
* :mod:`seamless_service.private_files`: owner-only directories and files.
"""
