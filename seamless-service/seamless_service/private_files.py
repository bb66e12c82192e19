"""Owner-only directories and files: everything Seamless writes under a home is private.

A login node is shared: other users must not read buffers, results, logs, status files or keys.
Directories are 0700 and files 0600; a directory found readable by others is tightened, with one
log line saying so.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from pathlib import Path
from typing import Iterator

logger = logging.getLogger(__name__)

#: The umask of every process that Seamless launches: new files 0600, new directories 0700.
PRIVATE_UMASK = 0o077
_OPEN_BITS = stat.S_IRWXG | stat.S_IRWXO


def _tighten(path: Path, mode: int) -> bool:
    """chmod ``path`` to drop group/other bits; True if it had some."""
    if not mode & _OPEN_BITS:
        return False
    os.chmod(path, stat.S_IMODE(mode) & ~_OPEN_BITS)
    return True


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create ``path`` (and missing parents) as 0700, or tighten it if others may enter it.

    A directory of another owner (a shared store) is left as it is, with a warning.
    """
    directory = Path(path)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = directory.stat()
    mode = st.st_mode
    if st.st_uid != os.getuid():
        if mode & _OPEN_BITS:
            logger.warning("%s belongs to another user (uid %d): its permissions are left as they are", directory, st.st_uid)
        return directory
    if _tighten(directory, mode):
        logger.info("Made %s private (mode %o -> 700): other users could read it", directory, stat.S_IMODE(mode))
    return directory


def tighten_tree(root: str | os.PathLike[str]) -> int:
    """Drop group/other permissions of ``root`` and everything below it; return how many changed.

    Symbolic links are not followed. One log line reports what was tightened.
    """
    top = Path(root)
    if not top.exists():
        return 0
    changed = 0
    if not top.is_dir():
        if not top.is_symlink() and _tighten(top, top.stat().st_mode):
            logger.info("Made %s private: other users could read it", top)
            return 1
        return 0
    for current, dirs, files in os.walk(top):
        for name in [current, *(os.path.join(current, f) for f in files)]:
            with contextlib.suppress(OSError):
                st = os.lstat(name)
                if not stat.S_ISLNK(st.st_mode) and _tighten(Path(name), st.st_mode):
                    changed += 1
        dirs[:] = [d for d in dirs if not os.path.islink(os.path.join(current, d))]
    if changed:
        logger.info("Made %d file(s) and folder(s) under %s private: other users could read them", changed, top)
    return changed


def write_private(
    path: str | os.PathLike[str], data: bytes | str, *, executable: bool = False, read_only: bool = False
) -> None:
    """Write ``data`` to ``path`` atomically, owner-only (0600; 0700 when ``executable``, 0400 when
    ``read_only``): the one atomic write of Seamless.

    The data goes to a temporary file of its own in the same directory (concurrent writers of
    one path do not meet), which then replaces ``path``; readers see the old or the new content.
    """
    target = Path(path)
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")  # 0600
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data.encode() if isinstance(data, str) else data)
            if executable or read_only:
                os.fchmod(handle.fileno(), 0o700 if executable else 0o400)
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Run the block (e.g. spawning a service) with umask 077."""
    old = os.umask(PRIVATE_UMASK)
    try:
        yield
    finally:
        os.umask(old)
