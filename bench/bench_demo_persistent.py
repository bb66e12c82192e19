"""The persistent demo (``make demo-persistent``): its first run against its second (not a test).

Each run pair starts from a fresh isolated HOME: the first ``python examples/persistent/primes.py``
starts the hashserver and database of the embedded ``local`` cluster and computes; the second
gets every result from them. Both are whole processes, timed from outside (what a user waits
for) and by the script itself (its printed time, imports included). The reference is the same
work as plain Python in a fresh process (``count_primes`` over the same parts, no Seamless).
The services are stopped (``seamless-services stop --all``) after each pair.

Prints a Markdown section; ``--write`` replaces its section of ``bench/BENCHMARKS.md``.
Target: the second run at least 10x faster than the first (median whole-process times); exit
code 1 if missed.
"""

from __future__ import annotations

import argparse
import datetime
import os
import re
import statistics
import sys
import time
from pathlib import Path

from benchlib import ROOT, Sandbox, machine, markers, min_median, publish

NAME = "bench_demo_persistent"
BEGIN, END = markers(NAME)
DEMO = ROOT / "examples" / "persistent" / "primes.py"
TARGET = 10.0
PLAIN = (
    "import runpy, sys; demo = runpy.run_path(sys.argv[1]); step = demo['LIMIT'] // demo['PARTS'];"
    "print(sum(demo['count_primes'](i * step, (i + 1) * step) for i in range(demo['PARTS'])))"
)
REPORTED = re.compile(r" in ([\d.]+) s$")


def one_pair() -> tuple[float, float, float, float, str, str]:
    """(first, second) whole-process seconds, (first, second) as the script reports them, lines."""
    box = Sandbox("bench-demo-persistent-")
    try:
        lines, times = [], []
        for _ in range(2):
            start = time.perf_counter()
            lines.append(box.python(str(DEMO), cwd=Path("/")))
            times.append(time.perf_counter() - start)
        reported = [float(REPORTED.search(line).group(1)) for line in lines]
        return times[0], times[1], reported[0], reported[1], lines[0], lines[1]
    finally:
        if (box.home / ".seamless" / "launches").is_dir():
            box.python("-m", "seamless_config.services_cli", "stop", "--all")
        box.remove()


def plain_run() -> float:
    box = Sandbox("bench-demo-plain-")
    try:
        return box.process_time("-c", PLAIN, str(DEMO))
    finally:
        box.remove()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="run pairs, each from a fresh HOME (default 3)")
    parser.add_argument("--write", action="store_true", help="record the section in bench/BENCHMARKS.md")
    args = parser.parse_args()
    load_before = os.getloadavg()[0]
    pairs = [one_pair() for _ in range(args.runs)]
    plain = [plain_run() for _ in range(args.runs)]
    load_after = os.getloadavg()[0]
    first, second = [p[0] for p in pairs], [p[1] for p in pairs]
    said_first, said_second = [p[2] for p in pairs], [p[3] for p in pairs]
    ratio = statistics.median(first) / statistics.median(second)
    verdict = "met" if ratio >= TARGET else "MISSED"
    section = "\n".join([
        BEGIN,
        "## Persistent demo (`make demo-persistent`)",
        "",
        "`bench/bench_demo_persistent.py`: `examples/persistent/primes.py` run twice from a fresh isolated",
        "HOME, as `make demo-persistent` does: the first run starts the hashserver and database of the",
        "embedded `local` cluster and computes 4 transformations; the second gets their results from",
        "them. *Process*: the whole `python primes.py` process timed from outside; *script*: the time",
        "the script prints (from its first line, imports included). Reference: the same work as plain",
        "Python in a fresh process. "
        f"{args.runs} run pairs; min and median (s).",
        f"Reproduce: `.venv/bin/python bench/bench_demo_persistent.py --runs {args.runs} --write` (part of `make bench`).",
        "",
        f"Machine: {machine('hashserver', 'seamless-database')}. Date: {datetime.date.today().isoformat()}. "
        f"Load average (1 min) before / after: {load_before:.1f} / {load_after:.1f} (other work shares the machine).",
        "",
        "| run | process min (s) | process median (s) | script min (s) | script median (s) |",
        "| --- | ---: | ---: | ---: | ---: |",
        f"| plain Python, same work (reference) | {min_median(plain, 1, 2)} | | |",
        f"| first run: services started, 4 parts computed | {min_median(first, 1, 2)} | {min_median(said_first, 1, 2)} |",
        f"| second run: all from the database and hashserver | {min_median(second, 1, 2)} | {min_median(said_second, 1, 2)} |",
        "",
        f"Second run **{ratio:.1f}x** faster than the first (median process times); target >= {TARGET:g}x: {verdict}.",
        "",
        f"Output of the last pair: `{pairs[-1][4]}` then `{pairs[-1][5]}`.",
        END,
    ])
    publish(NAME, section, args.write)
    return 0 if ratio >= TARGET else 1


if __name__ == "__main__":
    sys.exit(main())
