"""What differs between batch systems, as small declarative tables (no subclasses).

:data:`BATCH_SYSTEMS` holds one :class:`BatchSystem` per dask-jobqueue config name. The generic
configuration code in :mod:`.configuration` and the job watcher in :mod:`.job_watch` read these
rows; a batch system that is not special gets :data:`GENERIC` values.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class JobStatusQuery:
    """A command that reports job states, and how to read its output.

    ``command`` items are formatted with ``job_ids`` (comma-separated); each output line matching
    ``line_pattern`` (named groups ``job_id``, ``state`` and optionally ``reason``) gives one job.
    """

    command: tuple[str, ...]
    line_pattern: str
    #: the command takes one job id per call (``{job_ids}`` is then a single id)
    one_job_per_call: bool = False


@dataclass(frozen=True)
class BatchSystem:
    """The per-batch-system facts the wrapper needs."""

    name: str
    #: extra job directives (without the directive prefix) that send the job's stdout/stderr to
    #: ``{log_base}-<job id>.out/.err``; formatted with ``log_base``
    log_directives: tuple[str, ...] = ()
    #: where a job's stderr lands, formatted with ``log_base`` and ``job_id``
    stderr_path: str | None = None
    #: shell lines added to every job script after the user's prologue
    prologue: tuple[str, ...] = ()
    #: jobqueue config key that receives the ``project`` parameter
    project_key: str = "project"
    #: the workers inherit no environment: export the conda environment explicitly
    exports_conda: bool = False
    #: takes a ``memory-per-core-property-name``
    has_memory_per_core: bool = False
    #: status queries, tried in order until one knows the job
    status_queries: tuple[JobStatusQuery, ...] = ()
    pending_states: frozenset[str] = frozenset()
    running_states: frozenset[str] = frozenset()
    #: states of a job that ended; a planned worker's job in one of them has failed
    ended_states: frozenset[str] = frozenset()
    #: the ended state of a job that finished normally (not a failure once its worker had connected)
    completed_state: str | None = None
    cancel_command: tuple[str, ...] = ()


SLURM = BatchSystem(
    name="slurm",
    log_directives=("--output={log_base}-%j.out", "--error={log_base}-%j.err"),
    stderr_path="{log_base}-{job_id}.err",
    prologue=("export PYTHON_CPU_COUNT=$SLURM_JOB_CPUS_PER_NODE",),
    project_key="account",
    status_queries=(
        JobStatusQuery(
            ("squeue", "--noheader", "--states=all", "--jobs={job_ids}", "--format=%i|%T|%r"),
            r"^(?P<job_id>\d+)\|(?P<state>[A-Z_]+)\|(?P<reason>.*)$",
        ),
        JobStatusQuery(
            ("sacct", "--noheader", "--allocations", "--parsable2", "--jobs={job_ids}",
             "--format=JobID,State"),
            r"^(?P<job_id>\d+)\|(?P<state>[A-Z_]+)",
        ),
    ),
    pending_states=frozenset({"PENDING", "CONFIGURING", "REQUEUED", "RESV_DEL_HOLD",
                              "REQUEUE_HOLD", "REQUEUE_FED", "SUSPENDED"}),
    running_states=frozenset({"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING", "RESIZING"}),
    ended_states=frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY",
                            "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "PREEMPTED", "REVOKED",
                            "SPECIAL_EXIT"}),
    completed_state="COMPLETED",
    cancel_command=("scancel",),
)

OAR = BatchSystem(
    name="oar",
    log_directives=("--stdout={log_base}-%jobid%.out", "--stderr={log_base}-%jobid%.err"),
    stderr_path="{log_base}-{job_id}.err",
    exports_conda=True,
    has_memory_per_core=True,
    status_queries=(
        JobStatusQuery(("oarstat", "--state", "--job", "{job_ids}"),
                       r"^(?P<job_id>\d+):\s*(?P<state>\w+)", one_job_per_call=True),
    ),
    pending_states=frozenset({"Waiting", "Hold", "toLaunch", "toAckReservation", "Launching"}),
    running_states=frozenset({"Running", "Finishing", "Suspended", "Resuming"}),
    ended_states=frozenset({"Terminated", "Error"}),
    completed_state="Terminated",
    cancel_command=("oardel",),
)

PBS = BatchSystem(name="pbs", project_key="account", cancel_command=("qdel",))
GENERIC_NAMES = ("sge", "lsf", "htcondor", "moab")

BATCH_SYSTEMS: dict[str, BatchSystem] = {
    "slurm": SLURM,
    "oar": OAR,
    "pbs": PBS,
    **{name: BatchSystem(name=name) for name in GENERIC_NAMES},
}
