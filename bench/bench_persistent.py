"""Persistent mode benchmarks (not a test): per-transformation overhead and cache-hit latency.

The user's path: an isolated HOME whose ``clusters.yaml`` defines a ``type: local`` cluster
``laptop`` (hashserver, seamless-database, jobserver and daskserver on this machine, 2 workers),
and projects whose ``seamless.yaml`` selects ``cluster: laptop``, ``project: p`` and

* ``execution: process`` (storage only: results go to the hashserver + database),
* ``remote: daskserver`` (persistent-mode ``seamless-dask-wrapper``, LocalCluster workers),
* ``remote: jobserver`` (seamless-jobserver with its own workers);

plus a project without a cluster (``execution: process``: plain process mode, no persistence).
Every measurement is a fresh ``python script.py`` that calls ``seamless_config.set_stage()``, then
times ``--n`` new trivial ``@delayed`` transformations (``add(a, b)``, inputs never seen before),
then the same ``--n`` again (in-memory cache hits), and its own reference in the same process:
a plain Python call, a plain ``distributed.Client.submit(...).result()`` on the same Dask
scheduler, a plain HTTP POST on the same jobserver (a small JSON body it answers with 400).
Results are stored in the background: the time ``seamless_transformer.flush()`` then still
waits is reported too. A *second* process gets the same ``--n``
transformations back from the database + hashserver. Services are launched by the first
``set_stage()`` and stopped by PID at the end.

Prints a Markdown section; ``--write`` replaces its section of ``bench/BENCHMARKS.md``. There is
no target: exit code 0 unless a run fails.
"""

from __future__ import annotations

import datetime
import json
import os
import runpy
import statistics
import sys

import yaml

from benchlib import ROOT, Sandbox, machine, markers, min_median, publish, arguments

NAME = "bench_persistent"
BEGIN, END = markers(NAME)

PERSISTENT = {"cluster": "laptop", "project": "p"}
PROJECTS = {  # mode -> commands of its seamless.yaml; "-notls": the same cluster with 'tls: false'
    "plain": [{"execution": "process"}],
    "process": [{"cluster": "laptop"}, {"project": "p"}, {"execution": "process"}],
    "dask": [{"cluster": "laptop"}, {"project": "p"}, {"execution": "remote"}, {"remote": "daskserver"}],
    "jobserver": [{"cluster": "laptop"}, {"project": "p"}, {"execution": "remote"}, {"remote": "jobserver"}],
    "process-notls": [{"cluster": "laptopnotls"}, {"project": "p"}, {"execution": "process"}],
    "dask-notls": [{"cluster": "laptopnotls"}, {"project": "p"}, {"execution": "remote"}, {"remote": "daskserver"}],
    "jobserver-notls": [{"cluster": "laptopnotls"}, {"project": "p"}, {"execution": "remote"}, {"remote": "jobserver"}],
}

SCRIPT = """
import json, sys, time
import seamless_config

out = {}
mode, phase, offset, n = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
seamless_config.set_stage()
from seamless_transformer import delayed

http = {"requests": 0, "seconds": 0.0}  # HTTP requests of this process's service clients
from seamless_remote.http_service import ServiceClient
_request = ServiceClient.request
def counting_request(self, *args, **kwargs):
    t = time.perf_counter()
    try:
        return _request(self, *args, **kwargs)
    finally:
        http["requests"] += 1
        http["seconds"] += time.perf_counter() - t
ServiceClient.request = counting_request

@delayed
def add(a, b):
    return a + b

def plain_add(a, b):
    return a + b

def per_op(call, name):
    before = dict(http)
    t = time.perf_counter()
    for i in range(n):
        assert call(offset + i) == offset + i + 1
    out[name] = (time.perf_counter() - t) / n
    out[name + "_requests"] = (http["requests"] - before["requests"]) / n
    out[name + "_http"] = (http["seconds"] - before["seconds"]) / n

assert add(offset - 1, 1).run() == offset  # warm-up: code compiled / uploaded, workers up
if phase == "new":
    import seamless_transformer
    seamless_transformer.flush()  # the warm-up's writes are not part of the measurement
    per_op(lambda x: add(x, 1).run(), "new")
    t = time.perf_counter()
    seamless_transformer.flush()  # what is still being stored in the background
    out["flush"] = time.perf_counter() - t
    per_op(lambda x: add(x, 1).run(), "memory_hit")
    per_op(lambda x: plain_add(x, 1), "plain_call")
    from seamless_remote.activation import get_active
    active = get_active()
    assert (active is None) == (mode == "plain"), f"persistent mode is not active in {mode!r}"
    if mode.startswith("dask"):
        from seamless_config.client_credentials import connect_dask
        client = connect_dask(active.urls["daskserver"], active.creds, set_as_default=False)
        client.submit(plain_add, -1, 1, pure=False).result()
        per_op(lambda x: client.submit(plain_add, x, 1, pure=False).result(), "reference")
        client.close()
    elif mode.startswith("jobserver"):
        from seamless_remote import JobserverClient
        tls = (active.creds, "client") if active.creds is not None else None
        jobserver = JobserverClient(active.urls["jobserver"], tls=tls)  # one kept-alive connection
        assert jobserver.request("GET", "healthcheck").status_code == 200
        # one plain POST round trip: a small JSON body the jobserver reads, parses and answers (400)
        post = lambda x: x + 1 if jobserver.request("POST", "run-transformation", json={"x": x}).status_code == 400 else None
        post(0)
        per_op(post, "reference")
else:  # "hit": a second process, the results of the first one come from the database + hashserver
    per_op(lambda x: add(x, 1).run(), "db_hit")
    # the floor of a hit: one round trip to each service, with the same pooled connections
    from seamless_remote.activation import get_active
    active = get_active()
    db, hs = active.database, active.hashserver
    def two_gets(x):
        return x + 1 if db.request("GET", "healthcheck").status_code == hs.request("GET", "healthcheck").status_code == 200 else None
    per_op(two_gets, "two_gets")
print(json.dumps(out))
"""


