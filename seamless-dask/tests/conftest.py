"""Harness for the wrapper's end-to-end tests: start ``seamless-dask-wrapper`` as a real
subprocess the way remote-http-launcher does (process first, then the status file), read what it
writes, and clean up by PID (and ``scancel``/``qdel`` for SLURM/Grid Engine jobs whose logs live in
the test's tmp dir).
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

import pytest
from seamless_service.wrapper_events import WRAPPER_EVENT_TOPIC as EVENT_TOPIC

WRAPPER = Path(sys.executable).parent / "seamless-dask-wrapper"


def by_value(source: str, name: str) -> Callable[..., Any]:
    """A function defined in ``__main__``, so cloudpickle ships its code to workers/scheduler
    (test modules are not importable there)."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    exec(source, namespace)
    return namespace[name]


#: names of the ``seamless*`` modules loaded in the process that runs it
SEAMLESS_MODULES = by_value(
    "def seamless_modules():\n"
    "    import sys\n"
    "    return sorted(m for m in sys.modules if m.startswith('seamless'))\n",
    "seamless_modules",
)


def wait_for(predicate: Callable[[], Any], timeout: float, what: str, interval: float = 0.2) -> Any:
    """Poll ``predicate`` until it returns something truthy; fail the test naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def events(client: Any, kind: str, topic: str = EVENT_TOPIC) -> list[dict]:
    """The wrapper's Dask events of one ``kind`` (``worker-failed``, ``jobs-pending``)."""
    return [msg for _, msg in client.get_events(topic) if msg.get("kind") == kind]


@dataclass
class Wrapper:
    """One started wrapper process and its files."""

    proc: subprocess.Popen
    status_path: Path
    log_path: Path
    stderr_path: Path
    port_range: tuple[int, int]

    def status(self) -> dict[str, Any] | None:
        try:
            return json.loads(self.status_path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return None

    def output(self) -> str:
        parts = [p.read_text(errors="replace") for p in (self.log_path, self.stderr_path) if p.exists()]
        return "\n".join(parts)

    def wait_running(self, timeout: float = 60) -> dict[str, Any]:
        def ready() -> dict[str, Any] | None:
            status = self.status()
            if status and status.get("status") == "running":
                return status
            if status and status.get("status") == "failed" or self.proc.poll() is not None:
                pytest.fail(f"wrapper did not start: {status}\n{self.output()[-3000:]}")
            return None

        return wait_for(ready, timeout, "status: running")

    def address(self) -> str:
        return f"tls://127.0.0.1:{self.wait_running()['port']}"

    def client(self, **kwargs: Any) -> Any:
        """A ``distributed.Client`` with the user's certificate: the wrapper speaks mutual TLS,
        with the credentials it created under the test's HOME."""
        from distributed import Client, Security
        from seamless_service import credentials
        from seamless_service.tls import dask_security_arguments

        creds = credentials.Credentials(credentials.default_directory())
        return Client(self.address(), security=Security(**dask_security_arguments(creds, "client")), **kwargs)

    def wait_exit(self, timeout: float) -> int:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"wrapper still running after {timeout:g} s\n{self.output()[-3000:]}")


@dataclass
class WrapperFactory:
    tmp_path: Path
    started: list[Wrapper] = field(default_factory=list)
    job_queue_clusters: bool = False  # only then can batch jobs be left over

    def __call__(
        self,
        cluster: str,
        parameters: dict[str, Any] | None,
        *,
        timeout: float | None = None,
        port_range: tuple[int, int] | None = None,
        status_content: Any = None,
        write_status: bool = True,
    ) -> Wrapper:
        n = len(self.started)
        status_path = self.tmp_path / f"wrapper{n}.json"
        log_path = self.tmp_path / f"wrapper{n}.log"
        stderr_path = self.tmp_path / f"wrapper{n}.stderr"
        if port_range is None:
            base = random.randrange(20000, 60000, 100)
            port_range = (base, base + 99)
        cmd = [str(WRAPPER), cluster, "--port-range", str(port_range[0]), str(port_range[1]),
               "--status-file", str(status_path), "--host", "127.0.0.1"]
        if timeout is not None:
            cmd += ["--timeout", str(timeout)]
        with open(stderr_path, "w") as err:
            proc = subprocess.Popen(cmd, stdout=err, stderr=subprocess.STDOUT, cwd=self.tmp_path)
        wrapper = Wrapper(proc, status_path, log_path, stderr_path, port_range)
        self.started.append(wrapper)
        self.job_queue_clusters = self.job_queue_clusters or cluster.startswith("dask_jobqueue::")
        if write_status:
            if status_content is None:
                status_content = {
                    "status": "starting", "parameters": parameters,
                    "workdir": str(self.tmp_path), "log": str(log_path), "pid": proc.pid,
                }
            text = status_content if isinstance(status_content, str) else json.dumps(status_content)
            tmp = status_path.with_suffix(".tmp")
            tmp.write_text(text)
            os.replace(tmp, status_path)
        return wrapper

    def cleanup(self) -> None:
        for wrapper in self.started:
            if wrapper.proc.poll() is None:
                wrapper.proc.send_signal(signal.SIGTERM)
                try:
                    wrapper.proc.wait(40)
                except subprocess.TimeoutExpired:
                    wrapper.proc.kill()
                    wrapper.proc.wait(10)
        if not self.job_queue_clusters:
            return
        for jobs, cancel in ((our_slurm_jobs, "scancel"), (our_sge_jobs, "qdel")):
            leftovers = jobs(self.tmp_path)
            if leftovers:
                subprocess.run([cancel, *leftovers], check=False, capture_output=True)


def our_slurm_jobs(tmp_path: Path) -> list[str]:
    """Ids of queued/running SLURM jobs whose stdout goes under ``tmp_path``."""
    try:
        out = subprocess.run(
            ["squeue", "--noheader", "--Format=JobID:|,StdOut:"],
            capture_output=True, text=True, timeout=20,
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    jobs = []
    for line in out.splitlines():
        job_id, _, stdout = line.partition("|")
        if stdout.strip().startswith(str(tmp_path)):
            jobs.append(job_id.strip())
    return jobs


def our_sge_jobs(tmp_path: Path) -> list[str]:
    """Ids of Grid Engine jobs (waiting or running) whose stdout goes under ``tmp_path``."""
    try:
        out = subprocess.run(["qstat", "-j", "*"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    jobs = []
    for record in out.split("job_number:")[1:]:
        job_id = record.split()[0]
        paths = [line for line in record.splitlines() if line.startswith("stdout_path_list:")]
        if paths and str(tmp_path) in paths[0]:
            jobs.append(job_id)
    return jobs


@pytest.fixture
def start_wrapper(tmp_path: Path, isolated_home: Path) -> Iterator[WrapperFactory]:
    """Start wrappers as real subprocesses; all are stopped (and their SLURM jobs cancelled)."""
    factory = WrapperFactory(tmp_path)
    try:
        yield factory
    finally:
        factory.cleanup()


@pytest.fixture
def wrapper_tools() -> Any:
    """The helpers above, for test modules (``--import-mode=importlib`` cannot import conftest)."""
    from types import SimpleNamespace

    return SimpleNamespace(
        wrapper=WRAPPER, by_value=by_value, wait_for=wait_for, our_slurm_jobs=our_slurm_jobs,
        our_sge_jobs=our_sge_jobs, events=events,
        seamless_modules=SEAMLESS_MODULES, event_topic=EVENT_TOPIC,
    )
