"""Launch the services of a stage side by side, and fail as one.

Each service is launched (or reconnected) by :func:`launching.launch` in its own thread, so under
its own per-key lock; the caller waits for all of them. When any fails, the services that this
call started are stopped (those it merely reconnected to stay up: other processes use them), and
the error names every failure, not only the first.

Before the threads start, one SSH master per frontend is opened (:mod:`.ssh_multiplex`), so the
launches share it instead of each opening its own connection.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Callable, Mapping, Sequence

from . import launching

logger = logging.getLogger(__name__)


class ParallelLaunchError(launching.LaunchError):
    """Services of one stage could not be launched; ``failures`` holds ``(what, key, error)``."""

    def __init__(self, failures: list[tuple[str, str, BaseException]], stopped: list[str]):
        self.failures = failures
        self.stopped = stopped
        lines = [f"{len(failures)} service(s) could not be started:"]
        lines += [f"- the {what} '{key}': {error}" for what, key, error in failures]
        if stopped:
            lines.append("Stopped what this launch had started: " + ", ".join(stopped))
        super().__init__("\n".join(lines))


def _open_masters(configs: Sequence[Mapping[str, Any]]) -> None:
    hosts = {host for host in map(launching.ssh_host, configs) if host is not None}
    if not hosts:
        return
    from .ssh_multiplex import start_master, wait_for_master

    # maybe begun already by set_stage(); a failure shows up in the launches themselves
    for host in sorted(hosts):
        start_master(host)  # each in a thread of its own: together
    for host in sorted(hosts):
        wait_for_master(host)


def launch_all(
    launches: Sequence[tuple[Mapping[str, Any], str]], *, meanwhile: Callable[[], Any] | None = None,
    then: Sequence[Callable[[dict[str, Any]], Any] | None] | None = None,
) -> list[dict[str, Any]]:
    """Launch (or reconnect to) each ``(launch dict, what)`` concurrently; return their payloads
    in the same order. Raises the one error when one launch fails, a :class:`ParallelLaunchError`
    naming each when several do; either way nothing this call started is left running.

    ``meanwhile`` runs in the calling thread while the services start (e.g. importing the client
    library that connects to them), from when each launch has started its service (or finished):
    before, it would hold the GIL the launch steps need. Its own error is raised after the
    launches, as theirs are. ``then[i]`` (optional, e.g. connecting a client) is called with the
    payload of launch ``i`` in that launch's thread, while slower launches go on; its error is that
    launch's failure.
    """
    follow_ups = list(then) if then is not None else [None] * len(launches)
    if len(follow_ups) != len(launches):
        raise ValueError(f"then: {len(follow_ups)} callables for {len(launches)} launches")
    if len(launches) <= 1 and meanwhile is None and then is None:
        return [launching.launch(config, what=what) for config, what in launches]
    launching.ensure_user_messages()
    configs = [config for config, _ in launches]
    started: list[int] = []
    lock = threading.Lock()

    waiting = [threading.Event() for _ in launches]
    launched_then_failed: set[int] = set()

    def one(index: int) -> dict[str, Any]:
        config, what = launches[index]

        def on_start() -> None:
            with lock:
                started.append(index)

        try:
            payload = launching.launch(config, what=what, on_start=on_start, while_starting=waiting[index].set)
        finally:
            waiting[index].set()
        follow_up = follow_ups[index]
        if follow_up is not None:
            try:
                follow_up(payload)
            except BaseException:
                with lock:
                    launched_then_failed.add(index)
                raise
        return payload

    remote = [config for config in configs if launching.ssh_host(config) is not None]
    from seamless_service.private_files import private_umask

    # held here for the whole time: the umask is per process, so each launch's own private_umask()
    # then finds 077 and restores 077, whatever the order in which the threads finish
    shared_ssh = launching.ssh_connection(remote[0]) if remote else contextlib.nullcontext()
    with launching.interpreter_tools_on_path(), shared_ssh, private_umask():
        _open_masters(configs)
        with ThreadPoolExecutor(max_workers=len(launches), thread_name_prefix="launch") as pool:
            futures = [pool.submit(one, i) for i in range(len(launches))]
            meanwhile_error: BaseException | None = None
            if meanwhile is not None:
                for event in waiting:
                    event.wait()
                try:
                    meanwhile()
                except BaseException as exc:  # raised once the launches are done (or failed)
                    meanwhile_error = exc
            outcomes = [(future.result() if future.exception() is None else future.exception()) for future in futures]
        failures = [(i, o) for i, o in enumerate(outcomes) if isinstance(o, BaseException)]
        if not failures:
            if meanwhile_error is not None:
                raise meanwhile_error
            return outcomes  # type: ignore[return-value]
        stopped = []
        for index in started:
            if isinstance(outcomes[index], BaseException) and index not in launched_then_failed:
                continue  # a failed launch already stopped what it half launched
            config, what = launches[index]
            with contextlib.suppress(Exception):
                launching.stop(config)
                stopped.append(f"the {what} '{config['key']}'")
    if stopped:
        logger.info("Stopped what this launch had started: %s", ", ".join(stopped))
    if len(failures) == 1:
        raise failures[0][1]
    raise ParallelLaunchError(
        [(launches[i][1], launches[i][0]["key"], error) for i, error in failures], stopped
    ) from failures[0][1]

