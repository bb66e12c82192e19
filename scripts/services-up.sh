#!/usr/bin/env bash
# Start (or check) the test services: single-node SLURM, single-node Grid Engine and sshd on
# loopback. The up-scripts are idempotent and always run, so their checks always apply (e.g. that ssh
# sessions find the tools of this $VENV). Prints on stdout the names of the services that were
# not running before (for services-down.sh); logs to stderr. If one fails, the services it had
# started are stopped again.
set -euo pipefail
cd "$(dirname "$0")"
alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }
started=()
trap '[ ${#started[@]} -gt 0 ] && ./services-down.sh "${started[@]}" >&2' ERR
alive /run/slurm/slurmctld.pid || started+=(slurm)
./slurm-up.sh >&2
alive /var/spool/gridengine/qmaster/qmaster.pid || started+=(sge)
./sge-up.sh >&2
alive /run/sshd-loopback.pid || started+=(sshd)
./sshd-up.sh >&2
trap - ERR
echo "${started[@]:-}"
