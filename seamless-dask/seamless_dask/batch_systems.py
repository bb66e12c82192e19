"""What differs between batch systems, as small declarative tables (no subclasses).

:data:`BATCH_SYSTEMS` holds one :class:`BatchSystem` per dask-jobqueue config name. The generic
configuration code in :mod:`.configuration` and the job watcher in :mod:`.job_watch` read these
rows; a batch system that is not special gets :data:`GENERIC` values.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Mapping


@dataclass(frozen=True)
class JobStatusQuery:
    """A command that reports job states, and how to read its output.

    ``command`` items are formatted with ``job_ids`` (comma-separated). The output is cut into
    records: one per line, or, with ``record_separator`` (a regex), multi-line records such as
    ``qstat -f`` or ``qacct`` print. Each of ``patterns`` is searched in a record; together their
    named groups give ``job_id``, ``state`` and optionally ``reason`` and ``exit_status``.
    """

    command: tuple[str, ...]
    patterns: tuple[str, ...]
    #: the command takes one job id per call (``{job_ids}`` is then a single id)
    one_job_per_call: bool = False
    record_separator: str | None = None
    #: the state of every job this query lists, when the output has none (accounting records)
    state: str | None = None


@dataclass(frozen=True)
class BatchSystem:
    """The per-batch-system facts the wrapper needs."""

    name: str
    #: extra job directives (without the directive prefix) that send the job's stdout/stderr to
    #: ``{log_base}-<job id>.out/.err``; formatted with ``log_base``
    log_directives: tuple[str, ...] = ()
    #: shell lines that send the job's output to those files where no directive can name them
    #: with the job id (first in the job script); formatted with ``log_base``
    log_redirects: tuple[str, ...] = ()
    #: where a job's stderr lands, formatted with ``log_base`` and ``job_id``
    stderr_path: str | None = None
    #: dask-jobqueue header lines to leave out (``job-directives-skip``)
    directives_skip: tuple[str, ...] = ()
    #: job directives are ``key = value`` entries of a submit description (HTCondor), not lines
    directives_as_mapping: bool = False
    #: shell lines added to every job script after the user's prologue
    prologue: tuple[str, ...] = ()
    #: wrapper parameter -> dask-jobqueue config key, for the parameters this system takes as
    #: they are; a system-specific parameter not listed here is refused for this system
    options: Mapping[str, str] = field(default_factory=lambda: {"partition": "queue", "project": "project"})
    #: how ``walltime`` is written: "clock" (HH:MM:SS), "minutes" ([HH:]MM), None (no walltime)
    walltime_format: str | None = "clock"
    #: parameters every job needs, besides cores
    required: tuple[str, ...] = ("walltime", "memory")
    #: the workers inherit no environment: export the conda environment explicitly
    exports_conda: bool = False
    #: status queries, tried in order until one knows the job
    status_queries: tuple[JobStatusQuery, ...] = ()
    #: names of the states a command prints as codes (HTCondor's JobStatus numbers)
    state_names: Mapping[str, str] = field(default_factory=dict)
    pending_states: frozenset[str] = frozenset()
    running_states: frozenset[str] = frozenset()
    #: states of a job that ended; a planned worker's job in one of them has failed
    ended_states: frozenset[str] = frozenset()
    #: ended states of a job that finished normally (with exit status 0 where one is reported);
    #: not a failure once its worker had connected
    completed_states: frozenset[str] = frozenset()
    cancel_command: tuple[str, ...] = ()


SLURM = BatchSystem(
    name="slurm",
    log_directives=("--output={log_base}-%j.out", "--error={log_base}-%j.err"),
    stderr_path="{log_base}-{job_id}.err",
    prologue=("export PYTHON_CPU_COUNT=$SLURM_JOB_CPUS_PER_NODE",),
    options={"partition": "queue", "project": "account"},
    status_queries=(
        JobStatusQuery(
            ("squeue", "--noheader", "--states=all", "--jobs={job_ids}", "--format=%i|%T|%r"),
            (r"^(?P<job_id>\d+)\|(?P<state>[A-Z_]+)\|(?P<reason>.*)$",),
        ),
        JobStatusQuery(
            ("sacct", "--noheader", "--allocations", "--parsable2", "--jobs={job_ids}",
             "--format=JobID,State"),
            (r"^(?P<job_id>\d+)\|(?P<state>[A-Z_]+)",),
        ),
    ),
    pending_states=frozenset({"PENDING", "CONFIGURING", "REQUEUED", "RESV_DEL_HOLD",
                              "REQUEUE_HOLD", "REQUEUE_FED", "SUSPENDED"}),
    running_states=frozenset({"RUNNING", "COMPLETING", "STAGE_OUT", "SIGNALING", "RESIZING"}),
    ended_states=frozenset({"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "OUT_OF_MEMORY",
                            "NODE_FAIL", "BOOT_FAIL", "DEADLINE", "PREEMPTED", "REVOKED",
                            "SPECIAL_EXIT"}),
    completed_states=frozenset({"COMPLETED"}),
    cancel_command=("scancel",),
)

OAR = BatchSystem(
    name="oar",
    log_directives=("--stdout={log_base}-%jobid%.out", "--stderr={log_base}-%jobid%.err"),
    stderr_path="{log_base}-{job_id}.err",
    exports_conda=True,
    options={"partition": "queue", "project": "project",
             "memory_per_core_property_name": "memory-per-core-property-name"},
    status_queries=(
        JobStatusQuery(("oarstat", "--state", "--job", "{job_ids}"),
                       (r"^(?P<job_id>\d+):\s*(?P<state>\w+)",), one_job_per_call=True),
    ),
    pending_states=frozenset({"Waiting", "Hold", "toLaunch", "toAckReservation", "Launching"}),
    running_states=frozenset({"Running", "Finishing", "Suspended", "Resuming"}),
    ended_states=frozenset({"Terminated", "Error"}),
    completed_states=frozenset({"Terminated"}),
    cancel_command=("oardel",),
)

#: Grid Engine (SGE, Son of Grid Engine, Univa/Altair GE): ``qstat`` lists waiting and running
#: jobs, ``qacct`` the accounting record of ended ones. dask-jobqueue merges stderr into stdout
#: (``-j y``); the wrapper keeps them apart. ``$JOB_ID`` in ``-o``/``-e`` is expanded by qsub.
SGE = BatchSystem(
    name="sge",
    log_directives=("-o {log_base}-$JOB_ID.out", "-e {log_base}-$JOB_ID.err"),
    stderr_path="{log_base}-{job_id}.err",
    directives_skip=("-j y",),
    exports_conda=True,
    options={"partition": "queue", "project": "project", "resource_spec": "resource-spec"},
    status_queries=(
        # job-ID prior name user state submit/start-at queue slots
        JobStatusQuery(("qstat",), (r"^(?P<job_id>\d+)\s+\S+\s+\S+\s+\S+\s+(?P<state>[a-zA-Z]+)\s",)),
        JobStatusQuery(
            ("qacct", "-j", "{job_ids}"),
            (r"^jobnumber\s+(?P<job_id>\d+)", r"^exit_status\s+(?P<exit_status>\d+)",
             r"^failed\s+(?P<reason>[1-9].*?)\s*$"),
            one_job_per_call=True, record_separator=r"^={20,}$", state="finished",
        ),
    ),
    pending_states=frozenset({"qw", "hqw", "hRwq", "Rq", "Eqw", "Ehqw"}),
    running_states=frozenset({"r", "t", "Rr", "Rt", "s", "S", "T", "dr", "dt"}),
    ended_states=frozenset({"finished"}),
    completed_states=frozenset({"finished"}),
    cancel_command=("qdel",),
)

_PBS_FIELDS = (r"^Job Id:\s*(?P<job_id>\d+)", r"^\s*job_state = (?P<state>\w)",
               r"^\s*(?i:exit_status) = (?P<exit_status>-?\d+)", r"^\s*comment = (?P<reason>.*)$")

#: PBS Pro / OpenPBS / Torque (not installable here: tested on job scripts and documented
#: ``qstat -f`` output). ``qstat -f`` shows queued and running jobs (Torque: also completed ones,
#: state C); PBS Pro shows finished jobs (state F) with ``-x``. No ``-o``/``-e`` path can hold the
#: job id, so the job script itself sends its output to the wrapper's log files.
PBS = BatchSystem(
    name="pbs",
    log_redirects=('exec >>"{log_base}-${{PBS_JOBID%%.*}}.out" 2>>"{log_base}-${{PBS_JOBID%%.*}}.err"',),
    stderr_path="{log_base}-{job_id}.err",
    exports_conda=True,
    options={"partition": "queue", "project": "account", "resource_spec": "resource-spec"},
    status_queries=(
        JobStatusQuery(("qstat", "-f", "{job_ids}"), _PBS_FIELDS, one_job_per_call=True,
                       record_separator=r"^(?=Job Id:)"),
        JobStatusQuery(("qstat", "-f", "-x", "{job_ids}"), _PBS_FIELDS, one_job_per_call=True,
                       record_separator=r"^(?=Job Id:)"),
    ),
    pending_states=frozenset({"Q", "H", "W", "T", "S", "U"}),
    running_states=frozenset({"R", "E", "B"}),
    ended_states=frozenset({"F", "C", "X"}),
    completed_states=frozenset({"F", "C", "X"}),
    cancel_command=("qdel",),
)

#: IBM Spectrum LSF (not installable here: tested on job scripts and documented ``bjobs -o``
#: output). ``bjobs -a`` also lists recently finished jobs (DONE: exit 0, EXIT: otherwise).
LSF = BatchSystem(
    name="lsf",
    log_directives=("-o {log_base}-%J.out", "-e {log_base}-%J.err"),
    stderr_path="{log_base}-{job_id}.err",
    walltime_format="minutes",
    options={"partition": "queue", "project": "project", "ncpus": "ncpus", "mem": "mem",
             "use_stdin": "use-stdin"},
    status_queries=(
        JobStatusQuery(
            ("bjobs", "-a", "-noheader", "-o", "jobid stat exit_code pend_reason delimiter='|'"),
            (r"^(?P<job_id>\d+)\|(?P<state>[A-Z]+)\|(?P<exit_status>[^|]*)\|(?P<reason>.*)$",),
        ),
    ),
    pending_states=frozenset({"PEND", "PSUSP", "WAIT"}),
    running_states=frozenset({"RUN", "PROV", "USUSP", "SSUSP"}),
    ended_states=frozenset({"DONE", "EXIT"}),
    completed_states=frozenset({"DONE"}),
    cancel_command=("bkill",),
)

#: HTCondor (not installable here: tested on submit descriptions and documented ``condor_q`` /
#: ``condor_history`` output). Job ids are ``cluster.proc``; JobStatus is a number. No walltime,
#: queue or project: a job asks for cores, memory and disk.
HTCONDOR = BatchSystem(
    name="htcondor",
    log_directives=("Output = {log_base}-$(ClusterId).$(ProcId).out",
                    "Error = {log_base}-$(ClusterId).$(ProcId).err",
                    "Stream_Output = True", "Stream_Error = True"),
    stderr_path="{log_base}-{job_id}.err",
    directives_as_mapping=True,
    exports_conda=True,
    options={"disk": "disk", "submit_command_extra": "submit-command-extra"},
    walltime_format=None,
    required=("memory", "disk"),
    status_queries=(
        JobStatusQuery(("condor_q", "-af:j", "JobStatus", "HoldReason"),
                       (r"^(?P<job_id>\d+\.\d+)\s+(?P<state>\d)\s*(?P<reason>.*)$",)),
        JobStatusQuery(("condor_history", "{job_ids}", "-af:j", "JobStatus", "ExitCode"),
                       (r"^(?P<job_id>\d+\.\d+)\s+(?P<state>\d)\s+(?P<exit_status>\S+)",),
                       one_job_per_call=True),
    ),
    state_names={"1": "Idle", "2": "Running", "3": "Removed", "4": "Completed", "5": "Held",
                 "6": "Transferring Output", "7": "Suspended"},
    pending_states=frozenset({"Idle", "Held"}),
    running_states=frozenset({"Running", "Transferring Output", "Suspended"}),
    ended_states=frozenset({"Removed", "Completed"}),
    completed_states=frozenset({"Completed"}),
    cancel_command=("condor_rm",),
)

BATCH_SYSTEMS: dict[str, BatchSystem] = {
    system.name: system for system in (SLURM, OAR, SGE, PBS, LSF, HTCONDOR)
}
BATCH_SYSTEMS["moab"] = BatchSystem(name="moab", options=PBS.options)

#: parameters that only some batch systems take (refused by the others)
SYSTEM_SPECIFIC_PARAMETERS: frozenset[str] = frozenset(
    name for system in BATCH_SYSTEMS.values() for name in system.options
) | {"walltime"}
