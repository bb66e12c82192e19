"""The README's main job: examples/pure-dask/pi.py on the embedded local cluster, as a user runs it
(`.venv/bin/python examples/pure-dask/pi.py`, venv not activated, from another directory)."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import persistent_services as ps

ROOT = Path(__file__).resolve().parent.parent
PI = ROOT / "examples" / "pure-dask" / "pi.py"


def run_demo(home: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(PI)], cwd="/", env=ps.user_env(home),
        capture_output=True, text=True, timeout=300,
    )


def test_demo_prints_pi_and_dashboard_link_then_reuses_the_scheduler(isolated_home: Path):
    try:
        first = run_demo(isolated_home)
        assert first.returncode == 0, first.stderr
        match = re.fullmatch(r"pi ~= (\d\.\d+) from 20,000,000 random points on (\d+) Dask worker\(s\) in [\d.]+ s\n", first.stdout)
        assert match, f"stdout must be the one result line, got: {first.stdout!r}"
        assert abs(float(match.group(1)) - math.pi) < 0.01 and int(match.group(2)) >= 1
        assert first.stderr.count("Dask dashboard: https://127.0.0.1:") == 1
        assert "stays up until it has been idle for 600 s" in first.stderr and "seamless-services stop pure-daskserver-local-default" in first.stderr
        servers = ps.launched_servers(isolated_home)
        assert list(servers) == ["pure-daskserver-local-default"]  # only the Dask scheduler

        second = run_demo(isolated_home)
        assert second.returncode == 0 and second.stdout.startswith("pi ~= ")
        assert "Starting the Dask scheduler" not in second.stderr  # attached to the running one
        assert ps.launched_servers(isolated_home) == servers
    finally:
        ps.stop_servers(isolated_home)
