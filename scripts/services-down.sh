#!/usr/bin/env bash
# Stop test services by name (default: all): services-down.sh [slurm] [sge] [sshd]
set -u
cd "$(dirname "$0")"
names=("$@"); [ ${#names[@]} -eq 0 ] && names=(slurm sge sshd)
for n in "${names[@]}"; do
  case "$n" in
    slurm) ./slurm-down.sh ;;
    sge) ./sge-down.sh ;;
    sshd) ./sshd-down.sh ;;
  esac
done
