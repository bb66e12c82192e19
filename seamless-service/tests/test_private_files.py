"""Owner-only directories and files, and the tightening of what others could read."""

from __future__ import annotations

import logging
import os
import stat

from seamless_service.private_files import private_dir, private_umask, tighten_tree, write_private


def _mode(path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def test_private_dir_creates_and_tightens(tmp_path, caplog):
    new = private_dir(tmp_path / "a" / "b")
    assert _mode(new) == 0o700
    existing = tmp_path / "open"
    existing.mkdir(mode=0o755)
    os.chmod(existing, 0o755)
    with caplog.at_level(logging.INFO):
        private_dir(existing)
    assert _mode(existing) == 0o700
    assert "Made" in caplog.text and "private" in caplog.text


def test_tighten_tree_leaves_links_alone(tmp_path):
    root = tmp_path / "state"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "log").write_text("x")
    os.chmod(root / "sub" / "log", 0o644)
    os.chmod(root / "sub", 0o755)
    outside = tmp_path / "outside"
    outside.write_text("y")
    os.chmod(outside, 0o644)
    (root / "link").symlink_to(outside)
    assert tighten_tree(root) >= 2
    assert _mode(root / "sub") == 0o700 and _mode(root / "sub" / "log") == 0o600
    assert _mode(outside) == 0o644, "a symbolic link must not be followed"
    single = tmp_path / "single"
    single.write_text("z")
    os.chmod(single, 0o664)
    assert tighten_tree(single) == 1 and _mode(single) == 0o600


def test_write_private_and_umask(tmp_path):
    target = tmp_path / "f.json"
    write_private(target, "{}")
    assert _mode(target) == 0o600 and target.read_text() == "{}"
    script = tmp_path / "run"
    write_private(script, "#!/bin/sh\n", executable=True)
    assert _mode(script) == 0o700 and script.read_text() == "#!/bin/sh\n"
    with private_umask():
        (tmp_path / "new").write_text("n")
        (tmp_path / "newdir").mkdir()
    assert _mode(tmp_path / "new") == 0o600 and _mode(tmp_path / "newdir") == 0o700
