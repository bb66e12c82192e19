"""The jobserver's /run-transformation against real services: execution, caching, errors."""

from __future__ import annotations

import os
import re
import socket
import time
from pathlib import Path

import pytest
import requests

from seamless import Buffer, Checksum
from seamless_remote import DatabaseClient, HashserverClient, JobFailedError, JobserverClient
from seamless_service.tls import client_context
from seamless_transformer.code import function_code
from seamless_transformer.transformation_dict import build_spec

pytestmark = pytest.mark.servers


def whoami(sidefile):
    import os

    with open(sidefile, "a") as f:
        f.write("executed\n")
    return {"pid": os.getpid(), "parent": os.getppid()}


def slowly(sidefile, seconds):
    import time

    with open(sidefile, "a") as f:
        f.write("executed\n")
    time.sleep(seconds)
    return seconds


def explode(depth):
    raise ValueError(f"boom at depth {depth}")


def _job(func, hashserver_url: str, upload: bool = True, **inputs):
    """The transformation dict of func(**inputs), with its buffers uploaded to the hashserver."""
    code = function_code(func)
    buffers = {code.checksum: code.buffer}
    input_checksums = {}
    for name, value in inputs.items():
        buffer = Buffer.from_value(value, "mixed")
        buffers[buffer.checksum] = buffer
        input_checksums[name] = buffer.checksum
    spec = build_spec(code.checksum, input_checksums)
    if upload:
        HashserverClient(hashserver_url).upload_missing(buffers)
    return spec.to_dict(), spec.buffer().checksum, (code.location.filename, code.location.lineno)


def stored(get, timeout: float = 60.0):
    """``get()`` once it is not None: the jobserver answers before its background writes end."""
    deadline = time.monotonic() + timeout
    while (value := get()) is None and time.monotonic() < deadline:
        time.sleep(0.05)
    return value


def test_healthcheck_and_welcome(jobserver):
    client = JobserverClient(jobserver.url, tls=jobserver.tls)
    assert client.healthcheck()
    assert "Seamless jobserver: 2 worker(s)" in client.request("GET", "/").text
    assert jobserver.url.startswith("https://")
    with pytest.raises(requests.exceptions.ConnectionError):  # no client certificate: no answer (SSLError is one)
        requests.get(jobserver.url, verify=False)


def test_runs_on_a_worker_and_persists_the_result(jobserver, storage, tmp_path: Path):
    hashserver, database = storage
    sidefile = tmp_path / "side.txt"
    transformation, checksum, location = _job(whoami, hashserver.url, sidefile=str(sidefile))
    client = JobserverClient(jobserver.url, tls=jobserver.tls)

    computed = client.run(transformation, checksum, location)
    assert isinstance(computed, Buffer), "a computed result comes back with the answer"
    result = computed.checksum
    assert stored(lambda: DatabaseClient(database.url).get_result(checksum)) == result
    value = HashserverClient(hashserver.url).get_buffer(result).get_value("mixed")  # stored before the entry
    assert value == computed.get_value("mixed")
    assert value["pid"] not in (os.getpid(), jobserver.pid)
    assert value["parent"] == jobserver.pid, "not run by one of the jobserver's own workers"

    assert client.run(transformation, checksum) == result  # cached: its checksum
    assert sidefile.read_text().count("executed") == 1, "a cached transformation was executed again"


def test_a_client_that_looked_up_itself_is_not_looked_up_again(jobserver, storage, tmp_path: Path):
    """``lookup=False``: the client found no result in the database just before, so the jobserver
    runs the transformation without asking the database. Shown with a result planted in the
    database: a default request is answered with it (nothing runs), a ``lookup=False`` one runs."""
    hashserver, database = storage
    sidefile = tmp_path / "side.txt"
    transformation, checksum, location = _job(whoami, hashserver.url, sidefile=str(sidefile))
    planted = Buffer.from_value({"planted": True}, "mixed")
    HashserverClient(hashserver.url).put_buffer(planted)
    DatabaseClient(database.url).put_result(checksum, planted.checksum)
    client = JobserverClient(jobserver.url, tls=jobserver.tls)

    assert client.run(transformation, checksum, location) == planted.checksum
    assert not sidefile.exists(), "a stored result was computed again"
    computed = client.run(transformation, checksum, location, lookup=False)
    assert isinstance(computed, Buffer) and computed.get_value("mixed")["parent"] == jobserver.pid
    assert sidefile.read_text().count("executed") == 1


