"""Seamless core: checksums, buffers and deterministic (de)serialisation of values.

Importing it is cheap: stdlib only (NumPy is imported when an array is (de)serialised).
``seamless.config`` and ``seamless.transformer`` are facades (:mod:`seamless.facades`), imported
only when asked for.
"""

from .buffer import Buffer
from .checksum import Checksum
from .errors import CacheMissError, SeamlessError, SerializationError
from .serialization import CELLTYPES, deserialize, infer_celltype, is_plain, serialize
from .worker_role import is_worker

__all__ = [
    "Buffer",
    "CELLTYPES",
    "CacheMissError",
    "Checksum",
    "SeamlessError",
    "SerializationError",
    "deserialize",
    "infer_celltype",
    "is_plain",
    "is_worker",
    "serialize",
]
