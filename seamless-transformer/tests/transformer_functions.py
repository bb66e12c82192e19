"""Transformer functions shared by the tests. They record each execution as a file in `log`,
so executions are counted across processes without mocks."""

from __future__ import annotations

from pathlib import Path

from seamless_transformer import delayed, direct


def count_runs(directory: Path) -> int:
    """Executions recorded by the functions below (one file per execution)."""
    return len(list(Path(directory).iterdir())) if Path(directory).exists() else 0


@delayed
def add(a, b=10, log=None):
    import os
    import uuid

    if log is not None:
        open(os.path.join(log, uuid.uuid4().hex), "w").close()
    return a + b


@direct
def add_now(a, b=10, log=None):
    import os
    import uuid

    if log is not None:
        open(os.path.join(log, uuid.uuid4().hex), "w").close()
    return a + b


@delayed
def where():
    import os

    import seamless

    return [os.getpid(), seamless.is_worker()]


@delayed
def divide(a, b):
    quotient = a / b
    return quotient


@delayed
def array_stats(arr, scale):
    import numpy as np

    return {"sum": float(np.sum(arr) * scale), "doubled": arr * 2}


@delayed
def meet(tag, directory, expected):
    """Wait (at most 60 s) until `expected` calls have registered in `directory`: proves they
    ran at the same time."""
    import os
    import time

    open(os.path.join(directory, tag), "w").close()
    deadline = time.monotonic() + 60
    while len(os.listdir(directory)) < expected and time.monotonic() < deadline:
        time.sleep(0.01)
    return len(os.listdir(directory))


@delayed
def crash(code):
    import os

    os._exit(code)


@delayed
def flaky(flag_file):
    import os

    if not os.path.exists(flag_file):
        raise RuntimeError("flag file missing")
    return "ok"
