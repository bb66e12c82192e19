#!/usr/bin/env bash
# Bring up a real single-node Grid Engine (SGE 8.1.9 from Debian 12) for the test suite
# (root, no systemd).
#
# Idempotent: installs gridengine-master/-exec/-client if missing, makes this host the qmaster,
# an admin, submit and execution host, tunes the cell for a test machine (jobs as root allowed,
# 1 s scheduling, no load thresholds), defines one queue, starts sge_qmaster and sge_execd by
# hand if they are not running, waits for the queue instance and proves it with one job.
#
# Settings (environment):
#   SGE_QUEUE        queue name (default: all.q)
#   SGE_SLOTS        slots of the queue instance (default: 8; more than the real cores, so several
#                    one-core worker jobs of the scaling tests run side by side on 2 cores)
#   SGE_UP_TIMEOUT   seconds to wait for the queue (default 60)
#   SGE_UP_SMOKE     1 (default) runs `qsub -sync y true` at the end; 0 skips it
#
# Pid files: /var/spool/gridengine/qmaster/qmaster.pid, /var/spool/gridengine/execd/*/execd.pid
# Logs:      /var/spool/gridengine/qmaster/messages, /var/spool/gridengine/execd/*/messages
# Stop with scripts/sge-down.sh.
set -euo pipefail

QUEUE="${SGE_QUEUE:-all.q}"
SLOTS="${SGE_SLOTS:-8}"
TIMEOUT="${SGE_UP_TIMEOUT:-60}"
PACKAGES=(gridengine-master gridengine-exec gridengine-client)
export SGE_ROOT=/var/lib/gridengine SGE_CELL=default
COMMON="$SGE_ROOT/$SGE_CELL/common"
SPOOL=/var/spool/gridengine
QMASTER_PID="$SPOOL/qmaster/qmaster.pid"

