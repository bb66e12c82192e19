#!/usr/bin/env bash
# Stop the single-node Grid Engine started by scripts/sge-up.sh: delete the jobs, then stop
# sge_execd and sge_qmaster by their pid files (checking the process name, never by a broad match).
set -u
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
SPOOL=/var/spool/gridengine

log() { echo "sge-down: $*" >&2; }
# shellcheck source=pidfile.sh
. "$(dirname "$0")/pidfile.sh"

# Delete queued and running jobs first, so no job outlives its execd.
if command -v qdel >/dev/null && qstat >/dev/null 2>&1; then
  qdel -u "$(id -un)" >/dev/null 2>&1 || true
  for i in $(seq 1 50); do [ -z "$(qstat 2>/dev/null)" ] && break; sleep 0.2; done
fi
found=0
for f in "$SPOOL"/execd/*/execd.pid; do [ -e "$f" ] && { found=1; stop_pidfile sge_execd "$f"; }; done
[ "$found" = 1 ] || log "sge_execd: no pid file"
stop_pidfile sge_qmaster "$SPOOL/qmaster/qmaster.pid"