class Bench(Sandbox):
    def __init__(self, runs: int, n: int):
        super().__init__("bench-persistent-")
        self.runs, self.n = runs, n
        # the helpers of the persistent-mode tests: write_cluster, stop_servers (by PID)
        self.services = runpy.run_path(str(ROOT / "tests" / "persistent_services.py"))
        definition = self.services["write_cluster"](self.home, "laptop", self.tmp / "store", jobserver={}, workers=2,
                                               daskserver={"timeout": 120})
        open_definition = yaml.safe_load(yaml.safe_dump(definition["laptop"]))  # a copy, TLS off
        open_definition["tls"] = False
        for section, directory in (("hashserver", "bufferdir"), ("database", "database_dir")):
            open_definition["frontends"][0][section][directory] += "-notls"
        (self.home / ".seamless" / "clusters.yaml").write_text(
            yaml.safe_dump({**definition, "laptopnotls": open_definition})
        )
        for mode, commands in PROJECTS.items():  # set_stage() reads the script's directory
            (self.tmp / mode).mkdir()
            (self.tmp / mode / "seamless.yaml").write_text(yaml.safe_dump(commands, sort_keys=False))
            self.write(f"{mode}/script.py", SCRIPT)

    def measure(self, mode: str, phase: str, offset: int) -> dict:
        script = self.tmp / mode / "script.py"
        return json.loads(self.python(str(script), mode, phase, str(offset), str(self.n), cwd=self.tmp / mode))

    def run(self) -> dict:
        r: dict = {"load": [os.getloadavg()[0]]}
        try:
            for run in range(self.runs):
                for m, mode in enumerate(PROJECTS):
                    offset = (m + 1) * 10**9 + run * 10**6  # new inputs for every run and mode
                    for key, value in self.measure(mode, "new", offset).items():
                        r.setdefault(f"{mode}_{key}", []).append(value)
                    if mode != "plain":  # TLS on and off alternate within each run
                        for key, value in self.measure(mode, "hit", offset).items():
                            r.setdefault(f"{mode}_{key}", []).append(value)
            r["load"].append(os.getloadavg()[0])
        finally:
            r["stopped"] = self.services["stop_servers"](self.home)
            self.remove()
        return r


