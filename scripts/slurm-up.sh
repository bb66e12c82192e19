#!/usr/bin/env bash
# Bring up a real single-node SLURM for the test suite (Debian 12, root, no systemd).
#
# Idempotent: installs slurmctld/slurmd/slurm-client/munge if missing, writes
# /etc/slurm/slurm.conf, starts munged, slurmctld and slurmd by hand if they are not running,
# waits until the node accepts jobs and proves it with one `srun true`.
#
# Settings (environment):
#   SLURM_PARTITION   partition name (default: debug)
#   SLURM_NODE_CPUS   CPUs the node advertises (default: 8). More than the real cores is allowed
#                     (SlurmdParameters=config_overrides) so several one-core worker jobs of the
#                     adaptive-scaling tests can run side by side on a 2-core machine.
#   SLURM_DEF_MEM     DefMemPerCPU in MB (default 1024); without it a job that asks no memory
#                     takes the whole node and jobs run one at a time.
#   SLURM_UP_TIMEOUT  seconds to wait for the node (default 60)
#   SLURM_UP_SMOKE    1 (default) runs `srun true` at the end; 0 skips it
#
# Pid files: /run/munge/munged.pid, /run/slurm/slurmctld.pid, /run/slurm/slurmd.pid
# Logs:      /var/log/munge/munged.log, /var/log/slurm/slurm{ctld,d}.log
# Stop with scripts/slurm-down.sh.
set -euo pipefail

PARTITION="${SLURM_PARTITION:-debug}"
CPUS="${SLURM_NODE_CPUS:-8}"
DEF_MEM="${SLURM_DEF_MEM:-1024}"
TIMEOUT="${SLURM_UP_TIMEOUT:-60}"
PACKAGES=(slurmctld slurmd slurm-client munge)
CLUSTER_NAME=localcluster

log() { echo "slurm-up: $*" >&2; }
die() { log "$*"; exit 1; }
[ "$(id -u)" = 0 ] || die "must run as root (it installs packages and starts daemons)"

# shellcheck source=pidfile.sh
. "$(dirname "$0")/pidfile.sh"

install_packages() {
  local missing=0 tool
  for tool in slurmctld slurmd sbatch munged; do command -v "$tool" >/dev/null || missing=1; done
  [ "$missing" = 1 ] || return 0
  log "installing ${PACKAGES[*]}"
  export DEBIAN_FRONTEND=noninteractive
  # This image's policy-rc.d keeps the postinst scripts from starting the daemons.
  apt-get install -y --no-install-recommends "${PACKAGES[@]}" >/tmp/slurm-up-apt.log 2>&1 \
    || { apt-get update >>/tmp/slurm-up-apt.log 2>&1 \
         && apt-get install -y --no-install-recommends "${PACKAGES[@]}" >>/tmp/slurm-up-apt.log 2>&1; } \
    || die "apt-get install failed; see /tmp/slurm-up-apt.log"
}

start_munge() {
  if [ ! -s /etc/munge/munge.key ]; then
    log "creating the munge key"
    install -d -o munge -g munge -m 700 /etc/munge
    runuser -u munge -- mungekey --create --keyfile=/etc/munge/munge.key --force
    chmod 400 /etc/munge/munge.key
  fi
  install -d -o munge -g munge -m 755 /run/munge
  install -d -o munge -g munge -m 700 /var/log/munge /var/lib/munge
  if ! running /run/munge/munged.pid munged; then
    log "starting munged"
    rm -f /run/munge/munged.pid
    runuser -u munge -- /usr/sbin/munged --force   # --force: reuse a stale socket
  fi
  local i
  for i in $(seq 1 50); do munge -n >/dev/null 2>&1 && break; sleep 0.1; done
  munge -n | unmunge >/dev/null || die "munge does not work; see /var/log/munge/munged.log"
}

# write_conf NODE: writes slurm.conf; returns 0 when it changed
write_conf() {
  local node="$1" hw realmem new
  hw="$(slurmd -C | head -1)"   # NodeName=x CPUs=2 ... RealMemory=24105
  realmem="$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$hw")"
  realmem=$(( realmem * 95 / 100 ))   # headroom: a node below its RealMemory gets drained
  new="$(mktemp)"
  cat >"$new" <<CONF
# written by scripts/slurm-up.sh: single-node test cluster
ClusterName=$CLUSTER_NAME
SlurmctldHost=$node(127.0.0.1)
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
SlurmUser=slurm
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmdSpoolDir=/var/lib/slurm/slurmd
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$DEF_MEM
MinJobAge=300
SlurmdParameters=config_overrides
NodeName=$node NodeAddr=127.0.0.1 CPUs=$CPUS RealMemory=$realmem State=UNKNOWN
PartitionName=$PARTITION Nodes=ALL Default=YES MaxTime=INFINITE State=UP
CONF
  install -d -m 755 /etc/slurm
  if cmp -s "$new" /etc/slurm/slurm.conf; then rm -f "$new"; return 1; fi
  install -m 644 "$new" /etc/slurm/slurm.conf
  rm -f "$new"
  return 0
}

wait_for_node() {
  local node="$1" deadline state=""
  deadline=$(( $(date +%s) + TIMEOUT ))
  while :; do
    state="$(sinfo -h -n "$node" -o '%T' 2>/dev/null | head -1 || true)"
    case "$state" in
      idle|mixed|allocated|completing) return 0 ;;
      *drain*|down*) scontrol update NodeName="$node" State=RESUME >/dev/null 2>&1 || true ;;
    esac
    if [ "$(date +%s)" -ge "$deadline" ]; then
      log "node $node not ready after ${TIMEOUT}s (state '$state')"
      sinfo -R >&2 || true
      tail -20 /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log >&2 || true
      exit 1
    fi
    sleep 0.5
  done
}

install_packages
start_munge

NODE="$(hostname -s)"   # slurmd matches NodeName against `hostname -s`: it must resolve
getent hosts "$NODE" >/dev/null || echo "127.0.0.1 $NODE" >> /etc/hosts

install -d -o slurm -g slurm -m 755 /run/slurm /var/log/slurm /var/lib/slurm \
  /var/lib/slurm/slurmctld /var/lib/slurm/slurmd
# slurmctld refuses to start when its state was saved under another ClusterName; this is a
# throw-away test cluster, so forget the old name.
if [ -f /var/lib/slurm/slurmctld/clustername ] \
   && [ "$(cat /var/lib/slurm/slurmctld/clustername)" != "$CLUSTER_NAME" ]; then
  rm -f /var/lib/slurm/slurmctld/clustername
fi
if write_conf "$NODE"; then
  # a changed configuration takes effect only after a restart
  stop_pidfile slurmd /run/slurm/slurmd.pid
  stop_pidfile slurmctld /run/slurm/slurmctld.pid
fi
running /run/slurm/slurmctld.pid slurmctld || { log "starting slurmctld"; slurmctld; }
running /run/slurm/slurmd.pid slurmd || { log "starting slurmd"; slurmd; }

wait_for_node "$NODE"
# A fresh slurmctld schedules its first job only ~3 s after start: prove jobs start.
if [ "${SLURM_UP_SMOKE:-1}" = 1 ]; then
  timeout "$TIMEOUT" srun -N1 -n1 -t 1 -p "$PARTITION" true || die "smoke job (srun true) failed"
fi
log "ready: node $NODE, partition $PARTITION, $CPUS CPUs advertised"
