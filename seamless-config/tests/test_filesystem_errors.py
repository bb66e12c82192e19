"""Unwritable state directories: a clear error naming the path, no raw PermissionError.

Run as a second local user (``setpriv --reuid=65534``: root may write anywhere) whose
``~/.seamless`` belongs to root and is read-only for them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

SCRIPT = """
import seamless_config
from seamless_config.launching import LaunchError
try:
    seamless_config.set_stage(workdir={workdir!r})
except LaunchError as exc:
    print("LaunchError:", exc)
"""


@pytest.fixture
def shared_tmp():
    """A directory the second user can enter (pytest's own are private to root)."""
    path = Path(tempfile.mkdtemp(prefix="seamless-fs-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.mark.skipif(os.geteuid() != 0 or shutil.which("setpriv") is None, reason="needs root and setpriv")
def test_unwritable_seamless_dir_is_a_launch_error_naming_it(shared_tmp):
    tmp_path = shared_tmp
    home = tmp_path / "home"
    (home / ".seamless").mkdir(parents=True)
    os.chown(home, 65534, 65534)
    (home / ".seamless").chmod(0o755)  # root's, not writable by the user
    project = tmp_path / "project"
    project.mkdir()
    (project / "seamless.yaml").write_text("- cluster: local\n- persistent: false\n")
    script = project / "run.py"
    script.write_text(SCRIPT.format(workdir=str(project)))
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", sys.executable, str(script)],
        env=env, capture_output=True, text=True, timeout=120, cwd=str(project),
    )
    assert "Traceback" not in result.stderr, result.stderr
    assert f"LaunchError: Cannot write {home}/.seamless/" in result.stdout, result.stdout + result.stderr
    assert "writable by you" in result.stdout
    assert not (home / ".remote-http-launcher").exists(), "something was launched"