def report(r: dict, runs: int, n: int) -> str:
    med = statistics.median

    def row(label: str, key: str, versus: str | None = None, what: str = "", digits: int = 0) -> str:
        ratio = f"{med(r[key]) / med(r[versus]):.1f}x {what}" if versus else what
        http = f"{med(r[key + '_requests']):.1f} | {med(r[key + '_http']) * 1e6:.0f}" if med(r[key + "_requests"]) else "| "
        return f"| {label} | {min_median(r[key], scale=1e6, digits=digits)} | {ratio} | {http} |"

    lines = [
        BEGIN,
        "## Persistent mode",
        "",
        "`bench/bench_persistent.py` (seamless-config + seamless-remote + seamless-transformer): the",
        "user's path, a `type: local` cluster with a real hashserver, seamless-database, jobserver and",
        "persistent-mode Dask server (2 workers), selected by `seamless.yaml` (`cluster`, `project: p`,",
        "and `execution: process` / `remote: daskserver` / `remote: jobserver`); *plain process* is a",
        "project without a cluster (no persistence). Each process: `set_stage()`, one warm-up, then",
        f"{n} new trivial `@delayed` `add(a, b)` transformations (inputs never seen before), then the",
        f"same {n} again (in-memory cache hits) and a reference in the same process. The *second",
        "process* gets the first one's results from the database + hashserver. Per transformation;",
        f"{runs} runs (fresh processes) of {n}; min and median. HTTP: requests the user's process's",
        "service clients sent per transformation, in the foreground or the background (results are",
        "stored in the background), and the time spent in them (medians).",
        f"Reproduce: `.venv/bin/python bench/bench_persistent.py --runs {runs} --n {n} --write` (part of `make bench`).",
        "",
        f"Machine: {machine('distributed', 'hashserver', 'seamless-database', 'uvloop')}. Date: {datetime.date.today().isoformat()}.",
        f"Load average (1 min) before / after: {r['load'][0]:.1f} / {r['load'][-1]:.1f} (other work shares the machine).",
        "",
        "| per transformation | min (µs) | median (µs) | ratio | HTTP requests | HTTP (µs) |",
        "| --- | ---: | ---: | --- | ---: | ---: |",
        row("plain Python call", "plain_plain_call", what="reference", digits=2),
        row("plain process: new transformation", "plain_new", "plain_plain_call", "plain call"),
        row("plain process: in-memory cache hit", "plain_memory_hit"),
        row("persistent process: new transformation", "process_new", "plain_new", "plain process"),
        row("persistent process: in-memory cache hit", "process_memory_hit", what="reference"),
        row("persistent process: hit in a second process", "process_db_hit", "process_memory_hit", "in-memory hit"),
        row("second process: plain GET `/healthcheck` on the database, then on the hashserver", "process_two_gets", what="reference"),
        row("daskserver: plain `Client.submit().result()`, same scheduler", "dask_reference", what="reference"),
        row("daskserver: new transformation", "dask_new", "dask_reference", "plain submit"),
        row("daskserver: hit in a second process", "dask_db_hit", "dask_memory_hit", "in-memory hit"),
        row("jobserver: plain HTTP POST (small JSON body, answered 400), same server", "jobserver_reference", what="reference"),
        row("jobserver: new transformation", "jobserver_new", "jobserver_reference", "plain POST"),
        row("jobserver: hit in a second process", "jobserver_db_hit", "jobserver_memory_hit", "in-memory hit"),
        "",
        f"Still being stored when the {n} new transformations had returned (`seamless_transformer.flush()`,",
        "per process, median): " + ", ".join(
            f"{mode} {med(r[mode + '_flush']) * 1e3:.0f} ms" for mode in ("process", "dask", "jobserver")
        ) + ".",
        "",
        "Targets (issue 10), TLS on:",
        "",
        "| figure | measured (median) | target | verdict |",
        "| --- | ---: | --- | --- |",
        *target_rows(r),
        "",
        "TLS on (the default) against `tls: false` on the same kind of cluster, alternating within",
        "each run; target: every per-transformation figure within 1.2x of TLS off.",
        "",
        "| per transformation | TLS on, median (µs) | TLS off, median (µs) | on / off | target |",
        "| --- | ---: | ---: | ---: | --- |",
        *tls_rows(r),
        "",
        READING,
        "",
        END,
    ]
    return "\n".join(lines)


def target_rows(r: dict) -> list[str]:
    """The issue's targets: new transformation against the backend's own round trip; hits."""
    med = statistics.median
    rows = []
    dask = med(r["dask_new"]) / med(r["dask_reference"])
    rows.append(f"| daskserver: new transformation / plain `Client.submit().result()` | {dask:.3f}x | <= 1.5x | "
                f"{'met' if dask <= 1.5 else '**missed**'} |")
    own = med(r["jobserver_reference"]) + med(r["plain_plain_call"])  # the function's own time: a plain call
    job = med(r["jobserver_new"]) / own
    rows.append(f"| jobserver: new transformation / (plain POST + the function's own time) | {job:.3f}x | <= 1.5x | "
                f"{'met' if job <= 1.5 else '**missed**'} |")
    for mode in ("process", "dask", "jobserver"):
        hit = med(r[f"{mode}_db_hit"]) * 1e3
        floor = med(r[f"{mode}_two_gets"]) * 1e3
        rows.append(f"| {mode}: cache hit in a new process, each (two plain GETs: {floor:.2f} ms) | {hit:.2f} ms "
                    f"| <= 2 ms | {'met' if hit <= 2 else '**missed**'} |")
    return rows


