#!/usr/bin/env bash
# Run every package's tests in the project's virtualenv ($VENV, default .venv).
# As root, the real services the tests need (single-node SLURM and Grid Engine, sshd on loopback) are started
# first and the ones this script started are stopped afterwards.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
VENV="$(cd "$VENV" && pwd)"
export VENV
started=""
if [ "$(id -u)" = 0 ]; then
  started="$(scripts/services-up.sh)" || { echo "run-tests: starting services failed" >&2; exit 1; }
else
  echo "run-tests: not root; SLURM/SGE/ssh tests run only if those services already work" >&2
fi
"$VENV/bin/python" -m pytest "$@"
rc=$?
[ -n "$started" ] && scripts/services-down.sh $started >&2
[ "$rc" = 5 ] && { echo "run-tests: pytest collected no test" >&2; exit 1; }
exit $rc
