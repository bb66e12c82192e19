"""`Runner`: what the jobserver does with one transformation.

Look the result up in the database(s) (a hit whose buffer is on a hashserver is returned without
executing); otherwise fetch the code and input buffers from the hashserver(s), run the
transformation on the spawn pool of ``seamless_transformer`` (N worker processes), then store the
result buffer on the writable hashservers and transformation → result on the writable databases.
"""

from __future__ import annotations

import logging

from seamless import Buffer, Checksum
from seamless_remote import RemoteClients
from seamless_transformer import CodeLocation, TransformationSpec, parse_spec, run_spawned, spawn
from seamless_transformer import shutdown_workers as shutdown

logger = logging.getLogger("seamless_jobserver")


class JobRequestError(ValueError):
    """The request cannot be run as it is (malformed, or names a buffer nobody has)."""


class Runner:
    """Runs transformations for the jobserver; ``workers`` spawn-pool processes do the work."""

    def __init__(self, clients: RemoteClients, workers: int) -> None:
        self.check_clients(clients)  # callers may check earlier (the CLI does, before its healthchecks)
        self.clients = clients
        self.workers = workers
        spawn(workers)

    @staticmethod
    def check_clients(clients: RemoteClients) -> None:
        """Raise ValueError unless there is a writable hashserver and a writable database."""
        if not clients.hashservers or not clients.databases:
            raise ValueError("the jobserver needs at least one hashserver ('buffer') and one database")
        if not clients.writable(clients.hashservers) or not clients.writable(clients.databases):
            raise ValueError("the jobserver needs a writable hashserver and a writable database to store results")

    def close(self) -> None:
        shutdown()
        self.clients.close()

    def _spec(self, transformation: dict, checksum: Checksum | None) -> tuple[TransformationSpec, Checksum]:
        from seamless_transformer import TransformationError

        try:
            spec = parse_spec(transformation)
        except TransformationError as exc:
            raise JobRequestError(exc.message) from None
        actual = spec.buffer().checksum
        if checksum is not None and actual != checksum:
            raise JobRequestError(
                f"tf_checksum {checksum.hex()} does not match the transformation dict (its checksum is {actual.hex()})"
            )
        return spec, actual

    def _on_hashserver(self, checksum: Checksum) -> bool:
        return any(h.has([checksum])[0] for h in self.clients.hashservers)

    def cached_result(self, checksum: Checksum) -> Checksum | None:
        for database in self.clients.databases:
            result = database.get_result(checksum)
            if result is not None and self._on_hashserver(result):
                return result
        return None

    def _fetch(self, checksum: Checksum) -> Buffer:
        for hashserver in self.clients.hashservers:
            buffer = hashserver.get_buffer(checksum)
            if buffer is not None:
                return buffer
        urls = ", ".join(h.url for h in self.clients.hashservers)
        raise JobRequestError(f"buffer {checksum.hex()} is on none of the jobserver's hashservers ({urls}): upload it first")

    def _store(self, checksum: Checksum, result: Buffer) -> None:
        for hashserver in self.clients.writable(self.clients.hashservers):
            hashserver.put_buffer(result)
        for database in self.clients.writable(self.clients.databases):
            database.put_result(checksum, result.checksum)

    def run(self, transformation: dict, checksum: Checksum | None, location: tuple[str, int] | None) -> Checksum:
        """Run (or find cached) one transformation; return its result checksum.

        Raises `JobRequestError` for a bad request, ``TransformationError`` if the code failed.
        """
        spec, checksum = self._spec(transformation, checksum)
        cached = self.cached_result(checksum)
        if cached is not None:
            logger.info("Transformation %s: cached result %s", checksum.hex(), cached.hex())
            return cached
        buffers = {cs: self._fetch(cs) for cs in spec.checksums()}
        loc = CodeLocation(*location) if location else None
        logger.info("Transformation %s: running", checksum.hex())
        result = run_spawned(spec, checksum, buffers.__getitem__, loc)
        self._store(checksum, result)
        logger.info("Transformation %s: result %s", checksum.hex(), result.checksum.hex())
        return result.checksum
