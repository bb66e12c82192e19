"""Fixtures and service checks shared by every package's tests.

Tests marked ``slurm``, ``sge`` or ``ssh`` need a real service. Where it is absent they are skipped
with the reason; with ``SEAMLESS_REQUIRE_SERVICES=1`` (set by ``.ci/run``) the skip becomes a
failure, so CI cannot pass without running them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import lru_cache
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parent


def _missing_tool(tools: tuple[str, ...], system: str, script: str) -> str | None:
    for tool in tools:
        if shutil.which(tool) is None:
            return f"{system} is not installed ({tool} not on PATH); start it with scripts/{script}"
    return None


@lru_cache(maxsize=None)
def _slurm_problem() -> str | None:
    missing = _missing_tool(("sbatch", "squeue", "scancel", "sinfo"), "SLURM", "slurm-up.sh")
    if missing:
        return missing
    try:
        out = subprocess.run(
            ["sinfo", "-h", "-o", "%T"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"sinfo failed: {exc}"
    states = out.stdout.split()
    if out.returncode != 0 or not any(
        s.rstrip("*") in ("idle", "mixed", "allocated", "completing") for s in states
    ):
        return f"SLURM has no usable node (sinfo: {out.stdout.strip() or out.stderr.strip()})"
    return None


@lru_cache(maxsize=None)
def _sge_problem() -> str | None:
    missing = _missing_tool(("qsub", "qstat", "qdel", "qacct"), "Grid Engine", "sge-up.sh")
    if missing:
        return missing
    try:
        out = subprocess.run(["qstat", "-f"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"qstat failed: {exc}"
    # a usable queue instance: "all.q@host  BI  0/0/8  0.50  lx-amd64" (a 6th column is a state
    # such as u = unknown, a = alarm, d = disabled)
    usable = [line for line in out.stdout.splitlines()
              if "@" in line.split(" ", 1)[0] and len(line.split()) == 5]
    if out.returncode != 0 or not usable:
        return f"Grid Engine has no usable queue (qstat -f: {out.stdout.strip() or out.stderr.strip()})"
    return None


@lru_cache(maxsize=None)
def _ssh_problem() -> str | None:
    if shutil.which("ssh") is None:
        return "ssh is not installed; start sshd with scripts/sshd-up.sh"
    try:
        out = subprocess.run(
            ["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "localhost", "true"],
            capture_output=True, text=True, timeout=20,
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"ssh localhost failed: {exc}"
    if out.returncode != 0:
        return f"ssh localhost does not work (start scripts/sshd-up.sh): {out.stderr.strip()}"
    return None


_CHECKS = {"slurm": _slurm_problem, "sge": _sge_problem, "ssh": _ssh_problem}


def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, check in _CHECKS.items():
        if item.get_closest_marker(marker) is None:
            continue
        problem = check()
        if problem is None:
            continue
        if os.environ.get("SEAMLESS_REQUIRE_SERVICES") == "1":
            pytest.fail(f"{marker} required (SEAMLESS_REQUIRE_SERVICES=1): {problem}")
        pytest.skip(f"{marker} not available: {problem}")


@pytest.fixture
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A fresh HOME, so no test touches the user's ~/.seamless or ~/.remote-http-launcher."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    yield home
    # the SSH masters opened for this home (seamless_config.ssh_multiplex) end with the test
    from seamless_config.ssh_multiplex import close_masters

    close_masters()