def test_the_backend_skips_the_jobservers_lookup_only_for_its_own_database(jobserver, storage, tmp_path: Path):
    """`JobserverBackend` says ``lookup: false`` only when the caller looked the job up
    (``RemoteJob.looked_up``) in a set of stores that holds the jobserver's database; else the
    jobserver looks it up (here: a planted result answers, nothing runs)."""
    import seamless_transformer as st
    from seamless_remote.jobserver_backend import JobserverBackend
    from seamless_transformer import RemoteJob

    hashserver, database = storage
    sidefile = tmp_path / "side.txt"
    transformation, checksum, location = _job(whoami, hashserver.url, sidefile=str(sidefile))
    planted = Buffer.from_value({"planted": True}, "mixed")
    hs, db = HashserverClient(hashserver.url), DatabaseClient(database.url)
    hs.put_buffer(planted)
    db.put_result(checksum, planted.checksum)
    backend = JobserverBackend(JobserverClient(jobserver.url, tls=jobserver.tls), hs, db)
    job = RemoteJob(checksum, transformation, lambda cs: hs.get_buffer(cs), looked_up=True)

    assert backend.submit(job) == planted.checksum  # its database is no store here: looked up there
    assert not sidefile.exists()
    st.add_store(db)
    try:
        assert st.has_store(db)
        computed = backend.submit(job)
    finally:
        st.remove_store(db)
    assert not st.has_store(db)
    assert isinstance(computed, Buffer) and computed.get_value("mixed")["parent"] == jobserver.pid
    assert sidefile.read_text().count("executed") == 1


def test_concurrent_requests_for_one_transformation_run_it_once(jobserver, storage, tmp_path: Path):
    """Requests for a transformation that is running wait for it (the jobserver has 2 workers,
    which could run it twice): one execution, one stored result, the same answer for all."""
    from concurrent.futures import ThreadPoolExecutor

    hashserver, database = storage
    sidefile = tmp_path / "side.txt"
    transformation, checksum, location = _job(slowly, hashserver.url, sidefile=str(sidefile), seconds=1.5)

    def ask(_):
        return JobserverClient(jobserver.url, tls=jobserver.tls).run(transformation, checksum, location, lookup=False)

    with ThreadPoolExecutor(3) as pool:
        answers = list(pool.map(ask, range(3)))
    assert sidefile.read_text().count("executed") == 1
    assert all(isinstance(a, Buffer) and a.get_value("mixed") == 1.5 for a in answers)
    assert stored(lambda: DatabaseClient(database.url).get_result(checksum)) == answers[0].checksum


def test_error_reaches_the_caller_with_its_traceback(jobserver, storage):
    hashserver, database = storage
    transformation, checksum, location = _job(explode, hashserver.url, depth=3)
    with pytest.raises(JobFailedError) as info:
        JobserverClient(jobserver.url, tls=jobserver.tls).run(transformation, checksum, location)
    assert "explode() raised ValueError: boom at depth 3" in info.value.message
    assert __file__ in info.value.traceback and 'raise ValueError(f"boom at depth {depth}")' in info.value.traceback
    assert DatabaseClient(database.url).get_result(checksum) is None


def test_buffers_travel_with_the_request_and_the_result_comes_back(jobserver, storage, tmp_path: Path):
    hashserver, database = storage
    sidefile = tmp_path / "side.txt"
    code = function_code(whoami)
    argument = Buffer.from_value(str(sidefile), "mixed")
    spec = build_spec(code.checksum, {"sidefile": argument.checksum})
    checksum = spec.buffer().checksum
    client = JobserverClient(jobserver.url, tls=jobserver.tls)

    result = client.run(spec.to_dict(), checksum, buffers={code.checksum: code.buffer, argument.checksum: argument})
    assert isinstance(result, Buffer), "the computed result was not sent back"
    assert result.get_value("mixed")["parent"] == jobserver.pid
    # the jobserver stores what it was sent and the result, in the background, the buffers first
    assert stored(lambda: DatabaseClient(database.url).get_result(checksum)) == result.checksum
    assert HashserverClient(hashserver.url).has([code.checksum, argument.checksum, result.checksum]) == [True] * 3
    # asked again, the result is cached: its checksum, the buffer being on the hashserver
    assert client.run(spec.to_dict(), checksum) == result.checksum
    assert sidefile.read_text().count("executed") == 1


def test_a_buffer_that_does_not_match_its_checksum_is_refused(jobserver):
    code = function_code(explode)
    argument = Buffer.from_value(1, "mixed")
    spec = build_spec(code.checksum, {"depth": argument.checksum})
    with pytest.raises(JobFailedError, match=f"refused the job: .*buffer {argument.checksum.hex()} was sent with bytes whose checksum"):
        JobserverClient(jobserver.url, tls=jobserver.tls).run(
            spec.to_dict(), spec.buffer().checksum,
            buffers={code.checksum: code.buffer, argument.checksum: Buffer.from_value(2, "mixed")},
        )


