"""Watch the batch jobs of a job-queue cluster, so silent worker failures reach the user.

A :class:`JobWatcher` asks the batch system (commands from :mod:`.batch_systems`) about the
cluster's jobs and turns what it sees into events for the wrapper's topic
(:data:`seamless_service.wrapper_events.WRAPPER_EVENT_TOPIC`):

* ``{"kind": "worker-failed", "job_id", "state", "reason", "exit_status", "stderr_tail"}`` once per job that ended while
  the cluster still wanted it, unless its worker had connected and it merely completed;
* ``{"kind": "jobs-pending", "pending", "waited_seconds", "reasons"}`` every
  :data:`PENDING_EVERY` seconds while jobs wait in the queue and no worker is connected.
"""

from __future__ import annotations

import logging
import re
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from .batch_systems import BatchSystem, JobStatusQuery

logger = logging.getLogger(__name__)

PENDING_EVERY = 5.0
STDERR_TAIL_LINES = 20
QUERY_TIMEOUT = 15.0

Runner = Callable[[list[str]], str]


def run_command(cmd: list[str]) -> str:
    """Run a batch-system command; its stdout, or '' when it fails (logged at debug level)."""
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=QUERY_TIMEOUT)
    except (OSError, subprocess.TimeoutExpired) as exc:
        logger.debug("%s failed: %s", cmd[0], exc)
        return ""
    if done.returncode != 0:
        logger.debug("%s exited %d: %s", cmd[0], done.returncode, done.stderr.strip())
    return done.stdout


@dataclass(frozen=True)
class JobState:
    job_id: str
    state: str
    reason: str = ""
    #: the job's exit status where the batch system reports one
    exit_status: str | None = None


def _records(query: JobStatusQuery, output: str) -> list[str]:
    if query.record_separator is None:
        return [line.strip() for line in output.splitlines()]
    return re.split(query.record_separator, output, flags=re.MULTILINE)


def _read_record(query: JobStatusQuery, record: str) -> dict[str, str]:
    """The named groups of all ``query.patterns`` found in one record."""
    found: dict[str, str] = {}
    for pattern in query.patterns:
        match = re.search(pattern, record, flags=re.MULTILINE)
        if match:
            found.update({k: v for k, v in match.groupdict().items() if v is not None})
    return found


def query_states(system: BatchSystem, job_ids: list[str], run: Runner = run_command) -> dict[str, JobState]:
    """Ask the batch system about ``job_ids``; each query fills in the jobs earlier ones missed."""
    found: dict[str, JobState] = {}
    for query in system.status_queries:
        missing = [j for j in job_ids if j not in found]
        if not missing:
            break
        groups = [[j] for j in missing] if query.one_job_per_call else [missing]
        for group in groups:
            cmd = [part.format(job_ids=",".join(group)) for part in query.command]
            for record in _records(query, run(cmd)):
                fields = _read_record(query, record)
                job_id, state = fields.get("job_id"), fields.get("state", query.state)
                if job_id in missing and state is not None:
                    found[job_id] = JobState(
                        job_id, system.state_names.get(state, state), _reason(fields.get("reason")),
                        _exit_status(fields.get("exit_status")),
                    )
    return found


#: what status commands print for "no value": squeue "None", bjobs "-", condor_q "undefined"
_NO_VALUE = {"", "None", "-", "undefined"}


def _reason(text: str | None) -> str:
    """A job's pending/failure reason, or '' when the command printed none."""
    text = (text or "").strip()
    return "" if text in _NO_VALUE else text


def _exit_status(text: str | None) -> str | None:
    text = (text or "").strip()
    return None if text in _NO_VALUE else text


def stderr_tail(path: Path, lines: int = STDERR_TAIL_LINES) -> str:
    """The last ``lines`` lines of a job's stderr file, or a note why there are none."""
    try:
        text = path.read_text(errors="replace")
    except OSError as exc:
        return f"(no stderr file {path}: {exc.strerror})"
    return "\n".join(text.rstrip("\n").splitlines()[-lines:])


