#!/usr/bin/env bash
# Run the static checks (scripts/lint.sh; SKIP_LINT=1 skips them) and every package's tests in
# the project's virtualenv ($VENV, default .venv). Fails if either fails.
# As root, the real services the tests need (single-node SLURM and Grid Engine, sshd on loopback) are started
# first and the ones this script started are stopped afterwards.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
VENV="$(cd "$VENV" && pwd)"
export VENV
lint_rc=0
if [ "${SKIP_LINT:-0}" != 1 ]; then
  scripts/lint.sh || lint_rc=$?
fi
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
[ "$lint_rc" != 0 ] && [ "$rc" = 0 ] && { echo "run-tests: the tests passed but lint failed (scripts/lint.sh)" >&2; exit 1; }
exit $rc
