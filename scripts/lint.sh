#!/usr/bin/env bash
# Static checks of every package, from the project's virtualenv ($VENV, default .venv):
# ruff (rule set in pyproject.toml) and mypy (configuration in pyproject.toml). Exit 0 when both pass.
set -uo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
rc=0
"$VENV/bin/ruff" check . || rc=1
"$VENV/bin/mypy" || rc=1
[ "$rc" = 0 ] && echo "lint: ruff and mypy found nothing" >&2
exit $rc
