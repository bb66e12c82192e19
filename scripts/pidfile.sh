# Shared by the service scripts (source it): processes named by pid files, checked by name so a
# reused PID is never signalled.

# running PIDFILE NAME: the pid file names a live process called NAME
running() {
  [ -f "$1" ] || return 1
  local pid; pid="$(cat "$1")"
  kill -0 "$pid" 2>/dev/null && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$2" ]
}

# stop_pidfile NAME PIDFILE: SIGTERM, up to 10 s for it to exit, then SIGKILL; removes the pid
# file. Logs through the caller's log().
stop_pidfile() {
  local name="$1" pidfile="$2" pid i
  [ -f "$pidfile" ] || { log "$name: no pid file"; return 0; }
  pid="$(cat "$pidfile")"
  if running "$pidfile" "$name"; then
    kill -TERM "$pid"
    for i in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; log "$name ($pid) killed"
    else log "$name ($pid) stopped"; fi
  else
    log "$name: not running"
  fi
  rm -f "$pidfile"
}
