"""Count the primes below 2,000,000 with Seamless transformations, in persistent mode.

Run it twice with ``make demo-persistent`` (or ``.venv/bin/python examples/persistent/primes.py``,
from anywhere). The first run starts a hashserver and a database in the background and computes
(a few seconds); the second run gets every result from them without computing anything, in a
fraction of a second, and says so. Messages go to stderr; the result line goes to stdout.
"""

import os
import sys
import time

START = time.perf_counter()

import seamless_config  # noqa: E402  (the clock above includes the imports)

LIMIT = 2_000_000
PARTS = 4


def count_primes(start, stop):
    """The number of primes in [start, stop), by trial division (deliberately plain Python)."""
    count = 0
    for n in range(max(start, 2), stop):
        if n % 2 == 0:
            count += n == 2
            continue
        divisor = 3
        while divisor * divisor <= n and n % divisor:
            divisor += 2
        count += divisor * divisor > n
    return count


def main() -> int:
    seamless_config.init(workdir=os.path.dirname(os.path.abspath(__file__)))
    from seamless_remote.activation import get_active
    from seamless_transformer import delayed

    transformer = delayed(count_primes)
    step = LIMIT // PARTS
    parts = [transformer(i * step, (i + 1) * step) for i in range(PARTS)]
    database = get_active().database
    stored = sum(database.get_result(part.checksum) is not None for part in parts)
    total = sum(part.run() for part in parts)
    elapsed = time.perf_counter() - START
    if stored == PARTS:
        how = f"all {PARTS} results from the database and hashserver, nothing computed"
    else:
        how = f"computed {PARTS - stored} of {PARTS} parts, results now stored for the next run"
    print(f"{total:,} primes below {LIMIT:,}: {how}, in {elapsed:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
