"""Seamless transformations: ``@direct`` / ``@delayed`` Python functions, identified by checksum,
executed in process, in a local spawn pool, or by a remote backend, with results cached.

Importing it imports no Dask, distributed or seamless_remote.
"""

import logging

from .cache import add_store, clear_memory_cache, get_cache_dir, has_store, remove_store, set_cache_dir
from .code import CodeLocation
from .decorators import delayed, direct
from .errors import RemoteBackendMissingError, StoreError, TransformationError
from .execute import execute_transformation
from .execution import get_execution, set_execution
from .remote_backend import RemoteBackend, RemoteJob, get_backend, register_backend
from .spawn_pool import shutdown as shutdown_workers
from .spawn_pool import run_spawned, spawn
from .transformation import Transformation
from .transformation_dict import TransformationSpec, parse_spec
from .write_behind import flush, get_write_behind

logging.getLogger(__name__).addHandler(logging.NullHandler())

__all__ = [
    "CodeLocation",
    "RemoteBackend",
    "RemoteBackendMissingError",
    "RemoteJob",
    "StoreError",
    "Transformation",
    "TransformationSpec",
    "TransformationError",
    "add_store",
    "clear_memory_cache",
    "delayed",
    "direct",
    "execute_transformation",
    "flush",
    "get_backend",
    "get_cache_dir",
    "get_execution",
    "get_write_behind",
    "has_store",
    "parse_spec",
    "register_backend",
    "remove_store",
    "run_spawned",
    "set_cache_dir",
    "set_execution",
    "shutdown_workers",
    "spawn",
]
