#!/usr/bin/env bash
# Stop the single-node Grid Engine started by scripts/sge-up.sh: delete the jobs, then stop
# sge_execd and sge_qmaster by their pid files (checking the process name, never by a broad match).
set -u
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
SPOOL=/var/spool/gridengine

log() { echo "sge-down: $*" >&2; }

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

# Delete queued and running jobs first, so no job outlives its execd.
if command -v qdel >/dev/null && qstat >/dev/null 2>&1; then
  qdel -u "$(id -un)" >/dev/null 2>&1 || true
  for i in $(seq 1 50); do [ -z "$(qstat 2>/dev/null)" ] && break; sleep 0.2; done
fi
found=0
for f in "$SPOOL"/execd/*/execd.pid; do [ -e "$f" ] && { found=1; stop sge_execd "$f"; }; done
[ "$found" = 1 ] || log "sge_execd: no pid file"
stop sge_qmaster "$SPOOL/qmaster/qmaster.pid"
