#!/usr/bin/env bash
# Stop the single-node SLURM started by scripts/slurm-up.sh: cancel the jobs, then stop slurmd,
# slurmctld and munged by their pid files (checking the process name, never by a broad match).
# KEEP_MUNGE=1 leaves munged running.
set -u

log() { echo "slurm-down: $*" >&2; }
# shellcheck source=pidfile.sh
. "$(dirname "$0")/pidfile.sh"

# Cancel queued and running jobs first, so no job step outlives slurmd.
if command -v scancel >/dev/null && [ -f /run/slurm/slurmctld.pid ] \
   && kill -0 "$(cat /run/slurm/slurmctld.pid)" 2>/dev/null; then
  scancel --user="$(id -un)" >/dev/null 2>&1 || true
  for i in $(seq 1 30); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.2; done
fi
stop_pidfile slurmd /run/slurm/slurmd.pid
stop_pidfile slurmctld /run/slurm/slurmctld.pid
[ "${KEEP_MUNGE:-0}" = 1 ] || stop_pidfile munged /run/munge/munged.pid
