"""In one process, set_stage() on the same stage relaunches a pure-Dask scheduler that died.

A real seamless-dask-wrapper is launched, killed (SIGKILL, as a crash or an OOM kill would), and
the next set_stage() - same stage, same profile - notices the dead scheduler and launches a new
one whose client computes. Every scheduler is stopped by PID at the end.
"""

from __future__ import annotations

import os
import secrets
import signal
from pathlib import Path

import seamless_config
from seamless_config import launching, lifecycle, pure_daskserver
from seamless_config.tools import configure_pure_daskserver


def test_dead_scheduler_is_relaunched_by_the_same_stage(tmp_path: Path, isolated_home: Path):
    name = f"same{secrets.token_hex(3)}"
    (tmp_path / "seamless.profile.yaml").write_text(
        f"- clusters:\n    {name}: {{type: local, workers: 1}}\n- cluster: {name}\n- persistent: false\n"
    )
    lifecycle.reset()
    config = None
    try:
        first = seamless_config.set_stage(workdir=tmp_path)
        config = configure_pure_daskserver()
        assert first.submit(sum, [1, 2]).result(timeout=60) == 3
        assert seamless_config.set_stage() is first  # alive and unchanged: nothing relaunched
        old_pid = launching.server_state(config)["pid"]
        os.kill(old_pid, signal.SIGKILL)
        assert launching.wait_for_exit(old_pid)
        assert not pure_daskserver.is_healthy()

        second = seamless_config.set_stage()
        assert second is not first and first.status == "closed"
        assert second.submit(sum, [2, 3]).result(timeout=60) == 5
        new_pid = launching.server_state(config)["pid"]
        assert new_pid != old_pid and launching.pid_alive(new_pid)
    finally:
        lifecycle.reset()
        if config is not None:
            launching.stop(config)
