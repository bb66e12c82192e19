"""Pure Dask mode on the real SLURM (not a test): time from ``set_stage()`` to the first worker.

Needs a usable SLURM node in partition ``debug`` (``scripts/slurm-up.sh`` as root starts a
single-node one); without it the script says so and exits 0 without measuring. The user's path:
an isolated HOME whose ``clusters.yaml`` defines a ``type: slurm`` cluster whose daskserver runs
on this machine (``local_cluster``: no SSH), with queue ``debug`` (partition ``debug``,
``maximum_jobs: 1``, ``cores: 1``, ``memory: 1GB``, ``walltime: "00:10:00"``) and the same queue
with ``interactive: true``; each run is a fresh ``python script.py`` from a cold start (no
scheduler running), stopped by PID afterwards. Compared in the same run: a plain
``sbatch --wrap`` job, from submission to its start (the job writes a timestamp) and to its
leaving the queue (``squeue`` polled every 20 ms).

* ``debug`` (adaptive scaling from 0 jobs, as the brief's queue): ``set_stage()``, then one task
  (adaptive scaling asks for a job only when there is work), ``client.wait_for_workers(1)``;
* ``debug-interactive`` (one job kept running, submitted at start): ``set_stage()``, then
  ``client.wait_for_workers(1)``.

Prints a Markdown section; ``--write`` replaces its section of ``bench/BENCHMARKS.md``. Every
SLURM job a run started is cancelled, every wrapper stopped. Exit code 0 unless a run fails.
"""

from __future__ import annotations

import datetime
import json
import statistics
import subprocess
import sys
import time

from benchlib import Sandbox, machine, markers, min_median, publish, arguments, slurm_problem

NAME = "bench_slurm"
BEGIN, END = markers(NAME)
PARTITION = "debug"
CLUSTERS = f"""\
local_cluster: benchslurm
benchslurm:
  type: slurm
  frontends:
    - hostname: localhost
      daskserver:
        timeout: 120
  default_queue: debug
  queues:
    debug:
      partition: {PARTITION}
      maximum_jobs: 1
      cores: 1
      memory: 1GB
      walltime: "00:10:00"
    debug-interactive:
      TEMPLATE: debug
      interactive: true
"""
QUEUES = ("debug", "debug-interactive")

SCRIPT = """
import json, os, sys, time
import seamless_config

def job_start():
    # when SLURM launched the job: the start of the batch step's slurmstepd above this worker, in
    # seconds since boot (/proc/PID/stat; psutil's create_time adds the boot time, known to 1 s only)
    import psutil
    stepd = next(p for p in psutil.Process().parents() if p.name().startswith("slurmstepd"))
    with open(f"/proc/{stepd.pid}/stat") as f:
        return int(f.read().rsplit(")", 1)[1].split()[19]) / os.sysconf("SC_CLK_TCK")

boot0, t0 = time.clock_gettime(time.CLOCK_BOOTTIME), time.perf_counter()
client = seamless_config.set_stage()
t_stage = time.perf_counter() - t0
if sys.argv[1] == "debug":
    first = client.submit(abs, -1, pure=False)  # work: adaptive scaling asks SLURM for a job
client.wait_for_workers(1)
t_worker = time.perf_counter() - t0
assert client.submit(abs, -1, pure=False).result() == 1
t_result = time.perf_counter() - t0
jobs = sorted({str(j) for j in client.run(os.getenv, "SLURM_JOB_ID").values()})
t_job = min(client.run(job_start).values()) - boot0
print(json.dumps({"stage": t_stage, "job": t_job, "worker": t_worker, "result": t_result, "jobs": jobs}))
"""


def queued(job_ids: list[str]) -> list[str]:
    """The jobs among ``job_ids`` that are still in the SLURM queue."""
    if not job_ids:
        return []
    out = subprocess.run(["squeue", "-h", "-o", "%i", "-j", ",".join(job_ids)], capture_output=True, text=True)
    return [j for j in out.stdout.split() if j in job_ids]


