"""Get the result of a transformation: cache hit, or one execution shared by all who ask.

An identical transformation (same checksum) is never computed twice: a cached result is returned
without executing anything, and concurrent requests for one that is running wait for it.
"""

from __future__ import annotations

from seamless import Buffer, Checksum

from . import cache
from .code import CodeLocation
from .execution import dispatch
from .inflight import InFlight
from .transformation_dict import TransformationSpec

_inflight: InFlight[Buffer] = InFlight()


def compute_result(
    spec: TransformationSpec, checksum: Checksum, location: CodeLocation | None = None
) -> Buffer:
    """The result buffer of the transformation `spec` (whose checksum is `checksum`)."""
    cached = cache.lookup_result(checksum)
    if cached is not None:
        return cached

    def compute() -> Buffer:
        # another thread may have finished it just before we claimed it; it recorded the result
        # in memory first, so no second round trip to a remote store is needed to know
        result = cache.lookup_result(checksum, memory_only=True)
        if result is None:
            # every store was asked just before claiming it: a remote service need not ask again
            result = dispatch(spec, checksum, cache.get_buffer, location, looked_up=True)
            cache.record_result(checksum, result)
        return result

    return _inflight.run(checksum, compute)