@dataclass
class JobWatcher:
    """Turns the states of a cluster's jobs into ``worker-failed`` / ``jobs-pending`` events."""

    system: BatchSystem
    log_base: str
    run: Runner = run_command
    clock: Callable[[], float] = time.monotonic
    submitted: set[str] = field(default_factory=set)
    reported: set[str] = field(default_factory=set)
    _connected_jobs: set[str] = field(default_factory=set)
    _waiting_since: float | None = None
    _last_pending_event: float | None = None

    def poll(self, planned: dict[str, str], worker_names: set[str]) -> list[dict[str, Any]]:
        """``planned``: job id -> worker name of the jobs the cluster wants now;
        ``worker_names``: names of the workers connected to the scheduler."""
        self.submitted.update(planned)
        for job_id, name in planned.items():
            if any(w == name or w.startswith(name + "-") for w in worker_names):
                self._connected_jobs.add(job_id)
        watch = [j for j in planned if j not in self.reported]
        states = query_states(self.system, watch, self.run) if watch else {}
        events = [self._failure(s) for s in states.values() if self._has_failed(s)]
        pending = [s for s in states.values() if s.state in self.system.pending_states]
        events += self._pending_event(pending, bool(worker_names))
        return events

    def _has_failed(self, state: JobState) -> bool:
        if state.state not in self.system.ended_states:
            return False
        completed = state.state in self.system.completed_states and state.exit_status in (None, "0")
        return not (completed and state.job_id in self._connected_jobs)

    def _failure(self, state: JobState) -> dict[str, Any]:
        self.reported.add(state.job_id)
        tail = ""
        if self.system.stderr_path:
            path = Path(self.system.stderr_path.format(log_base=self.log_base, job_id=state.job_id))
            tail = stderr_tail(path)
        return {"kind": "worker-failed", "job_id": state.job_id, "state": state.state,
                "reason": state.reason, "exit_status": state.exit_status, "stderr_tail": tail}

    def _pending_event(self, pending: list[JobState], have_workers: bool) -> list[dict[str, Any]]:
        now = self.clock()
        if not pending or have_workers:
            self._waiting_since = self._last_pending_event = None
            return []
        if self._waiting_since is None:
            self._waiting_since = now
        if self._last_pending_event is not None and now - self._last_pending_event < PENDING_EVERY:
            return []
        self._last_pending_event = now
        reasons = sorted({s.reason for s in pending if s.reason})
        return [{"kind": "jobs-pending", "pending": len(pending),
                 "waited_seconds": round(now - self._waiting_since, 1), "reasons": reasons}]

    def cancel_leftovers(self) -> list[str]:
        """Cancel every job this watcher saw submitted that the batch system still holds."""
        if not self.submitted or not self.system.cancel_command:
            return []
        states = query_states(self.system, sorted(self.submitted), self.run)
        alive = sorted(j for j, s in states.items() if s.state not in self.system.ended_states)
        if alive:
            logger.warning("cancelling leftover job(s) %s", ", ".join(alive))
            self.run([*self.system.cancel_command, *alive])
        return alive


def describe(event: dict[str, Any]) -> str:
    """One log line for an event."""
    if event["kind"] == "worker-failed":
        return (f"worker job {event['job_id']} {event['state']}"
                + (f" (exit status {event['exit_status']})" if event.get("exit_status") else "")
                + (f" ({event['reason']})" if event.get("reason") else "")
                + f"; stderr tail:\n{event['stderr_tail']}")
    if event["kind"] == "jobs-pending":
        why = f" ({', '.join(event['reasons'])})" if event.get("reasons") else ""
        return (f"waiting for {event['pending']} queued worker job(s) since "
                f"{event['waited_seconds']:g} s{why}; no worker connected yet")
    return str(event)
