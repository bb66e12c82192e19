"""The root of the errors Seamless raises on purpose.

Every exception class of the Seamless packages derives from :class:`SeamlessError` (and keeps
the builtin base it had, so ``except RuntimeError`` / ``except ValueError`` still catch what they
caught). ``except SeamlessError`` separates Seamless's own refusals from bugs.
"""

from __future__ import annotations


class SeamlessError(Exception):
    """A problem Seamless detected and reports: bad configuration, a failed launch, a lost service..."""
