"""The service side of the status-file protocol: the StatusFile class (the wrapper's use of it:
seamless-dask/tests/test_status_file.py)."""

from __future__ import annotations

import json
import threading
import time

import pytest

from seamless_service.status_file import StatusFile, StatusFileError


def test_waits_for_the_file_then_keeps_the_launchers_keys(tmp_path):
    path = tmp_path / "s.json"
    status = StatusFile(path)
    original = {"status": "starting", "parameters": {"cores": 1}, "workdir": "/w", "pid": 1}
    timer = threading.Timer(0.3, lambda: path.write_text(json.dumps(original)))
    timer.start()
    assert status.wait_and_read(5) == original
    status.write_running(41001, dashboard_port=41002)
    written = json.loads(path.read_text())
    since = written.pop("running_since")
    assert written == {**original, "status": "running", "port": 41001, "dashboard_port": 41002}
    assert abs(since - time.time()) < 3600  # epoch seconds
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    assert [p.name for p in tmp_path.iterdir()] == ["s.json"]  # no temporary file left
    status.finish()
    assert not path.exists()


def test_failure_reason_is_one_line(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"status": "starting", "parameters": {}}))
    status = StatusFile(path)
    status.write_failed("first line\n  second line")
    assert json.loads(path.read_text())["reason"] == "first line second line"
    assert json.loads(path.read_text())["status"] == "failed"


def test_exit_before_running_marks_failed(tmp_path):
    path = tmp_path / "s.json"
    path.write_text(json.dumps({"status": "starting"}))
    StatusFile(path).finish()
    assert json.loads(path.read_text())["status"] == "failed"


def test_missing_and_bad_files(tmp_path):
    with pytest.raises(StatusFileError, match="did not appear within 0.3 s"):
        StatusFile(tmp_path / "none.json").wait_and_read(0.3)
    (tmp_path / "list.json").write_text("[1]")
    with pytest.raises(StatusFileError, match="must hold a JSON object"):
        StatusFile(tmp_path / "list.json").wait_and_read(0.3)
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(StatusFileError, match="not valid JSON"):
        StatusFile(tmp_path / "bad.json").wait_and_read(0.3)



def test_a_server_record_is_recognised_through_a_symlinked_home(tmp_path, monkeypatch):
    """The launcher names the status file under the real home, HOME is a link to it (or the
    reverse): the service still records itself under its key."""
    real_home = tmp_path / "real-home"
    (real_home / ".remote-http-launcher" / "server").mkdir(parents=True)
    link = tmp_path / "home-link"
    link.symlink_to(real_home)
    monkeypatch.setenv("HOME", str(link))
    monkeypatch.delenv("REMOTE_HTTP_LAUNCHER_DIR", raising=False)
    path = real_home / ".remote-http-launcher" / "server" / "svc-key.json"
    path.write_text(json.dumps({"status": "starting", "pid": 1}))
    status = StatusFile(path)
    status.wait_and_read(5)
    status.write_running(41001)
    record = real_home / ".seamless" / "services" / "svc-key.json"
    assert json.loads(record.read_text())["key"] == "svc-key"
    status.finish()
