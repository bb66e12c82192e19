#!/usr/bin/env bash
# Stop the single-node SLURM started by scripts/slurm-up.sh: cancel the jobs, then stop slurmd,
# slurmctld and munged by their pid files (checking the process name, never by a broad match).
# KEEP_MUNGE=1 leaves munged running.
set -u

log() { echo "slurm-down: $*" >&2; }

stop() {   # stop NAME PIDFILE
  local name="$1" pidfile="$2" pid i
  [ -f "$pidfile" ] || { log "$name: no pid file"; return 0; }
  pid="$(cat "$pidfile")"
  if kill -0 "$pid" 2>/dev/null && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$name" ]; then
    kill -TERM "$pid"
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; log "$name ($pid) killed"
    else log "$name ($pid) stopped"; fi
  else
    log "$name: not running"
  fi
  rm -f "$pidfile"
}

# Cancel queued and running jobs first, so no job step outlives slurmd.
if command -v scancel >/dev/null && [ -f /run/slurm/slurmctld.pid ] \
   && kill -0 "$(cat /run/slurm/slurmctld.pid)" 2>/dev/null; then
  scancel --user="$(id -un)" >/dev/null 2>&1 || true
  for i in $(seq 1 30); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
fi
stop slurmd /run/slurm/slurmd.pid
stop slurmctld /run/slurm/slurmctld.pid
[ "${KEEP_MUNGE:-0}" = 1 ] || stop munged /run/munge/munged.pid
