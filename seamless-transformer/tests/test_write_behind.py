"""Results reach the added stores in the background: visible at once, ordered, flushed, failures raised.

The stores are real `DirectoryStore`s; one holds its writes until the test opens a gate, so the
moment between "result returned" and "result stored" can be observed without timing anything.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
import threading

import pytest

import seamless_transformer as st
from seamless_transformer import StoreError
from seamless_transformer.stores import DirectoryStore
from seamless_transformer.write_behind import get_write_behind


class GatedStore(DirectoryStore):
    """A directory store whose writes wait for ``gate`` and are logged in ``calls``, in order."""

    def __init__(self, directory):
        super().__init__(directory)
        self.gate = threading.Event()
        self.calls: list[str] = []

    def put_buffer(self, buffer):
        self.gate.wait(60)
        self.calls.append("buffer")
        super().put_buffer(buffer)

    def put_result(self, tf_checksum, result_checksum):
        self.gate.wait(60)
        self.calls.append("result")
        super().put_result(tf_checksum, result_checksum)


@pytest.fixture
def added(tmp_path):
    stores = []

    def add(store):
        st.add_store(store)
        stores.append(store)
        return store

    yield add
    for store in stores:
        if isinstance(store, GatedStore):
            store.gate.set()
    try:
        st.flush(timeout=60)
    except StoreError:
        pass
    for store in stores:
        st.remove_store(store)


def test_result_is_returned_before_it_is_stored_and_seen_while_pending(fns, tmp_path, added):
    store = added(GatedStore(tmp_path / "store"))
    log = tmp_path / "log"
    log.mkdir()
    tf = fns.add(40, 2, log=str(log))
    assert tf.run() == 42  # returned while the store still waits at its gate
    assert store.get_result(tf.checksum) is None
    assert get_write_behind().pending.get_result(tf.checksum) == tf.result

    st.clear_memory_cache()  # not in memory any more, not in the store yet: the pending store has it
    assert fns.add(40, 2, log=str(log)).run() == 42
    assert fns.count_runs(log) == 1, "recomputed although its result was being stored"

    store.gate.set()
    st.flush()
    assert store.get_result(tf.checksum) == tf.result
    assert store.get_buffer(tf.result).get_value("mixed") == 42
    assert get_write_behind().pending.get_result(tf.checksum) is None
    assert store.calls == ["buffer", "result"], "the result entry was written before its buffer"


def test_failed_store_is_raised_at_the_next_call(fns, tmp_path, added):
    store = added(DirectoryStore(tmp_path / "store"))
    shutil.rmtree(store.directory / "buffers")
    (store.directory / "buffers").write_text("a file where the buffer directory should be")

    tf = fns.add(1, 2)
    assert tf.run() == 3  # the result itself is fine
    get_write_behind().drain()
    with pytest.raises(StoreError, match=f"Storing the result of transformation {tf.checksum.hex()} failed") as info:
        fns.add(5, 6).run()
    assert "NotADirectoryError" in str(info.value) and len(info.value.failures) == 1
    assert store.get_result(tf.checksum) is None, "the result entry was written although its buffer was not"
    st.flush()  # each failure is raised once
    assert fns.add(5, 6).run() == 11  # computed now, and its store fails too
    with pytest.raises(StoreError, match="NotADirectoryError"):
        st.flush()


def test_process_exit_waits_for_the_stores_and_reports_a_failure(tmp_path):
    script = tmp_path / "script.py"
    script.write_text(textwrap.dedent(f"""
        import shutil, sys
        import seamless_transformer as st
        from seamless_transformer.stores import DirectoryStore
        st.set_execution("process")
        good = DirectoryStore({str(tmp_path / "good")!r})
        st.add_store(good)
        if sys.argv[1] == "fail":
            bad = DirectoryStore({str(tmp_path / "bad")!r})
            shutil.rmtree(bad.directory / "buffers")
            (bad.directory / "buffers").write_text("not a directory")
            st.add_store(bad)

        @st.delayed
        def square(x):
            return x * x

        first = 0 if sys.argv[1] == "ok" else 100  # new work each time
        for i in range(first, first + (20 if sys.argv[1] == "ok" else 1)):
            assert square(i).run() == i * i  # the process ends right after the last one
    """))
    env = {**os.environ, "SEAMLESS_CACHE_DIR": ""}
    ok = subprocess.run([sys.executable, str(script), "ok"], capture_output=True, text=True, env=env, timeout=120)
    assert ok.returncode == 0, ok.stderr
    assert "Storing" not in ok.stderr
    stored = list((tmp_path / "good" / "transformations").rglob("*"))
    assert len([p for p in stored if p.is_file()]) == 20, "the process exited before its results were stored"

    failed = subprocess.run([sys.executable, str(script), "fail"], capture_output=True, text=True, env=env, timeout=120)
    # raised by the exit handler (Python prints it; the exit status of a finished script stays 0)
    assert "StoreError: Storing the result of transformation" in failed.stderr, failed.stderr
    assert "NotADirectoryError" in failed.stderr


def test_a_forked_child_does_not_wait_for_its_parents_writes(fns, tmp_path, added):
    store = added(GatedStore(tmp_path / "store"))
    tf = fns.add(8, 9)
    assert tf.run() == 17  # its write waits at the gate
    pid = os.fork()
    if pid == 0:  # the child: nothing of its own to store, so flush() returns; exit code 0
        try:
            st.flush(timeout=30)
            # the parent's pending entries are not the child's (their writes never end here)
            code = 0 if get_write_behind().pending.get_result(tf.checksum) is None else 2
        except BaseException:
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    assert os.waitstatus_to_exitcode(status) == 0, "the child waited for (or failed on) its parent's write"
    assert get_write_behind().pending.get_result(tf.checksum) == tf.result
    store.gate.set()
    st.flush()
    assert store.get_result(tf.checksum) == tf.result
