"""Helpers shared by the benchmark scripts of bench/: a sandbox with an isolated HOME whose
scripts run in fresh interpreters, the machine description, min/median formatting, and the
recording of a script's own section of ``bench/BENCHMARKS.md``.

The scripts run as ``python bench/bench_*.py``, so ``bench/`` is on ``sys.path`` and they import
this module as ``benchlib``.
"""

from __future__ import annotations

import argparse
import compileall
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "BENCHMARKS.md"


class Sandbox:
    """A temporary directory with an isolated ``home/``; scripts run with that HOME in a fresh
    interpreter (this one's ``sys.executable``), from the sandbox directory."""

    def __init__(self, prefix: str):
        self.tmp = Path(tempfile.mkdtemp(prefix=prefix))
        self.home = self.tmp / "home"
        self.home.mkdir()
        # Byte-code as a user has it: pip compiles an installed package's modules, and an editable
        # install's are compiled on first import, unless PYTHONDONTWRITEBYTECODE (set in some
        # shells and CI images) forbids it; then every interpreter would compile them anew.
        self.env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        self.env["HOME"] = str(self.home)
        compile_packages()

    def write(self, name: str, code: str) -> Path:
        path = self.tmp / name
        path.write_text(code)
        return path

    def python(self, *args: str, timeout: float = 300, cwd: Path | None = None, env: dict | None = None) -> str:
        """Run ``python *args``; return the last line of its stdout; raise with its stderr if it fails."""
        out = subprocess.run([sys.executable, *args], env=env or self.env, cwd=cwd or self.tmp,
                             capture_output=True, text=True, timeout=timeout)
        if out.returncode != 0:
            raise RuntimeError(f"{args} failed:\n{out.stderr}")
        return out.stdout.strip().splitlines()[-1]

    def process_time(self, *args: str) -> float:
        """Wall time of a whole ``python *args`` process."""
        t = time.perf_counter()
        subprocess.run([sys.executable, *args], env=self.env, check=True, capture_output=True)
        return time.perf_counter() - t

    def stop_pure_scheduler(self, project: Path, env: dict | None = None) -> None:
        """Stop, by PID, the pure-Dask scheduler that ``project``'s command files select (this HOME,
        or that of ``env``)."""
        subprocess.run([sys.executable, "-c", (
            "import seamless_config.tools as t, seamless_config.launching as l, seamless_config.command_files as c;"
            f"c.load_config_files({str(project)!r}); l.stop(t.configure_pure_daskserver())")],
            env=env or self.env, capture_output=True, timeout=120, check=True)

    def remove(self) -> None:
        shutil.rmtree(self.tmp, ignore_errors=True)


def compile_packages() -> None:
    """Write the byte-code of the project's packages (what ``pip install`` does for an installed
    package), so that no measured interpreter spends its time compiling them."""
    for package in sorted(ROOT.glob("seamless-*/")):
        compileall.compile_dir(str(package), quiet=1, legacy=False)


def machine(*packages: str) -> str:
    """CPU, cores, memory, OS, Python and the versions of ``packages``."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        mem = int(Path("/proc/meminfo").read_text().split()[1]) / 2**20
    except OSError:
        mem = float("nan")
    text = f"{cpu}, {os.cpu_count()} cores, {mem:.0f} GiB, {platform.platform(terse=True)}, Python {platform.python_version()}"
    if packages:
        text += ", " + ", ".join(f"{name} {metadata.version(name)}" for name in packages)
    return text


def min_median(values: list[float], scale: float = 1000.0, digits: int = 0) -> str:
    """``"min | median"`` of ``values`` times ``scale`` (default: seconds shown as ms)."""
    return f"{min(values) * scale:.{digits}f} | {statistics.median(values) * scale:.{digits}f}"


def markers(name: str) -> tuple[str, str]:
    """The HTML comments that delimit the section of script ``name`` in BENCHMARKS.md."""
    return f"<!-- {name}: begin -->", f"<!-- {name}: end -->"


def write_section(name: str, section: str) -> None:
    """Replace the section of ``name`` in BENCHMARKS.md (``section`` includes its markers), or
    append it when the file has none yet."""
    begin, end = markers(name)
    text = RESULTS.read_text() if RESULTS.exists() else "# Benchmarks\n"
    if begin in text and end in text:
        head, rest = text.split(begin, 1)
        text = head + section + rest.split(end, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    RESULTS.write_text(text)


def publish(name: str, section: str, write: bool) -> None:
    """Print the section of script ``name``; with ``write``, also record it in BENCHMARKS.md."""
    print(section)
    if write:
        write_section(name, section)


def arguments(doc: str | None, what: str, *, runs: int = 5,
              runs_help: str = "repetitions of each measurement") -> argparse.ArgumentParser:
    """The parser every script starts from: ``--runs`` and ``--write`` (its section, ``what``, of
    BENCHMARKS.md); a script adds its own options."""
    parser = argparse.ArgumentParser(description=(doc or "").splitlines()[0] if doc else None)
    parser.add_argument("--runs", type=int, default=runs, help=f"{runs_help} (default {runs})")
    parser.add_argument("--write", action="store_true", help=f"replace {what} of bench/BENCHMARKS.md")
    return parser


def slurm_problem(partition: str = "debug") -> str | None:
    """None when SLURM's ``partition`` has a node that takes jobs, else why not."""
    if shutil.which("sinfo") is None:
        return "no SLURM client (sinfo) on PATH"
    out = subprocess.run(["sinfo", "-h", "-p", partition, "-o", "%T"], capture_output=True, text=True)
    states = out.stdout.split()
    if out.returncode != 0 or not any(s.rstrip("*") in ("idle", "mixed") for s in states):
        return f"sinfo shows no usable node in partition '{partition}' ({(out.stderr or ' '.join(states) or 'none').strip()})"
    return None
