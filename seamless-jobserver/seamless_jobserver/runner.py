"""`Runner`: what the jobserver does with one transformation.

Look the result up among the results still being stored, then in the database(s) (a hit whose
buffer is on a hashserver is returned without executing; skipped when the client has just
looked it up there itself); otherwise take the code and input
buffers from the request or fetch them from the hashserver(s), run the transformation on the
spawn pool of ``seamless_transformer`` (N worker processes) and return the result at once.
Storing it (the buffers sent with the request and the result on the writable hashservers, then
transformation → result on the writable databases) is done in the background by
``seamless_transformer.write_behind``; a failed store is raised (`StoreError`) by the next run.
Requests for a transformation that is already running wait for it rather than run it again, so
it is computed and stored once. One log line per transformation at DEBUG (``--log-level
DEBUG``), none at the default INFO: the answer is the record.
"""

from __future__ import annotations

import logging

from seamless import Buffer, Checksum
from seamless.errors import SeamlessError
from seamless_remote import RemoteClients
from seamless_transformer import CodeLocation, TransformationSpec, get_write_behind, parse_spec, run_spawned, spawn
from seamless_transformer import shutdown_workers as shutdown
from seamless_transformer.inflight import InFlight

logger = logging.getLogger(__name__)


class JobRequestError(SeamlessError, ValueError):
    """The request cannot be run as it is (malformed, or names a buffer nobody has)."""


class Runner:
    """Runs transformations for the jobserver; ``workers`` spawn-pool processes do the work."""

    def __init__(self, clients: RemoteClients, workers: int) -> None:
        self.check_clients(clients)  # callers may check earlier (the CLI does, before its healthchecks)
        self.clients = clients
        self.workers = workers
        #: the transformations being run, by checksum: a second request for one waits for it
        self._running: InFlight[Buffer] = InFlight()
        spawn(workers)

    @staticmethod
    def check_clients(clients: RemoteClients) -> None:
        """Raise ValueError unless there is a writable hashserver and a writable database."""
        if not clients.hashservers or not clients.databases:
            raise ValueError("the jobserver needs at least one hashserver ('buffer') and one database")
        if not clients.writable(clients.hashservers) or not clients.writable(clients.databases):
            raise ValueError("the jobserver needs a writable hashserver and a writable database to store results")

    def close(self) -> None:
        get_write_behind().drain()
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

    def cached_result(self, checksum: Checksum, lookup: bool = True) -> Buffer | Checksum | None:
        """The result among those being stored, else (``lookup``) from a database whose result
        buffer is on a hashserver; None if neither has it."""
        buffer = self.pending_result(checksum)
        # the client asked one database (its own): others, e.g. read-only ones, are still asked
        if buffer is not None or (not lookup and len(self.clients.databases) <= 1):
            return buffer
        for database in self.clients.databases:
            result = database.get_result(checksum)
            if result is not None and self._on_hashserver(result):
                return result
        return None

    @staticmethod
    def pending_result(checksum: Checksum) -> Buffer | None:
        """The result if it is among those this jobserver is still storing."""
        pending = get_write_behind().pending
        result = pending.get_result(checksum)
        return pending.get_buffer(result) if result is not None else None

    def _fetch(self, checksum: Checksum) -> Buffer:
        pending = get_write_behind().pending.get_buffer(checksum)
        if pending is not None:
            return pending
        for hashserver in self.clients.hashservers:
            buffer = hashserver.get_buffer(checksum)
            if buffer is not None:
                return buffer
        urls = ", ".join(h.url for h in self.clients.hashservers)
        raise JobRequestError(f"buffer {checksum.hex()} is on none of the jobserver's hashservers ({urls}): upload it first")

    def _store(self, checksum: Checksum, result: Buffer, inputs: tuple[Buffer, ...]) -> None:
        stores = [*self.clients.writable(self.clients.hashservers), *self.clients.writable(self.clients.databases)]
        get_write_behind().submit(checksum, result, stores, inputs)

    def run(self, transformation: dict, checksum: Checksum | None, location: tuple[str, int] | None,
            buffers: dict[Checksum, Buffer] | None = None, lookup: bool = True) -> Buffer | Checksum:
        """Run (or find cached) one transformation; return its result buffer (computed now or
        still being stored) or checksum (found in a database). ``buffers``: some of the code and
        input buffers, sent with the request (verified by the caller). ``lookup=False``: the
        client has just found no result in the database; it is not asked again.

        Raises `JobRequestError` for a bad request, ``TransformationError`` if the code failed,
        ``StoreError`` if an earlier result could not be stored.
        """
        get_write_behind().raise_failures()
        spec, checksum = self._spec(transformation, checksum)
        cached = self.cached_result(checksum, lookup)
        if cached is not None:
            logger.debug("Transformation %s: cached result", checksum.hex())
            return cached

        def compute() -> Buffer:
            # it may have ended just before it was claimed here: its result is then being stored
            result = self.pending_result(checksum)
            if result is None:  # (an empty result Buffer is falsy: not "or")
                result = self._execute(spec, checksum, location, buffers or {})
            return result

        # concurrent requests for it wait for one run; one that lacked a buffer another brings
        # (JobRequestError) lets the next one run it
        return self._running.run(checksum, compute, retry_on=(JobRequestError,))

    def _execute(self, spec: TransformationSpec, checksum: Checksum, location: tuple[str, int] | None,
                 given: dict[Checksum, Buffer]) -> Buffer:
        needed = spec.checksums()
        inputs = {cs: given[cs] if cs in given else self._fetch(cs) for cs in needed}
        loc = CodeLocation(*location) if location else None
        result = run_spawned(spec, checksum, inputs.__getitem__, loc)
        self._store(checksum, result, tuple(given[cs] for cs in needed if cs in given))
        logger.debug("Transformation %s: result %s", checksum.hex(), result.checksum.hex())
        return result
