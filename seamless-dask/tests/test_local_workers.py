"""The LocalCluster's forkserver: a fork of the wrapper (no second ``distributed`` import), made
as a new interpreter would be (nothing of the wrapper's left in it, ends with its last client),
and multiprocessing's own forkserver where a fork would not be safe.

These pin what ``seamless_dask.local_workers`` relies on in multiprocessing's internals."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

from seamless_config.launching import pid_alive
from seamless_config.service_records import process_command_line, proc_stat

PURE = {"walltime": "00:10:00", "cores": 1, "memory": "1GB", "pure_dask": True, "maximum_jobs": 2}

#: in a worker: start a process of the forkserver context (a forkserver of its own) and join it
START_CHILD = (
    "def start_child():\n"
    "    import multiprocessing, os, threading\n"
    "    done = []\n"
    "    def start():\n"
    "        p = multiprocessing.get_context('forkserver').Process(target=os.getpid)\n"
    "        p.start()\n"
    "        p.join(60)\n"
    "        done.append(p.exitcode)\n"
    "    thread = threading.Thread(target=start, daemon=True)\n"
    "    thread.start()\n"
    "    thread.join(60)\n"
    "    return done[0] if done else 'hangs'\n"
)


#: whether SIGINT raises KeyboardInterrupt in a worker (Python's handler, which asyncio's
#: runner replaces with its own only where it finds Python's), not the default "terminate"
SIGINT_HANDLER = (
    "def sigint_handler():\n"
    "    import signal\n"
    "    return callable(signal.getsignal(signal.SIGINT))\n"
)


def parent(pid: int) -> int:
    fields = proc_stat(pid)
    assert fields is not None, f"process {pid} is gone"
    return int(fields[1])


def test_workers_are_forked_from_a_fork_of_the_wrapper(start_wrapper, wrapper_tools):
    wrapper = start_wrapper("distributed::LocalCluster", PURE, timeout=3)
    with wrapper.client(timeout=30) as client:
        client.wait_for_workers(2, timeout=60)
        servers = {parent(pid) for pid in client.run(os.getpid).values()}
        assert len(servers) == 1, servers
        (server,) = servers
        # the forkserver: the wrapper's child with the wrapper's command line (not a
        # `python -c "from multiprocessing.forkserver import main ..."` interpreter)
        assert parent(server) == wrapper.proc.pid
        assert process_command_line(server) == process_command_line(wrapper.proc.pid)
        # as in a new interpreter: no Seamless module in the workers, not even the wrapper's
        assert list(client.run(wrapper_tools.seamless_modules).values()) == [[], []]
        # the forkserver lock the fork copied while held is free in the workers
        start_child = wrapper_tools.by_value(START_CHILD, "start_child")
        assert set(client.run(start_child).values()) == {0}
        # SIGINT handled by Python, as in a new interpreter (not the wrapper's handler, not SIG_DFL)
        sigint = wrapper_tools.by_value(SIGINT_HANDLER, "sigint_handler")
        assert set(client.run(sigint).values()) == {True}
    assert wrapper.wait_exit(60) == 0
    # it holds no end of its own "alive" pipe: its last client gone, it ends too
    wrapper_tools.wait_for(lambda: not pid_alive(server), 30, f"the forkserver {server} to end with the wrapper")


FORKSERVER = textwrap.dedent("""
    import json, multiprocessing, os, sys, threading, time
    import distributed
    if sys.argv[1] == "thread":
        threading.Thread(target=time.sleep, args=(30,), daemon=True).start()
    from seamless_dask.local_workers import start_forkserver
    print("written before the fork")  # to a pipe: held in the buffer, not written yet
    start_forkserver()
    p = multiprocessing.get_context("forkserver").Process(target=os.getpid)
    p.start()
    p.join(60)
    server = multiprocessing.forkserver._forkserver._forkserver_pid
    argv = open(f"/proc/{server}/cmdline", "rb").read().decode().split("\\0")[:-1]
    tracker = multiprocessing.resource_tracker._resource_tracker._pid
    tracker_argv = open(f"/proc/{tracker}/cmdline", "rb").read().decode().split("\\0")[:-1]
    print(json.dumps({"exitcode": p.exitcode, "server_argv": argv, "own_argv": sys.orig_argv,
                      "tracker_argv": tracker_argv}))
""")


def run_forkserver_script(tmp_path: Path, mode: str) -> dict:
    script = tmp_path / "forkserver.py"
    script.write_text(FORKSERVER)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # stdout buffered, as by default
    out = subprocess.run([sys.executable, str(script), mode], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr
    # written once: not again by the forks (the worker flushes its copy of the buffer at exit)
    assert out.stdout.count("written before the fork") == 1, out.stdout
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_single_threaded_process_forks_its_forkserver(tmp_path):
    result = run_forkserver_script(tmp_path, "alone")
    assert result["exitcode"] == 0
    assert result["server_argv"] == result["own_argv"]
    # only the forkserver is a fork: multiprocessing's resource tracker is its own interpreter
    assert "from multiprocessing.resource_tracker import main" in result["tracker_argv"][-1]


def test_with_another_thread_multiprocessing_starts_its_own_forkserver(tmp_path):
    result = run_forkserver_script(tmp_path, "thread")
    assert result["exitcode"] == 0
    assert "-c" in result["server_argv"] and "from multiprocessing.forkserver import main" in result["server_argv"][-1]
    assert "'distributed'" in result["server_argv"][-1]  # it imports distributed for the workers itself