log() { echo "sge-up: $*" >&2; }
die() { log "$*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (it installs packages and starts daemons)"

# shellcheck source=pidfile.sh
. "$(dirname "$0")/pidfile.sh"
execd_running() {
  local f
  for f in "$SPOOL"/execd/*/execd.pid; do running "$f" sge_execd && return 0; done
  return 1
}

NODE="$(hostname)"
getent hosts "$NODE" >/dev/null || echo "127.0.0.1 $NODE" >> /etc/hosts

install_packages() {
  command -v qsub >/dev/null && [ -x /usr/sbin/sge_qmaster ] && [ -x /usr/sbin/sge_execd ] \
    && [ -d "$COMMON" ] && return 0
  log "installing ${PACKAGES[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # The postinst creates the cell (spool, global configuration) when told the master host.
  debconf-set-selections <<SEL
gridengine-common shared/gridengineconfig boolean true
gridengine-common shared/gridenginecell string $SGE_CELL
gridengine-common shared/gridenginemaster string $NODE
SEL
  # This image's policy-rc.d keeps the postinst scripts from starting the daemons.
  apt-get install -y --no-install-recommends "${PACKAGES[@]}" >/tmp/sge-up-apt.log 2>&1 \
    || { apt-get update >>/tmp/sge-up-apt.log 2>&1 \
         && apt-get install -y --no-install-recommends "${PACKAGES[@]}" >>/tmp/sge-up-apt.log 2>&1; } \
    || die "apt-get install failed; see /tmp/sge-up-apt.log"
  [ -d "$COMMON" ] || die "the packages did not create the cell $COMMON; see /tmp/sge-up-apt.log"
}

# Grid Engine refuses clients whose address resolves to another name than their own hostname
# ("access denied (client IP resolved to host name localhost ...)"): when this host's address
# resolves back to another name, declare that name an alias of the host.
write_host_aliases() {
  local addr back
  addr="$(getent ahostsv4 "$NODE" | awk 'NR == 1 {print $1}')"
  back="$("$SGE_ROOT/utilbin/$("$SGE_ROOT/util/arch")/gethostbyaddr" "$addr" 2>/dev/null | sed -n 's/^Hostname: //p' | head -1 || true)"
  if [ -n "$back" ] && [ "$back" != "$NODE" ]; then
    echo "$NODE $back" > "$COMMON/host_aliases.new"
  else
    : > "$COMMON/host_aliases.new"
  fi
  if cmp -s "$COMMON/host_aliases.new" "$COMMON/host_aliases" 2>/dev/null; then
    rm -f "$COMMON/host_aliases.new"; return 1
  fi
  mv "$COMMON/host_aliases.new" "$COMMON/host_aliases"
  return 0
}

quiet() {   # quiet COMMAND...: its output only when it fails
  local out
  out="$("$@" 2>&1)" || { printf '%s\n' "$out" >&2; return 1; }
}

wait_until() {   # wait_until WHAT COMMAND...: retry COMMAND until it succeeds or TIMEOUT passes
  local what="$1" deadline; shift
  deadline=$(( $(date +%s) + TIMEOUT ))
  until "$@" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "$what not ready after ${TIMEOUT}s"
      tail -20 "$SPOOL"/qmaster/messages "$SPOOL"/execd/*/messages >&2 2>/dev/null || true
      exit 1
    fi
    sleep 0.2
  done
}

# set_lines FILE KEY VALUE...: replace the values of KEYs in a qconf dump (after joining its
# backslash-continued lines)
set_lines() {
  local file="$1"; shift
  sed -i -e ':a' -e '/\\$/N' -e 's/\\\n */ /' -e 'ta' "$file"
  while [ $# -ge 2 ]; do
    sed -i "s|^$1 .*|$1 $2|" "$file"; shift 2
  done
}

configure_cell() {
  local tmp; tmp="$(mktemp -d)"
  # global configuration: jobs of root (the test user) allowed, load reports every 5 s,
  # accounting records written within a second (the job watcher reads them with qacct)
  qconf -sconf global | sed '1{/^#/d}' > "$tmp/global"
  set_lines "$tmp/global" min_uid 0 min_gid 0 load_report_time 00:00:05 \
    reporting_params "accounting=true reporting=false flush_time=00:00:01 joblog=false sharelog=00:00:00"
  quiet qconf -Mconf "$tmp/global"
  # scheduler: every second, and no load adjustments that would hold back a second job
  qconf -ssconf > "$tmp/sched"
  set_lines "$tmp/sched" schedule_interval 0:0:1 job_load_adjustments NONE \
    flush_submit_sec 1 flush_finish_sec 1
  quiet qconf -Msconf "$tmp/sched"
  qconf -ss 2>/dev/null | grep -qx "$NODE" || quiet qconf -as "$NODE"
  if ! qconf -sel 2>/dev/null | grep -qx "$NODE"; then
    printf '%s\n' "hostname $NODE" "load_scaling NONE" "complex_values NONE" "user_lists NONE" \
      "xuser_lists NONE" "projects NONE" "xprojects NONE" "usage_scaling NONE" \
      "report_variables NONE" > "$tmp/exechost"
    quiet qconf -Ae "$tmp/exechost"
  fi
  # one queue on this host; no load threshold (a busy test machine must still run jobs)
  if qconf -sq "$QUEUE" > "$tmp/queue" 2>/dev/null; then
    set_lines "$tmp/queue" hostlist "$NODE" load_thresholds NONE pe_list NONE slots "$SLOTS" shell /bin/bash
    quiet qconf -Mq "$tmp/queue"
  else
    # `qconf -aq` shows the default queue template in $EDITOR; cat prints it without adding
    EDITOR=cat qconf -aq "$QUEUE" 2>/dev/null > "$tmp/queue" || true
    set_lines "$tmp/queue" hostlist "$NODE" load_thresholds NONE pe_list NONE slots "$SLOTS" shell /bin/bash
    quiet qconf -Aq "$tmp/queue"
  fi
  rm -rf "$tmp"
}

queue_ready() {   # the queue instance reports a load and has no alarm/unknown/disabled state
  local line
  line="$(qstat -f -q "$QUEUE@$NODE" 2>/dev/null | grep "^$QUEUE@")" || return 1
  awk '{ exit !($4 != "-NA-" && NF == 5) }' <<<"$line"
}

install_packages
install -d -o sgeadmin -g sgeadmin -m 755 /run/gridengine
aliases_changed=0
write_host_aliases && aliases_changed=1
[ "$(cat "$COMMON/act_qmaster" 2>/dev/null)" = "$NODE" ] || { echo "$NODE" > "$COMMON/act_qmaster"; aliases_changed=1; }
if [ "$aliases_changed" = 1 ]; then   # names are read at start: restart what runs
  for f in "$SPOOL"/execd/*/execd.pid; do running "$f" sge_execd && stop_pidfile sge_execd "$f"; done
  running "$QMASTER_PID" sge_qmaster && stop_pidfile sge_qmaster "$QMASTER_PID"
fi
if ! running "$QMASTER_PID" sge_qmaster; then
  log "starting sge_qmaster"
  /usr/sbin/sge_qmaster
fi
wait_until "sge_qmaster" qconf -sh
configure_cell
if ! execd_running; then
  log "starting sge_execd"
  /usr/sbin/sge_execd
fi
wait_until "queue $QUEUE@$NODE" queue_ready
if [ "${SGE_UP_SMOKE:-1}" = 1 ]; then
  timeout "$TIMEOUT" qsub -sync y -b y -o /dev/null -e /dev/null -q "$QUEUE" true >/dev/null \
    || die "smoke job (qsub -sync y true) failed"
fi
log "ready: host $NODE, queue $QUEUE, $SLOTS slots"
