"""Estimate pi by Monte Carlo with dask.array, on the cluster that seamless.profile.yaml selects.

Run it with ``make demo`` or ``.venv/bin/python examples/pure-dask/pi.py`` (from anywhere: the
profile next to this file is found). The first run starts a Dask scheduler in the background
(a few seconds); later runs attach to it at once. Messages (dashboard link, how long the
scheduler stays up, how to stop it) go to stderr; the result goes to stdout.
"""

import os
import sys
import time

import seamless_config

SAMPLES = 20_000_000
CHUNK = 1_000_000


def estimate_pi(samples: int, chunk: int) -> float:
    import dask.array as da

    rng = da.random.default_rng(42)
    x = rng.random(samples, chunks=chunk)
    y = rng.random(samples, chunks=chunk)
    inside = ((x * x + y * y) <= 1.0).sum()
    return 4.0 * float(inside.compute()) / samples  # runs on the Dask cluster (the default client)


def main() -> int:
    start = time.perf_counter()
    client = seamless_config.init(workdir=os.path.dirname(os.path.abspath(__file__)))
    pi = estimate_pi(SAMPLES, CHUNK)
    workers = len(client.scheduler_info(n_workers=-1)["workers"])  # counted once they did the work
    print(f"pi ~= {pi:.5f} from {SAMPLES:,} random points on {workers} Dask worker(s) "
          f"in {time.perf_counter() - start:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