def test_missing_buffer_is_refused(jobserver, storage):
    hashserver, _ = storage
    transformation, checksum, _ = _job(explode, hashserver.url, upload=False, depth="never uploaded")
    with pytest.raises(JobFailedError, match="refused the job: buffer [0-9a-f]{64} is on none of the jobserver's hashservers"):
        JobserverClient(jobserver.url, tls=jobserver.tls).run(transformation, checksum)


def test_checksum_mismatch_is_refused(jobserver, storage):
    hashserver, _ = storage
    transformation, checksum, _ = _job(explode, hashserver.url, depth=1)
    wrong = Checksum.of(b"not this transformation")
    with pytest.raises(JobFailedError, match=f"tf_checksum {wrong.hex()} does not match"):
        JobserverClient(jobserver.url, tls=jobserver.tls).run(transformation, wrong)


@pytest.mark.parametrize(
    "body, message",
    [
        (b"not json", "Bad request"),
        (b'{"tf_checksum": "00"}', "'transformation_dict'"),
        (b'{"transformation_dict": {"language": "cobol"}}', "expected \\['code', 'inputs', 'language', 'result_celltype'\\]"),
        (b'{"transformation_dict": {}, "lookup": "no"}', "'lookup' must be true or false, not 'no'"),
    ],
)
def test_malformed_requests_get_400(jobserver, body, message):
    response = JobserverClient(jobserver.url, tls=jobserver.tls).request("POST", "run-transformation", data=body)
    assert response.status_code == 400
    assert re.search(message, response.json()["message"])


def _peak_rss_kb(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line.split()[1] for line in status.splitlines() if line.startswith("VmHWM:")))


def test_oversized_body_gets_413_before_it_is_read(jobserver):
    """A request announcing 500 MB gets 413 after only 1 MB of it was sent: the server neither
    waits for nor stores the body (its peak memory stays far below the announced size)."""
    host, port = jobserver.url.rsplit("/", 1)[-1].split(":")
    head = (
        f"POST /run-transformation HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {500 * 1024**2}\r\n\r\n"
    ).encode()
    creds, role = jobserver.tls
    context = client_context(creds, role)
    with socket.create_connection((host, int(port)), timeout=60) as raw, context.wrap_socket(raw) as sock:
        sock.sendall(head + b"[" * 1024**2)
        answer = b""
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert _peak_rss_kb(jobserver.pid) < 300 * 1024
    assert JobserverClient(jobserver.url, tls=jobserver.tls).healthcheck()


def test_too_deep_json_gets_400(jobserver):
    body = b"[" * 200_000 + b"]" * 200_000
    response = JobserverClient(jobserver.url, tls=jobserver.tls).request("POST", "run-transformation", data=body)
    assert response.status_code == 400
    assert "nested too deeply" in response.json()["message"]


def test_a_result_it_cannot_store_is_reported_at_the_next_request(tmp_path: Path):
    """The jobserver answers before storing; when its hashserver is gone, the failed store is
    answered 502 (naming the transformation) at a following request, and logged."""
    from seamless_remote.testing import start_database, start_hashserver, start_jobserver

    hashserver = start_hashserver(tmp_path / "buffers", ports=(62500, 62599))
    database = start_database(tmp_path / "database", ports=(62600, 62699))
    jobserver = start_jobserver(tmp_path / "jobserver", hashserver.url, database.url, workers=1, ports=(62700, 62799))
    try:
        client = JobserverClient(jobserver.url, tls=jobserver.tls)
        code = function_code(whoami)

        def job(i: int):
            argument = Buffer.from_value(str(tmp_path / f"side{i}.txt"), "mixed")
            spec = build_spec(code.checksum, {"sidefile": argument.checksum})
            return spec.to_dict(), spec.buffer().checksum, {code.checksum: code.buffer, argument.checksum: argument}

        transformation, checksum, buffers = job(0)
        assert isinstance(client.run(transformation, checksum, buffers=buffers), Buffer)
        assert stored(lambda: DatabaseClient(database.url).get_result(checksum)) is not None
        hashserver.stop()  # the stock hashserver exits by its SIGTERM

        transformation, lost, buffers = job(1)
        assert isinstance(client.run(transformation, lost, buffers=buffers), Buffer)  # answered, then not stored
        deadline = time.monotonic() + 60
        error = None
        for i in range(2, 10_000):
            try:
                client.run(*job(i)[:2], buffers=job(i)[2])
            except JobFailedError as exc:
                error = exc.message
                break
            assert time.monotonic() < deadline, "no failed store was reported"
        assert error is not None and "could not use its storage" in error
        assert f"Storing the result of transformation {lost.hex()} failed" in error
        assert DatabaseClient(database.url).get_result(lost) is None, "the entry was written without its buffer"
        assert f"Storing the result of transformation {lost.hex()} failed" in jobserver.log.read_text()
    finally:
        jobserver.stop()
        database.stop()
        hashserver.stop()
