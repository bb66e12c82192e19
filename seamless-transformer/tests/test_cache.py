"""Results are cached by transformation checksum: in memory, and on disk across processes.
Executions are counted by files the functions write, so cache hits are proven, not assumed."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import textwrap
from pathlib import Path

import seamless_transformer as st
from seamless_transformer import cache


def test_identical_transformation_runs_once(fns, tmp_path):
    log = str(tmp_path)
    first = fns.add(1, 2, log=log)
    assert first.run() == 3
    assert fns.count_runs(tmp_path) == 1
    again = fns.add(1, 2, log=log)  # a new Transformation object, same checksum
    assert again.run() == 3 and again.result == first.result
    assert fns.count_runs(tmp_path) == 1
    assert fns.add(1, 3, log=log).run() == 4
    assert fns.count_runs(tmp_path) == 2


def test_graph_reuses_cached_nodes(fns, tmp_path):
    log = str(tmp_path)
    fns.add(fns.add(1, 1, log=log), fns.add(2, 2, log=log), log=log).run()
    assert fns.count_runs(tmp_path) == 3
    # add(1, 1) is cached and gives 2; the top is then add(2, 4) again: cached too
    fns.add(fns.add(1, 1, log=log), 4, log=log).run()
    assert fns.count_runs(tmp_path) == 3


def test_concurrent_identical_transformations_run_once(fns, tmp_path):
    tfs = [fns.meet("x", str(tmp_path / "meet"), 1) for _ in range(4)]
    (tmp_path / "meet").mkdir()
    for tf in tfs:
        tf.start()
    assert [tf.compute().value for tf in tfs] == [1, 1, 1, 1]
    assert len(os.listdir(tmp_path / "meet")) == 1


def test_memory_cache_clear_forces_recompute(fns, tmp_path):
    fns.add(7, log=str(tmp_path)).run()
    st.clear_memory_cache()
    fns.add(7, log=str(tmp_path)).run()
    assert fns.count_runs(tmp_path) == 2


def test_disk_cache_survives_memory_clear(fns, tmp_path):
    log = tmp_path / "log"
    log.mkdir()
    cache_dir = st.set_cache_dir(tmp_path / "cache")
    assert st.get_cache_dir() == cache_dir
    tf = fns.add(20, 22, log=str(log))
    assert tf.run() == 42
    st.clear_memory_cache()
    assert fns.add(20, 22, log=str(log)).run() == 42
    assert fns.count_runs(log) == 1
    tf_file = cache_dir / "transformations" / tf.checksum.hex()[:2] / tf.checksum.hex()
    assert tf_file.read_text() == tf.result.hex()
    buffer_file = cache_dir / "buffers" / tf.result.hex()[:2] / tf.result.hex()
    assert buffer_file.exists()
    assert stat.S_IMODE(os.stat(cache_dir / "buffers").st_mode) == 0o700
    assert stat.S_IMODE(os.stat(buffer_file).st_mode) & 0o077 == 0


def test_corrupt_disk_buffer_is_recomputed(fns, tmp_path):
    log = tmp_path / "log"
    log.mkdir()
    cache_dir = st.set_cache_dir(tmp_path / "cache")
    tf = fns.add(1, 1, log=str(log))
    tf.run()
    buffer_file = cache_dir / "buffers" / tf.result.hex()[:2] / tf.result.hex()
    buffer_file.write_bytes(b"seamless:plain\n999\n")
    st.clear_memory_cache()
    assert fns.add(1, 1, log=str(log)).run() == 2
    assert fns.count_runs(log) == 2


def test_disk_cache_across_processes_via_env(tmp_path):
    """Two interpreters with the same SEAMLESS_CACHE_DIR: the second gets a cache hit."""
    script = tmp_path / "job.py"
    log = tmp_path / "log"
    log.mkdir()
    script.write_text(textwrap.dedent(
        f"""
        from seamless_transformer import direct, set_execution
        set_execution("process")

        @direct
        def square(x, log):
            import os, uuid
            open(os.path.join(log, uuid.uuid4().hex), "w").close()
            return x * x

        print(square(12, {str(log)!r}))
        """
    ))
    env = dict(os.environ, **{cache.CACHE_DIR_ENV: str(tmp_path / "cache")})
    outputs = [
        subprocess.run(
            [sys.executable, str(script)], env=env, capture_output=True, text=True, check=True
        ).stdout.strip()
        for _ in range(2)
    ]
    assert outputs == ["144", "144"]
    assert len(list(log.iterdir())) == 1
    assert list(Path(tmp_path / "cache" / "transformations").rglob("*"))
