"""Per-transformation overhead and cache-hit latency of seamless_transformer.

Run: ``.venv/bin/python bench/bench_transformer.py [--runs 7] [--n 200] [--json FILE]``.
Each case is timed over ``--runs`` runs of ``--n`` transformations; per-transformation times are
reported as the minimum and median over the runs (targets: in-memory cache hit <= 1 ms, new
trivial transformation in process mode <= 10 ms). Prints a Markdown table for BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import datetime
import json
import statistics
import sys
import tempfile
import time
from typing import Callable

import seamless_transformer as st
from seamless_transformer import delayed

from benchlib import machine

TARGETS_MS = {"memory cache hit": 1.0, "new transformation, process": 10.0}


@delayed
def add(a, b):
    return a + b


def plain_add(a, b):
    return a + b


def _per_op_ms(run: Callable[[int], None], n: int, runs: int) -> list[float]:
    times = []
    for r in range(runs):
        start = time.perf_counter()
        run(r)
        times.append((time.perf_counter() - start) / n * 1000)
    return times


def bench(n: int, runs: int) -> dict[str, list[float]]:
    results: dict[str, list[float]] = {}
    offset = iter(range(10**9, 2 * 10**9, n))

    def fresh(_r: int) -> None:  # distinct inputs every time: never a cache hit
        base = next(offset)
        for i in range(n):
            add(base + i, 1).run()

    results["plain Python call (reference)"] = _per_op_ms(
        lambda _r: [plain_add(i, 1) for i in range(n)], n, runs
    )
    st.set_execution("process")
    st.set_cache_dir(None)
    add(0, 1).run()  # warm-up: compiles the code once
    results["new transformation, process"] = _per_op_ms(fresh, n, runs)
    results["memory cache hit"] = _per_op_ms(
        lambda _r: [add(0, 1).run() for _ in range(n)], n, runs
    )
    with tempfile.TemporaryDirectory() as tmp:
        st.set_cache_dir(tmp)
        results["new transformation, process + disk cache"] = _per_op_ms(fresh, n, runs)
        seeded = [add(5 * 10**9 + i, 1) for i in range(n)]
        for tf in seeded:
            tf.run()

        def disk_hits(_r: int) -> None:
            st.clear_memory_cache()
            for i in range(n):
                add(5 * 10**9 + i, 1).run()

        results["disk cache hit (memory cleared)"] = _per_op_ms(disk_hits, n, runs)
        st.set_cache_dir(None)
    st.set_execution("spawn")
    st.spawn(2)
    add(-1, 1).run()  # waits for a worker to be up
    spawn_n = max(n // 4, 10)
    spawn_offset = iter(range(3 * 10**9, 4 * 10**9, spawn_n))

    def spawn_fresh(_r: int) -> None:
        base = next(spawn_offset)
        for i in range(spawn_n):
            add(base + i, 1).run()

    results["new transformation, spawn (sequential)"] = _per_op_ms(spawn_fresh, spawn_n, runs)
    st.shutdown_workers()
    st.set_execution(None)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7, help="number of timed runs per case")
    parser.add_argument("--n", type=int, default=200, help="transformations per run")
    parser.add_argument("--json", help="also write the raw per-run times to this file")
    args = parser.parse_args(argv)
    results = bench(args.n, args.runs)
    today = datetime.date.today().isoformat()
    print(f"Machine: {machine()}; date: {today}; {args.runs} runs x {args.n} transformations\n")
    print("| case | min (µs) | median (µs) | target |")
    print("| --- | ---: | ---: | --- |")
    failed = False
    for case, times in results.items():
        target = TARGETS_MS.get(case)
        mark = ""
        if target is not None:
            ok = statistics.median(times) <= target
            failed |= not ok
            mark = f"<= {target:g} ms {'met' if ok else 'MISSED'}"
        print(f"| {case} | {min(times) * 1000:.2f} | {statistics.median(times) * 1000:.2f} | {mark} |")
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"machine": machine(), "date": today, "times_ms": results}, handle, indent=1)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
