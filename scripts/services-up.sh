#!/usr/bin/env bash
# Start the test services (single-node SLURM, sshd on loopback) unless they already run.
# Prints on stdout the names of the services it started (for services-down.sh); logs to stderr.
set -euo pipefail
cd "$(dirname "$0")"
started=()
if ! (sinfo -h >/dev/null 2>&1 && [ -f /run/slurm/slurmctld.pid ]); then
  ./slurm-up.sh >&2
  started+=(slurm)
fi
if ! ssh -o BatchMode=yes -o ConnectTimeout=3 localhost true >/dev/null 2>&1; then
  ./sshd-up.sh >&2
  started+=(sshd)
fi
echo "${started[@]:-}"
