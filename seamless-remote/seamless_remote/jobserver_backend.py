"""`JobserverBackend`: seamless_transformer's remote backend for ``remote: jobserver``.

``submit(job)`` sends the job's small code and input buffers with the request (the jobserver
stores them on the hashserver in the background), uploads the large ones the hashserver lacks
first, and returns the result: the buffer itself, sent back by the jobserver, or (a result the
jobserver found cached) its checksum, whose buffer is then read from the hashserver. The
jobserver records the result in the hashserver and database itself, so this process's clients
are told not to send it again. The jobserver shares ``database`` with this process too: when the
caller has just looked the result up there (``RemoteJob.looked_up``, with ``database`` among
its stores), the jobserver is told not to look it up again.
"""

from __future__ import annotations

from seamless import Buffer, Checksum
from seamless_transformer import RemoteJob, TransformationError, has_store

from .database_client import DatabaseClient
from .errors import JobFailedError
from .hashserver_client import ASK_FIRST_ABOVE, HashserverClient
from .jobserver_client import JobserverClient


class JobserverBackend:
    """Runs transformations on a jobserver that shares ``hashserver`` with this process."""

    def __init__(self, jobserver: JobserverClient, hashserver: HashserverClient, database: DatabaseClient) -> None:
        self.jobserver = jobserver
        self.hashserver = hashserver
        self.database = database

    def __repr__(self) -> str:
        return f"JobserverBackend({self.jobserver.url!r}, {self.hashserver.url!r})"

    def submit(self, job: RemoteJob) -> Buffer | Checksum:
        buffers = job.buffers()
        inline = {cs: b for cs, b in buffers.items() if len(b.content) <= ASK_FIRST_ABOVE}
        self.hashserver.upload_missing({cs: b for cs, b in buffers.items() if cs not in inline})
        location = (job.location.filename, job.location.lineno) if job.location else None
        try:
            looked_up = job.looked_up and has_store(self.database)  # that database was asked
            result = self.jobserver.run(
                job.transformation, job.checksum, location, buffers=inline, lookup=not looked_up
            )
        except JobFailedError as exc:
            raise TransformationError(exc.message, traceback=exc.traceback, checksum=job.checksum.hex()) from None
        checksum = result.checksum if isinstance(result, Buffer) else result
        self.database.note_recorded(job.checksum, checksum)
        self.hashserver.note_present(checksum)
        return result
