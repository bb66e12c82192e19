"""execution: remote — dispatch to a registered backend; without one, a clear error.

The backends here are real: they copy the buffers into their own store (as a hashserver would
hold them), run the transformation in a separate thread from the dict alone, and return the
result by Buffer or by Checksum. Only the transport (HTTP / Dask) is absent; those clients
come with seamless-remote / seamless-dask and implement the same `RemoteBackend` protocol.
"""

from __future__ import annotations

import threading

import pytest

import seamless_transformer as st
from seamless import Buffer, Checksum
from seamless_transformer import RemoteBackendMissingError, RemoteJob, TransformationError


class StoreBackend:
    """Runs jobs from its own buffer store; optionally returns only the result checksum and
    publishes the buffer through a store registered with add_store (hashserver-like)."""

    def __init__(self, return_checksum: bool = False):
        self.store: dict[Checksum, Buffer] = {}
        self.submitted: list[Checksum] = []
        self.looked_up: list[bool] = []
        self.return_checksum = return_checksum

    # BufferStore protocol, for the checksum-returning variant
    def get_buffer(self, checksum: Checksum) -> Buffer | None:
        return self.store.get(checksum)

    def put_buffer(self, buffer: Buffer) -> None:
        self.store[buffer.checksum] = buffer

    def submit(self, job: RemoteJob) -> Buffer | Checksum:
        self.submitted.append(job.checksum)
        self.looked_up.append(job.looked_up)
        self.store.update(job.buffers())
        outcome: dict = {}

        def work():
            try:
                outcome["result"] = st.execute_transformation(
                    job.transformation, lambda cs: self.store[cs], job.location
                )
            except TransformationError as exc:
                outcome["error"] = exc

        thread = threading.Thread(target=work)
        thread.start()
        thread.join()
        if "error" in outcome:
            raise outcome["error"]
        result = outcome["result"]
        self.store[result.checksum] = result
        return result.checksum if self.return_checksum else result


@pytest.fixture(autouse=True)
def remote_mode():
    st.set_execution("remote")


def test_without_backend_clear_error_and_nothing_runs(fns, tmp_path):
    tf = fns.add(1, 2, log=str(tmp_path))
    tf.compute()
    assert isinstance(tf.exception, RemoteBackendMissingError)
    message = str(tf.exception)
    assert "no remote backend is active" in message
    assert "persistent" in message and "execution: process" in message
    with pytest.raises(RemoteBackendMissingError):
        fns.add_now(1, 2)
    assert fns.count_runs(tmp_path) == 0  # no silent local fallback


def test_backend_returning_buffer(fns, tmp_path):
    backend = StoreBackend()
    assert st.register_backend(backend) is None and st.get_backend() is backend
    tf = fns.add(fns.add(1, 2, log=str(tmp_path)), 4, log=str(tmp_path))
    assert tf.run() == 7
    assert len(backend.submitted) == 2 and backend.submitted[-1] == tf.checksum
    assert fns.count_runs(tmp_path) == 2
    assert fns.add(3, 4, log=str(tmp_path)).run() == 7  # cache hit: not submitted again
    assert len(backend.submitted) == 2


def test_a_job_says_the_stores_were_asked_before_it(fns, tmp_path):
    """A transformation is submitted only after every result store said it had none: the job says
    so (a jobserver sharing the database need not ask it again); a job built elsewhere does not."""
    backend = StoreBackend()
    st.register_backend(backend)
    assert fns.add(20, 22, log=str(tmp_path)).run() == 42
    assert backend.looked_up == [True]
    assert RemoteJob(Checksum.of(b"x"), {}, lambda cs: Buffer(b"")).looked_up is False


def test_backend_returning_checksum_uses_buffer_stores(fns):
    backend = StoreBackend(return_checksum=True)
    st.register_backend(backend)
    tf = fns.add(5, 6)
    tf.compute()
    assert "not found in any buffer store" in str(tf.exception)  # buffer not published yet
    st.add_store(backend)
    try:
        assert fns.add(5, 6).run() == 11
    finally:
        st.remove_store(backend)


def test_backend_error_surfaces_with_traceback(fns):
    st.register_backend(StoreBackend())
    with pytest.raises(TransformationError, match="ZeroDivisionError") as info:
        fns.divide(1, 0).run()
    assert "quotient = a / b" in info.value.traceback


def test_register_rejects_non_backends():
    with pytest.raises(TypeError, match="submit"):
        st.register_backend(object())


def test_set_execution_validates():
    with pytest.raises(ValueError, match="process, spawn, remote"):
        st.set_execution("cluster")
