"""The jobserver's /run-transformation against real services: execution, caching, errors."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import requests

from seamless import Buffer, Checksum
from seamless_remote import DatabaseClient, HashserverClient, JobFailedError, JobserverClient
from seamless_transformer.code import function_code
from seamless_transformer.transformation_dict import build_spec

pytestmark = pytest.mark.servers


def whoami(sidefile):
    import os

    with open(sidefile, "a") as f:
        f.write("executed\n")
    return {"pid": os.getpid(), "parent": os.getppid()}


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

    result = client.run_transformation(transformation, checksum, location)
    value = HashserverClient(hashserver.url).get_buffer(result).get_value("mixed")
    assert value["pid"] not in (os.getpid(), jobserver.pid)
    assert value["parent"] == jobserver.pid, "not run by one of the jobserver's own workers"
    assert DatabaseClient(database.url).get_result(checksum) == result

    assert client.run_transformation(transformation, checksum) == result
    assert sidefile.read_text().count("executed") == 1, "a cached transformation was executed again"


def test_error_reaches_the_caller_with_its_traceback(jobserver, storage):
    hashserver, database = storage
    transformation, checksum, location = _job(explode, hashserver.url, depth=3)
    with pytest.raises(JobFailedError) as info:
        JobserverClient(jobserver.url, tls=jobserver.tls).run_transformation(transformation, checksum, location)
    assert "explode() raised ValueError: boom at depth 3" in info.value.message
    assert __file__ in info.value.traceback and 'raise ValueError(f"boom at depth {depth}")' in info.value.traceback
    assert DatabaseClient(database.url).get_result(checksum) is None


def test_missing_buffer_is_refused(jobserver, storage):
    hashserver, _ = storage
    transformation, checksum, _ = _job(explode, hashserver.url, upload=False, depth="never uploaded")
    with pytest.raises(JobFailedError, match="refused the job: buffer [0-9a-f]{64} is on none of the jobserver's hashservers"):
        JobserverClient(jobserver.url, tls=jobserver.tls).run_transformation(transformation, checksum)


def test_checksum_mismatch_is_refused(jobserver, storage):
    hashserver, _ = storage
    transformation, checksum, _ = _job(explode, hashserver.url, depth=1)
    wrong = Checksum.of(b"not this transformation")
    with pytest.raises(JobFailedError, match=f"tf_checksum {wrong.hex()} does not match"):
        JobserverClient(jobserver.url, tls=jobserver.tls).run_transformation(transformation, wrong)


@pytest.mark.parametrize(
    "body, message",
    [
        (b"not json", "Bad request"),
        (b'{"tf_checksum": "00"}', "'transformation_dict'"),
        (b'{"transformation_dict": {"language": "cobol"}}', "expected \\['code', 'inputs', 'language', 'result_celltype'\\]"),
    ],
)
def test_malformed_requests_get_400(jobserver, body, message):
    response = JobserverClient(jobserver.url, tls=jobserver.tls).request("POST", "run-transformation", data=body)
    assert response.status_code == 400
    assert re.search(message, response.json()["message"])
