"""Run every benchmark script of bench/ (``make bench``), each in its own interpreter.

Scripts that can record their own section of ``bench/BENCHMARKS.md`` (a ``--write`` option)
are asked to; the others print their tables. ``bench_slurm.py`` measures only where SLURM is up
(``make services-up``) and otherwise says it skipped. ``benchlib.py`` holds their shared helpers
and is not run. Exit code 1 when any script failed or reported a missed target.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parent


def main() -> int:
    failed = []
    for script in sorted(BENCH.glob("bench_*.py")):
        helptext = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True).stdout
        args = ["--write"] if "--write" in helptext else []
        print(f"== {script.name} {' '.join(args)}", flush=True)
        if subprocess.run([sys.executable, str(script), *args]).returncode != 0:
            failed.append(script.name)
    if failed:
        print(f"missed targets or failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
