#!/usr/bin/env bash
# Stop test services by name (default: all): services-down.sh [slurm] [sshd]
set -u
cd "$(dirname "$0")"
names=("$@"); [ ${#names[@]} -eq 0 ] && names=(slurm sshd)
for n in "${names[@]}"; do
  case "$n" in
    slurm) ./slurm-down.sh ;;
    sshd) ./sshd-down.sh ;;
  esac
done
