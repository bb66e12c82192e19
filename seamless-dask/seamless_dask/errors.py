"""The one error type of the wrapper's startup checks."""

from seamless_service.errors import SeamlessError


class WrapperError(SeamlessError, RuntimeError):
    """A startup problem of ``seamless-dask-wrapper``: bad CLI value, parameter or cluster string.

    The message is one line that says what is wrong and what would be valid; it is written as
    the ``reason`` of a failed status file.
    """
