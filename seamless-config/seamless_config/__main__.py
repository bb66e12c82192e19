"""``python -m seamless_config explain ...``: the ``seamless-config`` command."""

import sys

from .config_cli import main

sys.exit(main())
