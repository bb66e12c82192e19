"""Faster start of LocalCluster worker processes: a forkserver that has ``distributed`` already.

With the default ``spawn`` method every worker process starts a new interpreter and imports
``distributed`` (~0.3 s) after the scheduler is up. With multiprocessing's ``forkserver``, the
workers are forked ready-made from one process that has imported it.

That process is a fork of the wrapper itself, made once the wrapper has imported
``distributed`` and before it starts a Python thread (a native one, the BLAS pool numpy may
start, is fork-safe): it costs no import at all (multiprocessing's
own way is one more interpreter importing ``distributed``, ~0.45 s of CPU that a cold start on
a small machine waits for). Where that is not possible (another thread runs, an unknown Python),
multiprocessing starts its forkserver its own way, preloading ``distributed``.

This is the one place that depends on multiprocessing's internals (pinned by
``tests/test_local_workers.py``): ``ForkServer.ensure_running`` starts the forkserver through
``multiprocessing.util.spawnv_passfds(exe, [exe, ..., "-c", CODE], fds)``; here, for that
call, the same ``CODE`` runs in a fork instead of a new interpreter; and the forked copy of
``multiprocessing.forkserver._forkserver._lock``, held while ``ensure_running`` runs, is renewed
in the fork. Stdlib only: nothing here imports Dask.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
import threading
from typing import Any, Iterator, Sequence

START_METHOD = "forkserver"
_PRELOAD = ["distributed"]
#: Pythons whose ``ForkServer.ensure_running`` is known to start the forkserver as described above
_FORK_PYTHONS = ((3, 10), (3, 11), (3, 12), (3, 13))
#: what the forkserver's ``-c CODE`` runs (the resource tracker's is started as multiprocessing does)
_FORKSERVER_MAIN = "from multiprocessing.forkserver import main"
_STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP, signal.SIGQUIT)


def detach_main_module() -> None:
    """Keep worker processes from re-importing the wrapper's entry module.

    multiprocessing re-imports ``__main__`` (by ``__spec__`` name or by ``__file__``) in its
    children and in a forkserver; the workers have no use for the wrapper, and in pure Dask mode
    they must load no ``seamless*`` module at all.
    """
    main = sys.modules.get("__main__")
    if main is None:
        return
    main.__spec__ = None
    if hasattr(main, "__file__"):
        del main.__file__


def can_fork_forkserver() -> bool:
    """Whether the forkserver can be a fork of this process: ``distributed`` is imported, no
    other Python thread runs (a fork copies only the calling thread, and the locks others may hold),
    and this Python starts its forkserver the way this module relies on."""
    import multiprocessing.util

    return ("distributed" in sys.modules and threading.active_count() == 1
            and sys.version_info[:2] in _FORK_PYTHONS and callable(getattr(multiprocessing.util, "spawnv_passfds", None)))


def start_forkserver() -> None:
    """Start (once) the forkserver the LocalCluster's nannies will fork their workers from: a
    fork of this process when :func:`can_fork_forkserver`, else multiprocessing's own."""
    import multiprocessing
    import multiprocessing.forkserver

    detach_main_module()
    if not can_fork_forkserver():
        multiprocessing.set_forkserver_preload(_PRELOAD)
        multiprocessing.forkserver.ensure_running()
        return
    multiprocessing.set_forkserver_preload([])  # everything it needs is imported already
    with _fork_instead_of_spawn():
        multiprocessing.forkserver.ensure_running()


@contextlib.contextmanager
def _fork_instead_of_spawn() -> Iterator[None]:
    import multiprocessing.util as util

    spawn = util.spawnv_passfds

    def fork(path: Any, args: Sequence[str], passfds: Sequence[int]) -> int:
        if len(args) < 2 or args[-2] != "-c" or _FORKSERVER_MAIN not in args[-1]:
            return spawn(path, args, passfds)  # not the forkserver (its resource tracker): as multiprocessing does
        return _fork_running(args[-1], passfds)

    util.spawnv_passfds = fork  # type: ignore[assignment]
    try:
        yield
    finally:
        util.spawnv_passfds = spawn


def _fork_running(code: str, keep: Sequence[int]) -> int:
    """Fork; in the child, run ``code`` (the forkserver's main loop) as the interpreter that
    multiprocessing would have started does, and exit with it."""
    sys.stdout.flush()  # else what is buffered is written again by every fork that flushes
    sys.stderr.flush()
    # no stop signal may reach the child before its handlers are the default ones: the wrapper's
    # would unwind it into the wrapper's own clean-up
    mask = signal.pthread_sigmask(signal.SIG_BLOCK, _STOP_SIGNALS)
    try:
        pid = os.fork()
    except BaseException:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        raise
    if pid:
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        return pid
    status = 1
    try:
        _as_new_process(keep)
        signal.pthread_sigmask(signal.SIG_SETMASK, mask)
        exec(compile(code, "<forkserver>", "exec"), {"__name__": "__forkserver__"})  # noqa: S102 - multiprocessing's own code
        status = 0
    except SystemExit as exc:  # the forkserver's end: its last client is gone
        status = exc.code if isinstance(exc.code, int) else 0 if exc.code is None else 1
    except BaseException:  # noqa: BLE001 - a fork must never return into the wrapper
        logging.getLogger(__name__).exception("the forkserver failed")
    finally:
        os._exit(status)


def _as_new_process(keep: Sequence[int]) -> None:
    """Leave, in the forked child, only what a new interpreter running the forkserver has: its
    passed file descriptors and the standard ones, Python's own signal handlers, no logging
    handler, no ``seamless*`` module (pure Dask workers must load none), a free forkserver lock."""
    import multiprocessing.forkserver

    low = 3
    for fd in sorted({fd for fd in keep if fd >= low}):
        os.closerange(low, fd)
        low = fd + 1
    os.closerange(low, os.sysconf("SC_OPEN_MAX"))
    for sig in _STOP_SIGNALS:
        signal.signal(sig, signal.default_int_handler if sig == signal.SIGINT else signal.SIG_DFL)
    logging.root.handlers.clear()
    logging.root.setLevel(logging.WARNING)
    for name in [m for m in sys.modules if m.startswith("seamless")]:
        del sys.modules[name]
    server: Any = getattr(multiprocessing.forkserver, "_forkserver", None)
    if server is not None and hasattr(server, "_lock"):
        server._lock = threading.Lock()
