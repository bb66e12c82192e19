"""`JobserverBackend`: seamless_transformer's remote backend for ``remote: jobserver``.

``submit(job)`` uploads the job's code and input buffers to the hashserver (those it lacks),
asks the jobserver to run it, and returns the result checksum: the result buffer is then read
from the hashserver, a registered buffer store. The jobserver records the result in the database
itself, so the database client is told not to send it again.
"""

from __future__ import annotations

from seamless import Checksum
from seamless_transformer import RemoteJob, TransformationError

from .database_client import DatabaseClient
from .errors import JobFailedError
from .hashserver_client import HashserverClient
from .jobserver_client import JobserverClient


class JobserverBackend:
    """Runs transformations on a jobserver that shares ``hashserver`` with this process."""

    def __init__(self, jobserver: JobserverClient, hashserver: HashserverClient, database: DatabaseClient) -> None:
        self.jobserver = jobserver
        self.hashserver = hashserver
        self.database = database

    def __repr__(self) -> str:
        return f"JobserverBackend({self.jobserver.url!r}, {self.hashserver.url!r})"

    def submit(self, job: RemoteJob) -> Checksum:
        self.hashserver.upload_missing(job.buffers())
        location = (job.location.filename, job.location.lineno) if job.location else None
        try:
            result = self.jobserver.run_transformation(job.transformation, job.checksum, location)
        except JobFailedError as exc:
            raise TransformationError(exc.message, traceback=exc.traceback, checksum=job.checksum.hex()) from None
        self.database.note_recorded(job.checksum, result)
        return result