def cancel(job_ids: list[str], seconds: float = 30) -> list[str]:
    """Wait for ``job_ids`` to leave the queue; scancel those that do not; return them."""
    deadline = time.monotonic() + seconds
    while (left := queued(job_ids)) and time.monotonic() < deadline:
        time.sleep(0.2)
    if left:
        subprocess.run(["scancel", *left], check=False)
    return left


class Bench(Sandbox):
    def __init__(self, runs: int):
        super().__init__("bench-slurm-")
        self.runs = runs
        (self.home / ".seamless").mkdir()
        (self.home / ".seamless" / "clusters.yaml").write_text(CLUSTERS)
        for queue in QUEUES:  # set_stage() reads the script's directory
            (self.tmp / queue).mkdir()
            (self.tmp / queue / "seamless.profile.yaml").write_text(
                f"- cluster: benchslurm\n- queue: {queue}\n- persistent: false\n")
            self.write(f"{queue}/script.py", SCRIPT)
        self.jobs: list[str] = []  # every SLURM job of this benchmark
        self.leftovers: list[str] = []  # jobs that had to be cancelled

    def sbatch(self) -> tuple[float, float, float]:
        """A plain job: seconds from submission to sbatch's return, to the job's start, to its end."""
        stamp = self.tmp / f"sbatch-{len(self.jobs)}.time"
        t0 = time.time()
        job = subprocess.run(
            ["sbatch", "--parsable", "-p", PARTITION, "-c", "1", "--mem", "1G", "-t", "00:10:00",
             "-o", "/dev/null", "--wrap", f"date +%s.%N > {stamp}"],
            capture_output=True, text=True, check=True,
        ).stdout.strip().split(";")[0]
        t_submitted = time.time() - t0
        self.jobs.append(job)
        while queued([job]) and time.time() - t0 < 120:
            time.sleep(0.02)
        t_gone = time.time() - t0
        self.leftovers += cancel([job], 0)
        for _ in range(100):  # the file may appear on the shared file system a moment later
            if stamp.exists() and stamp.read_text().strip():
                break
            time.sleep(0.05)
        return t_submitted, float(stamp.read_text()) - t0, t_gone

    def first_worker(self, queue: str) -> dict:
        try:
            result = json.loads(self.python(str(self.tmp / queue / "script.py"), queue, cwd=self.tmp / queue))
        finally:
            self.stop_pure_scheduler(self.tmp / queue)  # the wrapper cancels its jobs
        self.jobs += result["jobs"]
        self.leftovers += cancel(result["jobs"])
        return result

    def run(self) -> dict:
        r: dict = {key: [] for key in ("sbatch_submit", "sbatch_start", "sbatch_gone")}
        try:
            for _ in range(self.runs):
                for key, value in zip(("sbatch_submit", "sbatch_start", "sbatch_gone"), self.sbatch(), strict=True):
                    r[key].append(value)
                for queue in QUEUES:
                    for key, value in self.first_worker(queue).items():
                        if key != "jobs":
                            r.setdefault(f"{queue}_{key}", []).append(value)
        finally:
            for queue in QUEUES:
                self.stop_pure_scheduler(self.tmp / queue)
            self.leftovers += cancel(self.jobs, 0)
            self.remove()
        r["leftovers"] = sorted(set(self.leftovers))
        return r


