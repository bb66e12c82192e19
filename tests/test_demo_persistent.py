"""The persistent demo (``make demo-persistent``): examples/persistent/primes.py run twice as a user
runs it (``.venv/bin/python examples/persistent/primes.py``, venv not activated, from another
directory, a fresh HOME). The first run starts a real hashserver and database and computes; the
second gets every result from them and says so. The servers are stopped by PID at the end."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

import persistent_services as ps

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "examples" / "persistent" / "primes.py"
LINE = r"148,933 primes below 2,000,000: {how}, in [\d.]+ s\n"


def run_demo(home: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(DEMO)], cwd="/", env=ps.user_env(home),
                          capture_output=True, text=True, timeout=300)


@pytest.mark.servers
def test_second_run_gets_every_result_from_the_database(isolated_home: Path):
    try:
        first = run_demo(isolated_home)
        assert first.returncode == 0, first.stderr
        assert re.fullmatch(LINE.format(how="computed 4 of 4 parts, results now stored for the next run"), first.stdout), first.stdout
        assert "Starting the hashserver 'hashserver-local-rw-demo-persistent'" in first.stderr
        servers = ps.launched_servers(isolated_home)
        assert sorted(servers) == ["database-local-rw-demo-persistent", "hashserver-local-rw-demo-persistent"]
        assert (isolated_home / ".seamless" / "database" / "demo-persistent" / "seamless.db").is_file()

        second = run_demo(isolated_home)
        assert second.returncode == 0, second.stderr
        how = "all 4 results from the database and hashserver, nothing computed"
        assert re.fullmatch(LINE.format(how=how), second.stdout), second.stdout
        assert "Starting" not in second.stderr and ps.launched_servers(isolated_home) == servers
    finally:
        ps.stop_servers(isolated_home)