def tls_rows(r: dict) -> list[str]:
    """One line per (backend, figure): TLS on against TLS off, with the 1.2x target."""
    med = statistics.median
    rows = []
    for mode in ("process", "dask", "jobserver"):
        for figure, label in (("new", "new transformation"), ("db_hit", "hit in a second process")):
            on, off = med(r[f"{mode}_{figure}"]), med(r[f"{mode}-notls_{figure}"])
            verdict = "met" if on <= 1.2 * off else "**missed**"
            rows.append(f"| {mode}: {label} | {on * 1e6:.0f} | {off * 1e6:.0f} | {on / off:.2f}x | <= 1.2x: {verdict} |")
    return rows


READING = """\
Reading (2026-12-02 evening, after the third round of issue 10; a shared 2-core machine:
absolute figures move by up to 2x between runs, the ratios within a run less). Hits in a new
process are one database GET and one hashserver GET, now ~1.8-1.9 ms for both (they were
~6.7 ms): the service clients speak HTTP/1.1 themselves over kept-alive TLS connections
(`seamless_remote.http_connection`, ~45-70 us of client CPU a request, against ~330-390 us
through urllib3 and ~150 us through `http.client`), and the store server answers the reads of a
hit on fast routes (`seamless_jobserver.store_routes`: a small buffer read and verified against
its checksum without FastAPI's middleware and thread hops, a transformation lookup as one
prepared SQL query, on uvloop); `test_store_routes.py` checks that they answer as the libraries'
handlers do. What remains is about twice two plain healthchecks. New transformations: the
foreground database lookup got as cheap (process mode 1.8-2.3 ms per new transformation, was
3.8 ms). Dask: a plain `submit().result()` loop takes ~10-12 ms not for its round trip
(~3-8 ms) but because distributed's client sends its messages to the scheduler at most once per
10 ms; Seamless released each task alone right after its result, and the next transformation's
submission (after the lookup, 1-3 ms later) waited for the window that release opened: two
windows per transformation, 1.4-1.9x. The backend now releases a finished task in the same loop
callback as the next submission, and submits and gathers in one coroutine on the client's loop
(`seamless_dask.backend.spent_futures`): 0.9-1.3x, against 1.3-1.7x for the former backend in
the same interleaved series (this script alternating the two backends, and blocks of 10 in one
process; load 2.3-3.6). What is left is the foreground lookup (~1 ms) and the CPU of the
background writes on 2 shared cores. Jobserver: the client's lookup, then one POST with the code and
inputs, whose answer carries the result; the POST says the client looked the result up
(`"lookup": false`), so the jobserver does not ask the same database again, and concurrent
requests for one transformation run it once. ~11 ms at the start of issue 10, ~6 ms after its
second round, ~3.7 ms now: the background writes of a new result take the store server's fast
routes (a new small buffer verified and written without hashserver's FastAPI handler and its
thread hops: ~0.55-0.9 ms of server CPU, was 1.4-2.35 ms; a result recorded in one SQLite
commit: ~0.4 ms, was 0.8-0.95 ms), and the jobserver runs on uvloop. The plain POST also got
cheaper (0.85 -> 0.4 ms), so the ratio stays 8-10x. Where the time goes (a profiling loop of
200, load ~1.5): the client's lookup ~0.8-1.1 ms (it often waits behind the database's write of
the previous result), the POST with the jobserver's work and its spawn worker ~2.3 ms on
average, the client's own Seamless work 0.5-0.8 ms; with the background writes switched off a
new transformation still takes 2.75-3.9 ms. All processes together use ~5 ms of CPU per new
transformation on 2 shared cores. One round trip (the jobserver looks the result up itself over
HTTP) was tried: no faster for a new transformation, and a hit in a new process rose to
2.7-3.0 ms (target 2 ms), so it was not kept; it would pay only with the jobserver reading a
co-located database and buffer directory itself. The lookup must come before the run (a hit
must not run the function again, and a started task or worker job cannot be taken back): with
it, a POST, the jobserver's own work and the client's, ~2.5-3x a POST is the floor of this
design on this machine. TLS on/off: the ratios of figures of ~1.4-2 ms (hits, process-mode new
transformations) move between 1.05x and 1.32x from series to series (1.23x and 1.24x in the
series above, 1.16x and 1.05x in the one before): TLS costs a near-constant ~0.1-0.3 ms on each
of them."""


def main() -> int:
    parser = arguments(__doc__, "the Persistent mode section", runs_help="fresh processes per mode and phase")
    parser.add_argument("--n", type=int, default=50, help="transformations timed per process (default 50)")
    args = parser.parse_args()
    results = Bench(args.runs, args.n).run()
    print(f"stopped: {', '.join(results['stopped'])}", file=sys.stderr)
    section = report(results, args.runs, args.n)
    publish(NAME, section, args.write)
    return 1 if "**missed**" in section else 0  # a verdict of the targets' tables


if __name__ == "__main__":
    sys.exit(main())