def report(r: dict, runs: int) -> str:
    med = statistics.median
    sbatch = med(r["sbatch_start"])

    def row(label: str, key: str, versus: str = "") -> str:
        return f"| {label} | {min_median(r[key])} | {versus} |"

    lines = [
        BEGIN,
        "## Pure Dask mode on SLURM",
        "",
        "`bench/bench_slurm.py` (seamless-config + seamless-dask): the real single-node SLURM of",
        "`scripts/slurm-up.sh` (slurmctld + slurmd on this machine, `sched/backfill`), a `type: slurm`",
        "cluster whose daskserver runs here (`local_cluster`, no SSH), queue `debug` on partition",
        "`debug` with `maximum_jobs: 1`, `cores: 1`, `memory: 1GB`, `walltime: \"00:10:00\"` (adaptive",
        "scaling from 0 jobs), and the same queue with `interactive: true` (one job kept, submitted",
        "when the scheduler starts). Each run: a fresh `python script.py` from a cold start (no",
        "scheduler running), times from the `set_stage()` call; then the wrapper is stopped by PID",
        "(it cancels its job). In the same run, a plain `sbatch -p debug -c 1 --mem 1G --wrap` job",
        "that writes a timestamp: time to its start, and until `squeue` (polled every 20 ms) no longer",
        f"lists it. {runs} runs each; min and median.",
        f"Reproduce: `.venv/bin/python bench/bench_slurm.py --runs {runs} --write` (part of `make bench`; needs",
        "`scripts/slurm-up.sh`).",
        "",
        f"Machine: {machine('dask', 'distributed', 'dask-jobqueue')}, {slurm_version()}. Date: {datetime.date.today().isoformat()}.",
        "",
        "| measurement | min (ms) | median (ms) | ratio |",
        "| --- | ---: | ---: | --- |",
        row("plain `sbatch`: command returns", "sbatch_submit"),
        row("plain `sbatch`: job starts (timestamp file)", "sbatch_start", "reference"),
        row("plain `sbatch`: job has left the queue", "sbatch_gone"),
    ]
    for queue in QUEUES:
        lines += [
            row(f"`{queue}`: `set_stage()` returns (scheduler up)", f"{queue}_stage"),
            row(f"`{queue}`: worker job starts (its slurmstepd)", f"{queue}_job"),
            row(f"`{queue}`: first worker connected", f"{queue}_worker",
                f"{med(r[f'{queue}_worker']) / sbatch:.2f}x sbatch start, +{(med(r[f'{queue}_worker']) - sbatch) * 1000:.0f} ms"),
            row(f"`{queue}`: first result on it", f"{queue}_result"),
        ]
    lines += ["", READING, "", END]
    return "\n".join(lines)


READING = """\
Reading: a plain `sbatch` job starts 0.1-0.2 s after submission here (jobs submitted right after the
previous one ended took ~2.8 s in a one-off check: that case is not the one measured). `set_stage()`
is back after ~0.7 s (the cold scheduler launch of the Pure Dask section). With adaptive scaling
from 0 jobs, the wrapper asks SLURM for a job at the first adapt tick after a task arrives:
`seamless-dask-wrapper` sets `distributed.adaptive.interval` to 1 s (it was 5 s, which then made up
most of the time to the first worker); the worker then needs ~0.7 s (interpreter, `import
distributed`, nanny + worker, connect). With `interactive: true` the wrapper scales to one job as
it starts, so the job is already on its way when the first task arrives. What remains is SLURM
itself (~0.1 s here), the worker process (~0.6 s) and the scheduler launch (~0.7 s)."""


def slurm_version() -> str:
    out = subprocess.run(["sinfo", "--version"], capture_output=True, text=True)
    return out.stdout.strip() or "SLURM (version unknown)"


def main() -> int:
    args = arguments(__doc__, "the SLURM section").parse_args()
    why_not = slurm_problem(PARTITION)
    if why_not is not None:
        print(f"bench_slurm: skipped, {why_not}. Start SLURM with scripts/slurm-up.sh (as root).", file=sys.stderr)
        return 0
    results = Bench(args.runs).run()
    if results["leftovers"]:
        print(f"bench_slurm: jobs still queued after their run had to be cancelled: {results['leftovers']}", file=sys.stderr)
    section = report(results, args.runs)
    publish(NAME, section, args.write)
    return 0


if __name__ == "__main__":
    sys.exit(main())
